"""Import of OSV vulnerability data (https://ossf.github.io/osv-schema/) into the vulnerability
database, offline.

Sources: one of the OSV project's per-ecosystem zip archives (``Debian.zip``, ``PyPI.zip``, the
``all.zip``; one JSON record per member) or a folder searched recursively for ``*.json`` records.
A zip is read member by member and a folder file by file, so memory stays bounded by one batch of
records whatever the size of the archive.

An import is repeatable and incremental: a record whose ``modified`` time equals the stored one
is skipped; a changed one replaces its stored record and affected packages; a ``withdrawn``
record is removed. A malformed record (not JSON, no ``id``/``modified``, bad ``affected``) is
counted and reported with its file name, and the import goes on. Records of ecosystems the
matcher does not handle are skipped (counted). Every run is recorded as a
:class:`~repositories.models.VulnerabilityImport`; a successful one sends
``vulnerability_database_updated``.
"""

from __future__ import annotations

import json
import lzma
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from common.errors import InvalidRequestError
from repositories.models import AffectedPackage, Vulnerability, VulnerabilityImport
from repositories.scanning.cvss import osv_severity, severity_from_rating
from repositories.scanning.versions import compare, ecosystem_base, sort_key
from repositories.signals import vulnerability_database_updated

#: OSV ecosystems (the part before the first ":") that are imported and matched
SUPPORTED_ECOSYSTEMS = ("Debian", "Ubuntu", "Alpine", "Rocky Linux", "AlmaLinux", "Red Hat", "PyPI", "npm", "Go", "Maven")
#: range types compared by version; GIT ranges (commit hashes) cannot be matched to packages
VERSION_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")
BATCH = 500
#: what reading a damaged archive may raise (a bad CRC, broken deflate/lzma data, a short file)
_ARCHIVE_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, lzma.LZMAError)
MAX_REPORTED_ERRORS = 100


class VulnDbImportError(InvalidRequestError):
    """The source cannot be read at all: a missing path, not a zip archive, an unreadable folder."""

    code = "VULNDB_SOURCE_INVALID"


class MalformedRecord(ValueError):
    """One OSV record that does not follow the schema (the import goes on without it)."""


# -- names ---------------------------------------------------------------------------------------


def normalize_ecosystem(ecosystem: str) -> str:
    """The matcher's key for an ecosystem: OSV's name with the release reduced to what an image's
    ``/etc/os-release`` gives (``"Ubuntu:22.04:LTS"`` → ``"Ubuntu:22.04"``, ``"Red Hat:enterprise_linux:9::appstream"``
    → ``"Red Hat:9"``, ``"Rocky Linux:9.3"`` → ``"Rocky Linux:9"``, ``"Alpine:3.19"`` → ``"Alpine:v3.19"``,
    ``"Debian:12.5"`` → ``"Debian:12"``); language ecosystems lose any registry suffix
    (``"Maven:https://repo1..."`` → ``"Maven"``)."""
    ecosystem = ecosystem.strip()
    base, _, rest = ecosystem.partition(":")
    if base in ("PyPI", "npm", "Go", "Maven", "crates.io", "NuGet", "RubyGems", "Packagist", "Hex", "Pub"):
        return base
    if not rest:
        return base
    if base == "Ubuntu":
        parts = [p for p in rest.split(":") if p and p != "LTS"]
        return ":".join([base, *parts])
    if base in ("Red Hat", "Rocky Linux", "AlmaLinux", "Debian"):
        m = re.search(r"(?:^|[:_])(\d+)(?:\.\d+)*(?=$|:)", rest)
        return f"{base}:{m.group(1)}" if m else ecosystem
    if base == "Alpine":
        release = rest if rest.startswith("v") else f"v{rest}"
        return f"{base}:{'.'.join(release.split('.')[:2])}"
    return ecosystem


def normalize_name(ecosystem: str, name: str) -> str:
    """A package name as the matcher looks it up (PEP 503 for PyPI; as written otherwise)."""
    name = name.strip()
    if ecosystem_base(ecosystem) == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


