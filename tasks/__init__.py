"""Celery tasks: thin wrappers over service functions, by name ``registry.<domain>.<verb>``."""
