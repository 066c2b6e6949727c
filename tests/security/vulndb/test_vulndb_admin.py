"""The vulnerability database in the admin: its age on the dashboard, records and import runs."""

from __future__ import annotations

import pytest
from django.test import Client

from repositories.models import Vulnerability, VulnerabilityImport
from repositories.scanning.osv import vulndb_import
from repositories.selectors_dashboard import vulnerability_database
from tests.factories import UserFactory
from tests.security.vulndb.conftest import osv_record, write_zip

pytestmark = pytest.mark.django_db


@pytest.fixture
def root_client():
    client = Client()
    client.force_login(UserFactory(username="vulndb-root", is_superuser=True, is_staff=True))
    return client


def test_dashboard_shows_the_age_of_the_last_successful_import(tmp_path, root_client):
    assert vulnerability_database().available is False
    result = vulndb_import(path=write_zip(tmp_path / "PyPI.zip", [osv_record("PYSEC-1", "PyPI", "a", [{"introduced": "0"}]),
                                                                   osv_record("PYSEC-2", "PyPI", "b", [{"introduced": "0"}])]))
    VulnerabilityImport.objects.create(source="/later/broken.zip", started=result.finished, finished=result.finished,
                                       status=VulnerabilityImport.Status.FAILED)
    db = vulnerability_database()
    assert db.available is True and db.imported_at == VulnerabilityImport.objects.get(pk=result.import_id).finished
    assert db.text == f"2 vulnerabilities; last import from {tmp_path / 'PyPI.zip'}"
    page = root_client.get("/admin/dashboard/").content.decode()
    assert "ago: 2 vulnerabilities; last import from" in page


def test_admin_lists_records_and_import_runs_read_only(tmp_path, root_client):
    vulndb_import(path=write_zip(tmp_path / "Debian.zip", [osv_record("DSA-1-1", "Debian:12", "openssl", [{"introduced": "0"}])]))
    vuln = Vulnerability.objects.get()
    listing = root_client.get("/admin/repositories/vulnerability/?q=openssl")
    assert listing.status_code == 200 and "DSA-1-1" in listing.content.decode()
    detail = root_client.get(f"/admin/repositories/vulnerability/{vuln.pk}/change/")
    assert detail.status_code == 200 and "Debian:12" in detail.content.decode()
    assert root_client.get("/admin/repositories/vulnerability/add/").status_code == 403
    runs = root_client.get("/admin/repositories/vulnerabilityimport/")
    assert runs.status_code == 200 and "Debian.zip" in runs.content.decode()
