"""Models for logs (filled in by the issue that needs them)."""

__all__: list[str] = []
