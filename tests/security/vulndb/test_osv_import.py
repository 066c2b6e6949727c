"""``vulndb_import``: zip and folder sources, idempotency, incrementality, withdrawn and malformed
records, the run record and the ``vulnerability_database_updated`` signal."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import pytest

from repositories.models import AffectedPackage, Vulnerability, VulnerabilityImport
from repositories.scanning.osv import VulnDbImportError, normalize_ecosystem, normalize_name, vulndb_import
from repositories.signals import vulnerability_database_updated
from tests.security.vulndb.conftest import osv_record, write_folder, write_zip

pytestmark = pytest.mark.django_db

HEARTBLEED = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"


def sample_records() -> list[dict]:
    return [
        osv_record("DSA-9001-1", "Debian:12", "openssl", [{"introduced": "0"}, {"fixed": "3.0.99-1~deb12u1"}],
                   aliases=["CVE-2099-0001"], summary="openssl: something", published="2025-12-01T00:00:00Z",
                   severity=[{"type": "CVSS_V3", "score": HEARTBLEED}],
                   references=[{"type": "ADVISORY", "url": "https://security-tracker.debian.org/tracker/DSA-9001-1"}]),
        osv_record("USN-9002-1", "Ubuntu:22.04:LTS", "bash", [{"introduced": "0"}, {"fixed": "5.1-6ubuntu1.9"}],
                   severity=[{"type": "Ubuntu", "score": "medium"}]),
        osv_record("GHSA-aaaa-bbbb-cccc", "PyPI", "Django_Foo", [{"introduced": "1.0"}, {"fixed": "1.2"}, {"introduced": "2.0"},
                                                                   {"fixed": "2.0.5"}], database_specific={"severity": "MODERATE"}),
        osv_record("ALSA-2099:0001", "AlmaLinux:9.3", "openssl", [{"introduced": "0"}, {"fixed": "1:3.0.7-25.el9_3"}]),
        osv_record("RUSTSEC-2099-0001", "crates.io", "something", [{"introduced": "0"}, {"fixed": "1.0.0"}]),
    ]


def test_folder_import_reads_nested_files_and_stores_records(tmp_path):
    result = vulndb_import(path=write_folder(tmp_path / "osv", sample_records()))
    assert result.status == "succeeded"
    c = result.counts
    assert (c.records, c.added, c.updated, c.unchanged, c.skipped, c.malformed) == (5, 4, 0, 0, 1, 0)
    assert set(Vulnerability.objects.values_list("osv_id", flat=True)) == {"DSA-9001-1", "USN-9002-1", "GHSA-aaaa-bbbb-cccc",
                                                                           "ALSA-2099:0001"}
    dsa = Vulnerability.objects.get(osv_id="DSA-9001-1")
    assert (dsa.severity, dsa.cvss_score, dsa.cvss_vector) == ("High", 7.5, HEARTBLEED)
    assert dsa.aliases == ["CVE-2099-0001"] and dsa.references[0]["type"] == "ADVISORY"
    assert dsa.published.year == 2025 and dsa.source == "osv"
    assert list(dsa.affected.values_list("ecosystem", "name", "fixed_version")) == [("Debian:12", "openssl", "3.0.99-1~deb12u1")]
    assert Vulnerability.objects.get(osv_id="USN-9002-1").severity == "Medium"
    ghsa = AffectedPackage.objects.get(vulnerability__osv_id="GHSA-aaaa-bbbb-cccc")
    assert (ghsa.ecosystem, ghsa.name, ghsa.fixed_version) == ("PyPI", "django-foo", "1.2")
    assert ghsa.vulnerability.severity == "Medium"
    alsa = AffectedPackage.objects.get(vulnerability__osv_id="ALSA-2099:0001")
    assert (alsa.ecosystem, alsa.ecosystem_raw) == ("AlmaLinux:9", "AlmaLinux:9.3")
    run = VulnerabilityImport.objects.get()
    assert (run.status, run.added, run.skipped) == ("succeeded", 4, 1) and run.finished is not None


def test_zip_import_matches_the_folder_import(tmp_path):
    result = vulndb_import(path=write_zip(tmp_path / "all.zip", sample_records(), {"README.txt": b"not a record"}))
    assert (result.status, result.counts.records, result.counts.added) == ("succeeded", 5, 4)
    assert AffectedPackage.objects.count() == 4


def test_second_import_of_the_same_data_changes_nothing(tmp_path):
    archive = write_zip(tmp_path / "Debian.zip", sample_records())
    vulndb_import(path=archive)
    before = {v.osv_id: (v.imported_at, list(v.affected.values_list("id", flat=True))) for v in Vulnerability.objects.all()}
    again = vulndb_import(path=archive)
    assert (again.counts.added, again.counts.updated, again.counts.unchanged, again.counts.changed) == (0, 0, 4, 0)
    after = {v.osv_id: (v.imported_at, list(v.affected.values_list("id", flat=True))) for v in Vulnerability.objects.all()}
    assert after == before
    assert VulnerabilityImport.objects.count() == 2


def test_only_records_with_a_new_modified_time_are_rewritten(tmp_path):
    records = sample_records()
    vulndb_import(path=write_folder(tmp_path / "v1", records))
    records[0] = {**records[0], "modified": "2026-02-01T00:00:00Z", "summary": "openssl: revised",
                  "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.100-1"}]}]}]}
    records[1] = {**records[1], "summary": "changed text but same modified time"}
    result = vulndb_import(path=write_folder(tmp_path / "v2", records))
    assert (result.counts.updated, result.counts.unchanged, result.counts.added) == (1, 3, 0)
    dsa = Vulnerability.objects.get(osv_id="DSA-9001-1")
    assert dsa.summary == "openssl: revised"
    assert list(dsa.affected.values_list("fixed_version", flat=True)) == ["3.0.100-1"]
    assert Vulnerability.objects.get(osv_id="USN-9002-1").summary == ""
    forced = vulndb_import(path=tmp_path / "v2", force=True)
    assert (forced.counts.updated, forced.counts.unchanged) == (4, 0)
    assert Vulnerability.objects.get(osv_id="USN-9002-1").summary == "changed text but same modified time"


def test_withdrawn_records_are_removed(tmp_path):
    records = sample_records()
    vulndb_import(path=write_folder(tmp_path / "v1", records))
    records[2] = {**records[2], "modified": "2026-03-01T00:00:00Z", "withdrawn": "2026-03-01T00:00:00Z"}
    result = vulndb_import(path=write_folder(tmp_path / "v2", records))
    assert result.counts.withdrawn == 1
    assert not Vulnerability.objects.filter(osv_id="GHSA-aaaa-bbbb-cccc").exists()
    assert not AffectedPackage.objects.filter(name="django-foo").exists()
    # a withdrawn record never imported is counted and not stored
    fresh = vulndb_import(path=write_zip(tmp_path / "w.zip", [{**records[2], "id": "GHSA-zzzz-zzzz-zzzz"}]))
    assert fresh.counts.withdrawn == 1 and not Vulnerability.objects.filter(osv_id="GHSA-zzzz-zzzz-zzzz").exists()


def test_malformed_records_are_reported_and_the_import_goes_on(tmp_path):
    folder = write_folder(tmp_path / "osv", sample_records())
    (folder / "broken.json").write_text("{not json")
    (folder / "noid.json").write_text(json.dumps({"modified": "2026-01-01T00:00:00Z"}))
    (folder / "badtime.json").write_text(json.dumps(osv_record("X-1", "PyPI", "a", [{"introduced": "0"}], modified="yesterday")))
    (folder / "badevent.json").write_text(json.dumps(osv_record("X-2", "PyPI", "a", [{"introduced": "0"}, {"fixed": ""}])))
    (folder / "list.json").write_text("[]")
    result = vulndb_import(path=folder)
    assert result.status == "succeeded"
    assert (result.counts.malformed, result.counts.added) == (5, 4)
    errors = {e["file"]: e["error"] for e in result.errors}
    assert "not valid JSON" in errors["broken.json"]
    assert "no id" in errors["noid.json"]
    assert "not an RFC 3339 time" in errors["badtime.json"]
    assert "empty version" in errors["badevent.json"]
    assert "not a JSON object" in errors["list.json"]
    run = VulnerabilityImport.objects.get()
    assert run.malformed == 5 and len(run.errors) == 5


@pytest.mark.parametrize("make", ["missing", "not_zip", "empty_file"])
def test_unreadable_sources_raise_and_record_nothing(tmp_path, make):
    path = tmp_path / "source.zip"
    if make == "not_zip":
        path.write_text("this is not an archive")
    elif make == "empty_file":
        path.write_bytes(b"")
    with pytest.raises(VulnDbImportError):
        vulndb_import(path=path)
    assert not VulnerabilityImport.objects.exists()


def test_dry_run_counts_but_writes_nothing(tmp_path):
    result = vulndb_import(path=write_folder(tmp_path / "osv", sample_records()), dry_run=True)
    assert (result.counts.added, result.import_id) == (4, None)
    assert not Vulnerability.objects.exists() and not VulnerabilityImport.objects.exists()


def test_a_successful_import_sends_vulnerability_database_updated(tmp_path, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    vulnerability_database_updated.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = vulndb_import(path=write_folder(tmp_path / "osv", sample_records()))
        assert len(received) == 1  # after the commit, not before
        with django_capture_on_commit_callbacks(execute=True):
            second = vulndb_import(path=tmp_path / "osv")
    finally:
        vulnerability_database_updated.disconnect(receiver)
    assert [(r["import_id"], r["changed"]) for r in received] == [(first.import_id, 4), (second.import_id, 0)]


@pytest.mark.parametrize("raw,expected", [
    ("Debian:12", "Debian:12"), ("Debian:12.5", "Debian:12"), ("Ubuntu:22.04:LTS", "Ubuntu:22.04"), ("Ubuntu:24.10", "Ubuntu:24.10"),
    ("Ubuntu:Pro:18.04:LTS", "Ubuntu:Pro:18.04"), ("Alpine:v3.19", "Alpine:v3.19"), ("Alpine:3.19.1", "Alpine:v3.19"),
    ("Rocky Linux:9", "Rocky Linux:9"), ("AlmaLinux:8.10", "AlmaLinux:8"), ("Red Hat:enterprise_linux:9::appstream", "Red Hat:9"),
    ("Red Hat:rhel_aus:8.4::baseos", "Red Hat:8"), ("PyPI", "PyPI"), ("Maven:https://repo.maven.apache.org/maven2/", "Maven"),
])
def test_ecosystem_normalisation(raw, expected):
    assert normalize_ecosystem(raw) == expected


def test_pypi_names_are_normalised_per_pep_503():
    assert normalize_name("PyPI", "Friendly.Bard__Foo-bar") == "friendly-bard-foo-bar"
    assert normalize_name("Go", "github.com/Foo/Bar") == "github.com/Foo/Bar"


def test_nanosecond_and_offset_timestamps_compare_as_unchanged(tmp_path):
    records = [osv_record("GO-2099-0001", "Go", "example.com/m", [{"introduced": "0"}], modified="2026-01-01T12:00:00.123456789Z"),
               osv_record("GO-2099-0002", "Go", "example.com/n", [{"introduced": "0"}], modified="2026-01-01T14:00:00+02:00")]
    vulndb_import(path=write_zip(tmp_path / "Go.zip", records))
    again = vulndb_import(path=tmp_path / "Go.zip")
    assert (again.counts.unchanged, again.counts.updated) == (2, 0)
    assert Vulnerability.objects.get(osv_id="GO-2099-0002").modified == Vulnerability.objects.get(osv_id="GO-2099-0001").modified.replace(
        microsecond=0)


def test_the_same_id_twice_in_one_source_keeps_the_last(tmp_path):
    first = osv_record("PYSEC-2099-1", "PyPI", "a", [{"introduced": "0"}], summary="first")
    second = {**first, "summary": "second"}
    with zipfile.ZipFile(tmp_path / "dup.zip", "w") as archive:
        archive.writestr("a/PYSEC-2099-1.json", json.dumps(first))
        archive.writestr("b/PYSEC-2099-1.json", json.dumps(second))
    vulndb_import(path=tmp_path / "dup.zip")
    assert Vulnerability.objects.get().summary == "second"


def test_an_archive_is_streamed_not_loaded_whole(tmp_path):
    # 1,500 records of ~40 KB each: ~60 MB of JSON inside a small (highly compressible) archive.
    # Reading it must hold about one batch of records at a time, not the whole archive.
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(1500):
            record = osv_record(f"PYSEC-2098-{i}", "PyPI", f"pkg{i}", [{"introduced": "0"}], details=f"{i} " + "d" * 40_000)
            archive.writestr(f"PYSEC-2098-{i}.json", json.dumps(record))
    total = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    assert total > 60_000_000
    tracemalloc.start()
    try:
        result = vulndb_import(path=path, dry_run=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.counts.added == 1500
    assert peak < total / 2, f"peak {peak:,} bytes for {total:,} bytes of records"


def test_a_damaged_archive_member_is_reported_and_the_rest_imported(tmp_path):
    path = write_zip(tmp_path / "Alpine.zip", [osv_record(f"ALPINE-CVE-2099-{i}", "Alpine:v3.19", f"p{i}", [{"introduced": "0"}])
                                               for i in range(3)])
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("ALPINE-CVE-2099-1.json")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data = bytearray(path.read_bytes())
    data[start + 5] ^= 0xFF  # corrupt the compressed bytes of one member
    path.write_bytes(bytes(data))
    result = vulndb_import(path=path)
    assert (result.counts.added, result.counts.malformed) == (2, 1)
    assert result.errors[0]["file"] == "ALPINE-CVE-2099-1.json" and "cannot read archive member" in result.errors[0]["error"]
