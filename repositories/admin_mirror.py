"""Admin pages for mirror models (registered by the issue that adds them)."""
