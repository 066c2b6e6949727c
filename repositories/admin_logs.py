"""Admin pages for logs models (registered by the issue that adds them)."""
