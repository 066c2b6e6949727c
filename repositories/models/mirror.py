"""Models for repository mirroring (filled in by the mirroring issue)."""

__all__: list[str] = []