# -- reading sources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRecord:
    file: str
    data: bytes | None
    error: str = ""


def _iter_zip(path: Path) -> Iterator[RawRecord]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise VulnDbImportError(f"{path} is not a zip archive: {exc}") from exc
    except OSError as exc:
        raise VulnDbImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            try:
                with archive.open(info) as member:
                    yield RawRecord(file=info.filename, data=member.read())
            except _ARCHIVE_ERRORS as exc:  # a damaged member: report it, go on
                yield RawRecord(file=info.filename, data=None, error=f"cannot read archive member: {exc}")


def _iter_folder(path: Path) -> Iterator[RawRecord]:
    for file in sorted(path.rglob("*.json")):
        if not file.is_file():
            continue
        try:
            yield RawRecord(file=str(file.relative_to(path)), data=file.read_bytes())
        except OSError as exc:
            yield RawRecord(file=str(file.relative_to(path)), data=None, error=f"cannot read file: {exc.strerror or exc}")


def iter_source(path: str | Path) -> Iterator[RawRecord]:
    """The raw records of a zip archive or folder, one at a time.

    Raises:
        VulnDbImportError: the path does not exist or is neither a folder nor a zip archive.
    """
    path = Path(path)
    if not path.exists():
        raise VulnDbImportError(f"{path} does not exist")
    if path.is_dir():
        return _iter_folder(path)
    if not zipfile.is_zipfile(path):
        raise VulnDbImportError(f"{path} is neither a folder nor a zip archive")
    return _iter_zip(path)


# -- parsing one record --------------------------------------------------------------------------


@dataclass
class ParsedAffected:
    ecosystem: str
    ecosystem_raw: str
    name: str
    purl: str
    ranges: list[dict[str, Any]]
    versions: list[str]
    fixed_version: str
    severity: str


@dataclass
class ParsedRecord:
    osv_id: str
    modified: datetime
    withdrawn: bool
    fields: dict[str, Any]
    affected: list[ParsedAffected]
    unsupported: bool  # no affected package of an ecosystem we match


