"""Listing at scale: tags/list with 100k tags, _catalog with 10k repositories, manifest GET by tag.

Seeds a throw-away registry (SQLite in a temp folder, or the PostgreSQL named by
MOORAGE_DATABASE_URL: a fresh database is created and dropped), then times the /v2 views
in-process through Django's test client (no network, so the figures are the server's own
work) and prints p50/p99 per request. Every response is checked (status, count).

    .venv/bin/python bench/listing_scale.py [--tags 100000] [--repositories 10000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--repositories", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    os.environ["MOORAGE_DATA_DIR"] = tempfile.mkdtemp(prefix="moorage-bench-")
    os.environ["MOORAGE_REGISTRY_OPEN"] = "true"  # measure the listing, not authentication
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
    from tests.live import create_database, drop_database  # a fresh PostgreSQL database when configured

    base_url = os.environ.get("MOORAGE_DATABASE_URL")
    url, name = create_database(base_url)
    if url:
        os.environ["MOORAGE_DATABASE_URL"] = url
    try:
        return run(args)
    finally:
        if name:
            from django.db import connections

            connections.close_all()
            drop_database(base_url, name)


def run(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts.services import namespace_get_or_create
    from repositories.models import Manifest, Repository, Tag
    from repositories.services.repositories import repository_get_or_create

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    repository = repository_get_or_create(name="bench/tags")
    manifest = Manifest.objects.create(
        repository=repository, digest="sha256:" + "a" * 64, media_type="application/vnd.oci.image.manifest.v1+json", content=b"{}", size=2
    )
    now = timezone.now()
    Tag.objects.bulk_create(
        (Tag(repository=repository, name=f"v{i:06d}", manifest=manifest, lifetime_start=now) for i in range(args.tags)), batch_size=5000
    )
    namespace = namespace_get_or_create(name="many")
    Repository.objects.bulk_create(
        (Repository(namespace=namespace, name=f"r{i:05d}", full_name=f"many/r{i:05d}") for i in range(args.repositories)), batch_size=5000
    )
    print(f"seeded {args.tags} tags and {args.repositories} repositories in {time.perf_counter() - started:.1f} s "
          f"({connection.vendor})")

    client = Client()
    middle_tag = f"v{args.tags // 2:06d}"
    cases = [
        ("tags/list first page (n=100)", "/v2/bench/tags/tags/list?n=100", lambda r: len(r.json()["tags"]) == 100),
        ("tags/list page from the middle", f"/v2/bench/tags/tags/list?n=100&last={middle_tag}", lambda r: len(r.json()["tags"]) == 100),
        ("_catalog first page (n=100)", "/v2/_catalog?n=100", lambda r: len(r.json()["repositories"]) == 100),
        ("_catalog page from the middle", "/v2/_catalog?n=100&last=many/r05000", lambda r: len(r.json()["repositories"]) == 100),
        ("manifest GET by tag", f"/v2/bench/tags/manifests/{middle_tag}", lambda r: r["Docker-Content-Digest"] == manifest.digest),
        ("manifest HEAD by tag", f"/v2/bench/tags/manifests/{middle_tag}", None),
    ]
    print(f"{'request':36} {'p50 ms':>8} {'p99 ms':>8}")
    for label, path, check in cases:
        method = client.head if "HEAD" in label else client.get
        timings = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            response = method(path, HTTP_ACCEPT="application/vnd.oci.image.manifest.v1+json")
            timings.append((time.perf_counter() - t0) * 1000)
            if response.status_code != 200 or (check and not check(response)):
                print(f"FAILED: {label}: {response.status_code} {response.content[:200]!r}")
                return 1
        timings.sort()
        print(f"{label:36} {statistics.median(timings):8.2f} {timings[int(len(timings) * 0.99) - 1]:8.2f}")

    t0 = time.perf_counter()
    response = client.get("/v2/bench/tags/tags/list")
    assert len(response.json()["tags"]) == args.tags
    print(f"{'tags/list, all ' + str(args.tags) + ' tags':36} {(time.perf_counter() - t0) * 1000:8.0f} (one request)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
