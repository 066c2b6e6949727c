"""Admin pages for notifications models (registered by the issue that adds them)."""
