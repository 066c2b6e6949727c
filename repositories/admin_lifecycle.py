"""Admin pages for lifecycle models (registered by the issue that adds them)."""
