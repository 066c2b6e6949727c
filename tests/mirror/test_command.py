"""``manage.py mirror_sync``: progress lines, the summary, --json, and exit status 1 on failure."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from repositories.models.mirror import MirrorStatus, RepositoryMirror
from tests.mirror.conftest import configure, make_image

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def run(*args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("mirror_sync", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return out.getvalue(), err.getvalue(), code


def test_the_command_prints_each_tag_and_a_summary(setup, upstream):
    image = upstream.push_image("lib/app", "v1", make_image("cmd"))
    upstream.push_image("lib/app", "v2", image)
    configure(setup, upstream.reference("lib/app"))

    out, err, code = run("acme/app")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"syncing acme/app from {upstream.reference('lib/app')}"
    assert "2 tag(s) match *" in out
    assert f"  v1: copied -> {image.digest[:19]}" in lines and f"  v2: copied -> {image.digest[:19]}" in lines
    assert any(line.startswith("SUCCESS: 2 tag(s) copied, 0 unchanged, 0 deleted, 0 failed; 1 manifest(s), 3 blob(s) downloaded") for line in lines)
    assert lines[-1].startswith("next sync: ")

    again, _, _ = run("acme/app")
    assert "  v1: unchanged" in again and "SUCCESS: 0 tag(s) copied, 2 unchanged" in again


def test_json_output_has_the_counts(setup, upstream):
    upstream.push_image("lib/app", "v1", make_image("json"))
    configure(setup, upstream.reference("lib/app"))

    out, _, code = run("acme/app", "--json")

    data = json.loads(out)
    assert code == 0
    assert (data["status"], data["repository"], data["counts"]["tags_copied"], data["errors"]) == ("SUCCESS", "acme/app", 1, [])
    assert data["upstream_requests"]["blob_get"] == 3


def test_a_failed_sync_exits_1_with_the_error(setup, upstream):
    configure(setup, upstream.reference("lib/app"))
    upstream.stop()

    out, err, code = run("acme/app")

    assert code == 1
    assert out.splitlines()[-2].startswith("FAIL: 0 tag(s) copied")
    assert "error: the upstream registry is unreachable" in err
    assert RepositoryMirror.objects.get().status == MirrorStatus.FAIL


def test_a_repository_without_a_mirror_is_an_error(setup):
    with pytest.raises(CommandError, match="has no mirror configuration"):
        call_command("mirror_sync", "acme/app", stdout=io.StringIO())
