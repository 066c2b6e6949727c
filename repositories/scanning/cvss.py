"""Severity of a vulnerability: CVSS v3.0/v3.1 base scores and each ecosystem's own rating, in
Quay's severity names.

The base score follows the CVSS v3.1 specification (section 7): the Impact Sub-Score, Impact and
Exploitability formulas with the metric weights of section 7.4, and its ``Roundup`` (the v3.1
version, which rounds on integers to avoid floating-point surprises; v3.0 vectors use the plain
``ceil(x * 10) / 10`` of the v3.0 document). The qualitative rating (section 5) maps onto Quay's
names: None → Negligible, Low, Medium, High, Critical.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Quay's severity names, most severe first
SEVERITIES = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")
SEVERITY_RANK = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}  # Critical 6 ... Unknown 1

_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
# Privileges Required weighs more when the scope changes
_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_BASE_METRICS = ("AV", "AC", "PR", "UI", "S", "C", "I", "A")


class CvssError(ValueError):
    """A vector that is not a valid CVSS v3.0/v3.1 base vector."""


@dataclass(frozen=True)
class CvssScore:
    version: str  # "3.0" or "3.1"
    vector: str
    base_score: float
    severity: str  # Quay's name


def _roundup_31(value: float) -> float:
    # CVSS v3.1 Appendix A: round up to one decimal, working on integers
    as_int = round(value * 100000)
    if as_int % 10000 == 0:
        return as_int / 100000.0
    return (math.floor(as_int / 10000) + 1) / 10.0


def _roundup_30(value: float) -> float:
    return math.ceil(value * 10) / 10


def parse_vector(vector: str) -> tuple[str, dict[str, str]]:
    """Split ``CVSS:3.1/AV:N/...`` into its version and metrics.

    Raises:
        CvssError: not a CVSS v3 vector, a metric repeated, unknown or missing, or a bad value.
    """
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:"):
        raise CvssError(f"not a CVSS v3 vector (no CVSS:3.x prefix): {vector!r}")
    version = parts[0][5:]
    if version not in ("3.0", "3.1"):
        raise CvssError(f"unsupported CVSS version {version!r} (3.0 and 3.1 are scored)")
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if not sep or not value:
            raise CvssError(f"malformed metric {part!r} in {vector!r}")
        if key in metrics:
            raise CvssError(f"metric {key} given twice in {vector!r}")
        metrics[key] = value
    missing = [m for m in _BASE_METRICS if m not in metrics]
    if missing:
        raise CvssError(f"base metric(s) {', '.join(missing)} missing in {vector!r}")
    if metrics["S"] not in ("U", "C"):
        raise CvssError(f"bad Scope value {metrics['S']!r} in {vector!r}")
    for key, table in (*_WEIGHTS.items(), ("PR", _PR["U"])):
        if metrics[key] not in table:
            raise CvssError(f"bad {key} value {metrics[key]!r} in {vector!r}")
    return version, metrics


def base_score(vector: str) -> float:
    """The CVSS v3.0/v3.1 base score of ``vector`` (0.0 to 10.0).

    Raises:
        CvssError: the vector is not a valid v3 base vector.
    """
    version, m = parse_vector(vector)
    roundup = _roundup_31 if version == "3.1" else _roundup_30
    changed = m["S"] == "C"
    iss = 1 - (1 - _WEIGHTS["C"][m["C"]]) * (1 - _WEIGHTS["I"][m["I"]]) * (1 - _WEIGHTS["A"][m["A"]])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * _WEIGHTS["AV"][m["AV"]] * _WEIGHTS["AC"][m["AC"]] * _PR[m["S"]][m["PR"]] * _WEIGHTS["UI"][m["UI"]]
    if impact <= 0:
        return 0.0
    if changed:
        return roundup(min(1.08 * (impact + exploitability), 10))
    return roundup(min(impact + exploitability, 10))


def severity_from_score(score: float) -> str:
    """CVSS v3 qualitative rating (section 5) in Quay's names."""
    if score >= 9.0:
        return "Critical"
    if score >= 7.0:
        return "High"
    if score >= 4.0:
        return "Medium"
    if score >= 0.1:
        return "Low"
    return "Negligible"


def score(vector: str) -> CvssScore:
    """Base score and severity of a v3 vector.

    Raises:
        CvssError: the vector is not a valid v3 base vector.
    """
    version, _ = parse_vector(vector)
    value = base_score(vector)
    return CvssScore(version=version, vector=vector.strip(), base_score=value, severity=severity_from_score(value))


# Ratings of the ecosystems' own: GHSA (database_specific.severity), Ubuntu priorities, Debian
# urgencies, Red Hat/Rocky/Alma advisory severities. Lower-cased keys.
_OWN_RATINGS = {
    "critical": "Critical",
    "important": "High",
    "high": "High",
    "moderate": "Medium",
    "medium": "Medium",
    "low": "Low",
    "negligible": "Negligible",
    "unimportant": "Negligible",
    "none": "Negligible",
    "untriaged": "Unknown",
    "not yet assigned": "Unknown",
    "unknown": "Unknown",
}


def severity_from_rating(rating: str) -> str:
    """An ecosystem's own rating word in Quay's names (``"Unknown"`` for a word not known)."""
    word = rating.strip().lower().rstrip("*").strip()  # Debian writes "low*" for an estimate
    return _OWN_RATINGS.get(word, "Unknown")


@dataclass(frozen=True)
class Severity:
    severity: str
    cvss_vector: str = ""
    cvss_score: float | None = None


def _own_ratings(record: Mapping[str, Any]) -> Iterable[str]:
    for entry in record.get("severity") or []:
        if isinstance(entry, dict) and entry.get("type") == "Ubuntu" and isinstance(entry.get("score"), str):
            yield entry["score"]
    for holder in [record, *[a for a in record.get("affected") or [] if isinstance(a, dict)]]:
        for key in ("database_specific", "ecosystem_specific"):
            specific = holder.get(key)
            if isinstance(specific, dict):
                for field in ("severity", "urgency"):
                    if isinstance(specific.get(field), str):
                        yield specific[field]


def osv_severity(record: Mapping[str, Any]) -> Severity:
    """The severity of an OSV record: the highest CVSS v3 base score among its ``severity``
    entries, otherwise the ecosystem's own rating (Ubuntu priority, GHSA or distribution
    ``database_specific``/``ecosystem_specific`` severity, Debian urgency), otherwise Unknown."""
    best: CvssScore | None = None
    for entry in record.get("severity") or []:
        if not isinstance(entry, dict) or entry.get("type") not in ("CVSS_V3", "CVSS_V31", "CVSS_V30"):
            continue
        try:
            scored = score(str(entry.get("score", "")))
        except CvssError:
            continue
        if best is None or scored.base_score > best.base_score:
            best = scored
    if best is not None:
        return Severity(severity=best.severity, cvss_vector=best.vector, cvss_score=best.base_score)
    ratings = [severity_from_rating(r) for r in _own_ratings(record)]
    known = [r for r in ratings if r != "Unknown"]
    if known:
        return Severity(severity=max(known, key=SEVERITY_RANK.__getitem__))
    # no CVSS v3: keep a v2/v4 vector for display even though it is not scored here
    for entry in record.get("severity") or []:
        if isinstance(entry, dict) and isinstance(entry.get("score"), str) and entry["score"].startswith(("CVSS:", "AV:")):
            return Severity(severity="Unknown", cvss_vector=entry["score"])
    return Severity(severity="Unknown")
