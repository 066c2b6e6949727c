"""Models for the admin console (filled in by the admin issue if it needs any)."""

__all__: list[str] = []
