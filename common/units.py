"""Human-readable figures for pages and command output."""


def size_text(size: int) -> str:
    """Bytes in binary units: ``512`` -> ``512 B``, ``1536`` -> ``1.5 KiB``."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"
