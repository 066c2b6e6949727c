"""Admin pages for storage models (registered by the issue that adds them)."""
