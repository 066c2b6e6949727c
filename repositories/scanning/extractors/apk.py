"""Alpine's installed database (``/lib/apk/db/installed``): ``X:value`` lines, a blank line
between packages (apk's "installed database" format)."""

from __future__ import annotations


def parse(data: bytes) -> list[dict[str, str]]:
    """Packages with ``name`` (P), ``version`` (V), ``source_name`` (o, the origin), ``license``
    (L) and ``arch`` (A)."""
    records: list[dict[str, str]] = []
    current: dict[str, str] = {}

    def flush() -> None:
        if current.get("P") and current.get("V"):
            records.append({
                "name": current["P"], "version": current["V"], "source_name": current.get("o", current["P"]),
                "license": current.get("L", ""), "arch": current.get("A", ""),
            })

    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            flush()
            current = {}
            continue
        if len(line) >= 2 and line[1] == ":" and line[0] not in current:
            current[line[0]] = line[2:].strip()
    flush()
    return records