def _time(value: Any, what: str, required: bool) -> datetime | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise MalformedRecord(f"{what} must be an RFC 3339 time string")
    parsed = parse_datetime(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    if parsed is None:
        raise MalformedRecord(f"{what} {value!r} is not an RFC 3339 time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.utc)
    return parsed


def _lowest_fixed(ecosystem: str, ranges: list[dict[str, Any]]) -> str:
    fixed = [e["fixed"] for r in ranges for e in r["events"] if "fixed" in e]
    return min(fixed, key=sort_key(ecosystem)) if fixed else ""


def _parse_affected(entry: Any, index: int) -> ParsedAffected | None:
    where = f"affected[{index}]"
    if not isinstance(entry, dict):
        raise MalformedRecord(f"{where} is not an object")
    package = entry.get("package")
    if not isinstance(package, dict):
        return None  # OSV allows affected entries without a package (git-only); nothing to match
    ecosystem_raw, name = package.get("ecosystem"), package.get("name")
    if not isinstance(ecosystem_raw, str) or not ecosystem_raw or not isinstance(name, str) or not name:
        raise MalformedRecord(f"{where}.package needs a non-empty ecosystem and name")
    if ecosystem_base(ecosystem_raw) not in SUPPORTED_ECOSYSTEMS:
        return None
    ecosystem = normalize_ecosystem(ecosystem_raw)
    ranges: list[dict[str, Any]] = []
    raw_ranges = entry.get("ranges", [])
    if not isinstance(raw_ranges, list):
        raise MalformedRecord(f"{where}.ranges is not a list")
    for r_index, r in enumerate(raw_ranges):
        if not isinstance(r, dict) or not isinstance(r.get("type"), str) or not isinstance(r.get("events"), list):
            raise MalformedRecord(f"{where}.ranges[{r_index}] needs a type and a list of events")
        if r["type"] not in VERSION_RANGE_TYPES:
            continue
        events = []
        for e_index, event in enumerate(r["events"]):
            if not isinstance(event, dict) or len(event) != 1:
                raise MalformedRecord(f"{where}.ranges[{r_index}].events[{e_index}] must be an object with exactly one of "
                                      "introduced, fixed, last_affected, limit")
            (kind, value), = event.items()
            if kind not in ("introduced", "fixed", "last_affected", "limit") or not isinstance(value, str) or not value:
                raise MalformedRecord(f"{where}.ranges[{r_index}].events[{e_index}] has an unknown event {kind!r} or an empty version")
            events.append({kind: value})
        if not any("introduced" in e for e in events):
            raise MalformedRecord(f"{where}.ranges[{r_index}] has no introduced event")
        ranges.append({"type": r["type"], "events": events})
    versions = entry.get("versions", [])
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise MalformedRecord(f"{where}.versions must be a list of strings")
    rating = ""
    for key in ("ecosystem_specific", "database_specific"):
        specific = entry.get(key)
        if isinstance(specific, dict):
            for word in (specific.get("severity"), specific.get("urgency")):
                if isinstance(word, str) and severity_from_rating(word) != "Unknown":
                    rating = severity_from_rating(word)
    purl = package.get("purl") if isinstance(package.get("purl"), str) else ""
    return ParsedAffected(
        ecosystem=ecosystem, ecosystem_raw=ecosystem_raw[:200], name=normalize_name(ecosystem, name)[:300], purl=(purl or "")[:500],
        ranges=ranges, versions=versions, fixed_version=_lowest_fixed(ecosystem, ranges)[:200], severity=rating,
    )


def parse_record(data: Any) -> ParsedRecord:
    """Validate one decoded OSV record and take what the database keeps.

    Raises:
        MalformedRecord: the record does not follow the OSV schema where it matters here.
    """
    osv_id, modified, withdrawn = _header(data)
    published = _time(data.get("published"), "published", required=False)
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise MalformedRecord("aliases must be a list of strings")
    raw_affected = data.get("affected") or []
    if not isinstance(raw_affected, list):
        raise MalformedRecord("affected is not a list")
    affected = [a for i, entry in enumerate(raw_affected) if (a := _parse_affected(entry, i)) is not None]
    references = [
        {"type": str(r.get("type", "WEB")), "url": r["url"]}
        for r in data.get("references") or [] if isinstance(r, dict) and isinstance(r.get("url"), str)
    ]
    severity = osv_severity(data)
    fields = {
        "aliases": aliases, "summary": str(data.get("summary") or ""), "details": str(data.get("details") or ""),
        "severity": severity.severity, "cvss_vector": severity.cvss_vector[:200], "cvss_score": severity.cvss_score,
        "published": published, "modified": modified, "references": references,
    }
    return ParsedRecord(osv_id=osv_id, modified=modified, withdrawn=withdrawn, fields=fields, affected=affected,
                        unsupported=not affected)


# -- the import ----------------------------------------------------------------------------------


@dataclass
class ImportCounts:
    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    malformed: int = 0
    skipped: int = 0

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.withdrawn


@dataclass
class ImportResult:
    import_id: int | None
    source: str
    status: str
    counts: ImportCounts
    errors: list[dict[str, str]] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id, "source": self.source, "status": self.status, "dry_run": self.dry_run,
            **asdict(self.counts), "changed": self.counts.changed, "errors": self.errors,
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
        }


@dataclass
class _Pending:
    """A decoded record whose ``id`` and ``modified`` were checked; the rest is parsed only when
    the stored copy is missing or older (most records of a repeated import are not)."""

    file: str
    data: dict[str, Any]
    osv_id: str
    modified: datetime
    withdrawn: bool


def _header(data: Any) -> tuple[str, datetime, bool]:
    if not isinstance(data, dict):
        raise MalformedRecord("the record is not a JSON object")
    osv_id = data.get("id")
    if not isinstance(osv_id, str) or not osv_id.strip() or len(osv_id) > 200:
        raise MalformedRecord("no id (a non-empty string of at most 200 characters)")
    modified = _time(data.get("modified"), "modified", required=True)
    assert modified is not None
    withdrawn = _time(data.get("withdrawn"), "withdrawn", required=False) is not None
    return osv_id.strip(), modified, withdrawn


def _affected_row(vulnerability_id: int, affected: ParsedAffected) -> AffectedPackage:
    return AffectedPackage(vulnerability_id=vulnerability_id, **vars(affected))


def _write_batch(batch: list[_Pending], counts: ImportCounts, *, source: str, force: bool, dry_run: bool,
                 malformed: Callable[[str, str], None]) -> None:
    # the last occurrence of an id in a batch wins (an archive should not repeat ids, but a folder may)
    by_id = {pending.osv_id: pending for pending in batch}
    existing = {v.osv_id: v for v in Vulnerability.objects.filter(osv_id__in=list(by_id)).only("id", "osv_id", "modified")}
    gone: list[int] = []
    new: list[ParsedRecord] = []
    changed: list[tuple[Vulnerability, ParsedRecord]] = []
    for osv_id, pending in by_id.items():
        current = existing.get(osv_id)
        if pending.withdrawn:
            counts.withdrawn += 1
            if current is not None:
                gone.append(current.id)
            continue
        if current is not None and not force and current.modified == pending.modified:
            counts.unchanged += 1
            continue
        try:
            record = parse_record(pending.data)
        except MalformedRecord as exc:
            malformed(pending.file, str(exc))
            continue
        if record.unsupported:
            counts.skipped += 1
            if current is not None:
                gone.append(current.id)
        elif current is None:
            new.append(record)
        else:
            changed.append((current, record))
    counts.added += len(new)
    counts.updated += len(changed)
    if dry_run:
        return
    with transaction.atomic():
        if gone:
            Vulnerability.objects.filter(id__in=gone).delete()
        created = Vulnerability.objects.bulk_create([Vulnerability(osv_id=r.osv_id, source=source, **r.fields) for r in new])
        rows: list[Vulnerability] = []
        for current, record in changed:
            for name, value in record.fields.items():
                setattr(current, name, value)
            current.source = source
            current.imported_at = timezone.now()
            rows.append(current)
        if rows:
            Vulnerability.objects.bulk_update(rows, [*changed[0][1].fields, "source", "imported_at"])
            AffectedPackage.objects.filter(vulnerability_id__in=[v.id for v in rows]).delete()
        if not all(v.pk for v in created):  # backends without RETURNING: look the ids up
            ids = dict(Vulnerability.objects.filter(osv_id__in=[r.osv_id for r in new]).values_list("osv_id", "id"))
            for v in created:
                v.pk = v.id = ids[v.osv_id]
        pairs = [*zip(created, new), *changed]
        AffectedPackage.objects.bulk_create([_affected_row(v.pk, a) for v, r in pairs for a in r.affected], batch_size=1000)


def vulndb_import(
    *, path: str | Path, force: bool = False, dry_run: bool = False,
    progress: Callable[[ImportCounts], None] | None = None, progress_every: int = 5000,
) -> ImportResult:
    """Import OSV records from a zip archive or a folder of JSON files.

    Args:
        path: an OSV per-ecosystem zip archive or a folder (searched recursively for ``*.json``).
        force: re-write records even when their ``modified`` time did not change.
        dry_run: read and validate everything and count what would change, write nothing
            (no import run is recorded either).
        progress: called with the running counts every ``progress_every`` records.

    Returns:
        What was read and changed; ``status`` is ``succeeded`` (malformed records do not fail an
        import) or ``failed`` when the source broke off midway (what was written stays).

    Raises:
        VulnDbImportError: the path does not exist or is neither a folder nor a zip archive
            (nothing is recorded).
    """
    records = iter_source(path)  # raises before anything is recorded
    source = Path(path).name or str(path)
    started = timezone.now()
    run = None if dry_run else VulnerabilityImport.objects.create(source=str(path)[:1000], started=started)
    counts = ImportCounts()
    errors: list[dict[str, str]] = []
    batch: list[_Pending] = []
    status, failure = VulnerabilityImport.Status.SUCCEEDED, ""

    def malformed(file: str, message: str) -> None:
        counts.malformed += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append({"file": file, "error": message})

    try:
        for raw in records:
            counts.records += 1
            if raw.data is None:
                malformed(raw.file, raw.error)
            else:
                try:
                    data = json.loads(raw.data)
                    osv_id, modified, withdrawn = _header(data)
                    batch.append(_Pending(file=raw.file, data=data, osv_id=osv_id, modified=modified, withdrawn=withdrawn))
                except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError and MalformedRecord are ValueErrors
                    malformed(raw.file, str(exc) if isinstance(exc, MalformedRecord) else f"not valid JSON: {exc}")
            if len(batch) >= BATCH:
                _write_batch(batch, counts, source=source, force=force, dry_run=dry_run, malformed=malformed)
                batch = []
            if progress and counts.records % progress_every == 0:
                progress(counts)
        if batch:
            _write_batch(batch, counts, source=source, force=force, dry_run=dry_run, malformed=malformed)
    except _ARCHIVE_ERRORS as exc:
        status, failure = VulnerabilityImport.Status.FAILED, f"the source broke off: {exc}"
    except Exception as exc:
        # a database error or a bug: the run must not stay "running" forever (best effort, the
        # database may be what failed)
        if run is not None:
            try:
                VulnerabilityImport.objects.filter(pk=run.pk).update(
                    status=VulnerabilityImport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000], finished=timezone.now())
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        raise
    finished = timezone.now()
    if run is not None:
        for name, value in asdict(counts).items():
            setattr(run, name, value)
        run.status, run.error, run.errors, run.finished = status, failure, errors, finished
        run.save()
        if status == VulnerabilityImport.Status.SUCCEEDED:
            import_id, changed = run.id, counts.changed
            transaction.on_commit(lambda: vulnerability_database_updated.send(sender=None, import_id=import_id, changed=changed))
    if failure:
        errors.insert(0, {"file": str(path), "error": failure})
    return ImportResult(import_id=run.id if run else None, source=str(path), status=status, counts=counts, errors=errors,
                        started=started, finished=finished, dry_run=dry_run)


