"""The build-context rules without a server: archive extraction, tree checks, Dockerfile rewriting,
git URL policy."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from django.test import override_settings

from common.errors import InvalidRequestError
from repositories.services.build_runner import BuildFailure, RegistryTarget, check_tree, extract_context, rewrite_dockerfile
from repositories.services.builds import git_url_check

TARGET = RegistryTarget(host="127.0.0.1:5000", audience="127.0.0.1:5000", tls=False)


def _tar(*members: tuple[str, str, bytes | str]) -> io.BytesIO:
    """Members as (kind, name, content or link target); kinds file, dir, sym, hard, chr, fifo."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for kind, name, content in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = content.encode() if isinstance(content, str) else content
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind in ("sym", "hard"):
                info.linkname = str(content)
            archive.addfile(info)
    buffer.seek(0)
    return buffer


def test_a_well_formed_context_is_extracted_with_inner_links(tmp_path: Path):
    size = extract_context(
        _tar(("dir", "./app", ""), ("file", "./app/Dockerfile", "FROM a/b\n"), ("sym", "app/current", "Dockerfile"), ("hard", "app/copy", "app/Dockerfile")),
        tmp_path, limit=1000,
    )
    assert size == len("FROM a/b\n")
    assert (tmp_path / "app" / "current").resolve() == (tmp_path / "app" / "Dockerfile").resolve()
    assert (tmp_path / "app" / "copy").read_text() == "FROM a/b\n"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("file", "/etc/cron.d/evil", "x")], "absolute path"),
        ([("file", "../outside", "x")], "leaving the context"),
        ([("file", "a/../../outside", "x")], "leaving the context"),
        ([("sym", "passwd", "/etc/passwd")], "symbolic link leading outside"),
        ([("dir", "a", ""), ("sym", "a/up", "../../..")], "symbolic link leading outside"),
        ([("hard", "shadow", "../../etc/shadow")], "leaving the context"),
        ([("chr", "null", "")], "device file"),
        ([("fifo", "pipe", "")], "device file"),
        ([("dir", "real", ""), ("sym", "link", "real"), ("file", "link/through", "x")], "through a symbolic link"),
        ([("file", "big", "x" * 2000)], "larger than"),
    ],
)
def test_unsafe_or_oversized_archives_are_refused(tmp_path: Path, members, message):
    target = tmp_path / "context"
    target.mkdir()
    with pytest.raises(BuildFailure, match=message):
        extract_context(_tar(*members), target, limit=1000)
    assert not (tmp_path / "outside").exists()


def test_a_non_archive_is_refused(tmp_path: Path):
    with pytest.raises(BuildFailure, match="not a readable tar"):
        extract_context(io.BytesIO(b"PK\x03\x04 this is a zip"), tmp_path, limit=1000)


def test_a_checkout_with_a_link_out_of_the_tree_is_refused(tmp_path: Path):
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "inner").symlink_to("ok.txt")
    assert check_tree(tmp_path, limit=100) == 4
    (tmp_path / "escape").symlink_to("/etc/hostname")
    with pytest.raises(BuildFailure, match="symbolic link leading outside"):
        check_tree(tmp_path, limit=100)


def test_from_lines_are_rewritten_to_this_registry_and_stages_are_kept():
    text, bases = rewrite_dockerfile("FROM org/base:1 AS build\nRUN echo \\\n  hi\nFROM 127.0.0.1:5000/org/other\nCOPY --from=build /a /a\n", TARGET)
    assert text.splitlines()[0] == "FROM 127.0.0.1:5000/org/base:1 AS build"
    assert "FROM 127.0.0.1:5000/org/other:latest" in text
    assert "COPY --from=build /a /a" in text
    assert [(b.repository, b.reference) for b in bases] == [("org/base", "1"), ("org/other", "latest")]


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM busybox\n", "not a repository of this registry"),
        ("FROM quay.io/org/image:1\n", "from this registry"),
        ("ARG B=org/x\nFROM $B\n", "only a literal image"),
        ("FROM org/base\nADD https://example.com/x /x\n", "ADD of a URL"),
        ("FROM org/base\nCOPY --from=docker.io/library/alpine /etc/passwd /p\n", "only earlier build stages"),
        ("RUN true\n", "no FROM"),
    ],
)
def test_dockerfiles_reaching_outside_are_refused(dockerfile, message):
    with pytest.raises(BuildFailure, match=message):
        rewrite_dockerfile(dockerfile, TARGET)


@pytest.mark.parametrize("url", ["file:///srv/git/repo", "/srv/git/repo", "ssh://git@example.com/r.git", "git@example.com:r.git", "ext::sh -c id"])
def test_local_and_ssh_git_urls_are_refused(url):
    with pytest.raises(InvalidRequestError):
        git_url_check(url)


def test_a_loopback_git_url_needs_the_outbound_allow_list(settings):
    with pytest.raises(InvalidRequestError, match="not allowed"):
        git_url_check("git://127.0.0.1:9418/repo.git")
    outbound = {**settings.MOORAGE, "outbound": {"allow_private_networks": False, "allowed_hosts": ["127.0.0.1"]}}
    with override_settings(MOORAGE=outbound):
        assert git_url_check("git://127.0.0.1:9418/repo.git") == "git://127.0.0.1:9418/repo.git"
        assert git_url_check("http://127.0.0.1:8080/repo.git")