def is_affected(ecosystem: str, version: str, ranges: list[dict[str, Any]], versions: list[str]) -> tuple[bool, str]:
    """Whether ``version`` is affected by an OSV ``affected`` entry, and the fix to upgrade to.

    The OSV schema's evaluation: ``versions`` lists affected versions explicitly; for each range
    the events are walked in version order (``introduced: "0"`` first) — an ``introduced`` at or
    below the version opens it, a ``fixed`` at or below closes it, a ``last_affected`` below
    closes it, a ``limit`` at or below ends the range.

    Returns:
        ``(affected, fixed_version)`` — the fix is the lowest ``fixed`` above the version in the
        range that matched ("" when none is known).
    """
    cmp = sort_key(ecosystem)
    hit = any(v == version or compare(ecosystem, v, version) == 0 for v in versions)
    fixes: list[str] = []
    for r in ranges:
        events = sorted(r.get("events", []), key=lambda e: (0, cmp("")) if e.get("introduced") == "0" else (1, cmp(next(iter(e.values())))))
        affected = False
        for event in events:
            kind, bound = next(iter(event.items()))
            if kind == "introduced":
                if bound == "0" or compare(ecosystem, version, bound) >= 0:
                    affected = True
            elif kind == "fixed":
                if compare(ecosystem, version, bound) >= 0:
                    affected = False
            elif kind == "last_affected":
                if compare(ecosystem, version, bound) > 0:
                    affected = False
            elif kind == "limit" and compare(ecosystem, version, bound) >= 0:
                affected = False
                break
        if affected:
            hit = True
            above = [e["fixed"] for e in events if "fixed" in e and compare(ecosystem, e["fixed"], version) > 0]
            if above:
                fixes.append(min(above, key=cmp))
    # several matching ranges: the fix must leave all of them
    return hit, (max(fixes, key=cmp) if fixes else "")
