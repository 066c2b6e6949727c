"""Moorage against CNCF Distribution 2.8 and nginx, side by side on loopback (``make bench``).

Starts Moorage with its production server settings (PostgreSQL + Redis when they answer on
127.0.0.1, else SQLite), Debian's ``docker-registry`` with token auth, and nginx serving Moorage's
blob files; seeds the scale figures (``manage.py bench_seed`` for Moorage, the same tags and
repositories written as Distribution's folder layout); measures every figure with the same
client, checking every response; prints one table with the ratios Moorage/Distribution and
Moorage/nginx. See bench/README.md for what each row means and the latest figures.

    .venv/bin/python bench/compare.py                 # the full run (several minutes)
    .venv/bin/python bench/compare.py --quick         # smaller sizes, one round
    .venv/bin/python bench/compare.py --only requests,listing
    .venv/bin/python bench/compare.py --data-dir /var/tmp   # the servers' data on that disk instead of tmpfs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _client as client  # noqa: E402
import _load as load  # noqa: E402
import _wrk as wrk  # noqa: E402
from _servers import Distribution, Moorage, Nginx, TokenIssuer  # noqa: E402

SECTIONS = ("push", "pull", "requests", "listing", "put", "memory")
MIB = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ACCEPT = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
PASSWORD = "bench-" + secrets.token_urlsafe(12)


@dataclass
class Row:
    label: str
    unit: str
    higher_is_better: bool
    moorage: float | None = None
    distribution: float | None = None
    nginx: float | None = None
    target: str = ""
    note: str = ""

    def ratio(self, other: float | None) -> str:
        if self.moorage is None or not other:
            return "—"
        return f"{self.moorage / other:.2f}x"


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="moorage-compare-", dir=args.data_dir))
        self.rows: list[Row] = []
        self.facts: dict[str, object] = {"data_dir": f"{self.root} ({_filesystem_of(self.root)})"}
        self.moorage = Moorage(self.root)
        self.issuer = TokenIssuer(self.root)
        self.distribution = Distribution(self.root, self.issuer)
        self.nginx: Nginx | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def set_up(self) -> None:
        a = self.args
        self.log("Moorage: migrate, user, seed ...")
        self.moorage.prepare(use_services=not a.sqlite)
        self.moorage.manage("create_user", "bench", "--password", PASSWORD)
        seed = json.loads(self.moorage.manage(
            "bench_seed", "--namespace", "bench", "--blobs", str(a.blobs), "--manifests", str(a.manifests), "--tags", str(a.tags),
            "--repositories", str(a.repositories), "--gc", "--json",
        ))
        self.facts["seed"] = seed
        self.log(f"  seeded in {seed['seed_seconds']} s; GC over it {seed['gc_seconds']} s")
        argv = self.moorage.production_argv() + list(a.gunicorn_arg)
        self.moorage.start(argv)
        self.facts["moorage_server"] = " ".join(argv[argv.index("-m") + 1:]).replace(str(Path.cwd()) + "/", "")
        self.facts["moorage_database"] = self.moorage.database
        self.distribution.start()
        self.m = client.Target("Moorage", "127.0.0.1", self.moorage.port)
        self.d = client.Target("Distribution", "127.0.0.1", self.distribution.port)
        self.refresh_tokens()
        # The image every request figure reads: a config, a 1 MiB layer and a manifest tagged latest.
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        layer = os.urandom(MIB)
        self.config_digest, self.layer_digest = self._digest(config), self._digest(layer)
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": self.layer_digest, "size": len(layer)}],
        }).encode()
        self.manifest_digest = self._digest(self.manifest)
        for target in (self.m, self.d):
            client.push_monolithic(target, "bench/app", config, self.config_digest)
            client.push_monolithic(target, "bench/app", layer, self.layer_digest)
            self._put_manifest(target, "bench/app", "latest", self.manifest)
        # nginx serves Moorage's own blob files, and the manifest as a file with its digest header.
        files = self.root / "nginx-root"
        (files / "manifest").mkdir(parents=True)
        (files / "manifest" / "latest").write_bytes(self.manifest)
        (files / "blobs").symlink_to(self.moorage.blob_root / "blobs")
        self.nginx = Nginx(self.root, files, self.manifest_digest, OCI_MANIFEST)
        self.nginx.start()
        self.n = client.Target("nginx", "127.0.0.1", self.nginx.port)

    def refresh_tokens(self) -> None:
        """Fresh tokens before each section (Moorage's live minutes, as Quay's do)."""
        repos = ["bench/app", "bench/tags", "bench/push", "bench/big"]
        m_token = self.moorage.token("bench", PASSWORD, [f"repository:{r}:pull,push" for r in repos] + ["registry:catalog:*"])
        d_token = self.issuer.token(
            [{"type": "repository", "name": r, "actions": ["pull", "push"]} for r in repos]
            + [{"type": "registry", "name": "catalog", "actions": ["*"]}]
        )
        self.m.authorization = f"Bearer {m_token}"
        self.d.authorization = f"Bearer {d_token}"

    @staticmethod
    def _digest(data: bytes | memoryview) -> str:
        return "sha256:" + hashlib.sha256(data).hexdigest()

    @staticmethod
    def blob_file_path(digest: str) -> str:
        hex_ = digest.split(":")[1]
        return f"/blobs/sha256/{hex_[:2]}/{hex_}"

    def _put_manifest(self, target: client.Target, repo: str, tag: str, body: bytes, conn=None) -> None:
        own = conn is None
        conn = conn or target.connection()
        try:
            response, _ = client.request(
                conn, "PUT", f"/v2/{repo}/manifests/{tag}", body=body,
                headers=target.headers(Content_Type=OCI_MANIFEST, Content_Length=str(len(body))), expect=(201,),
            )
            if response.getheader("Docker-Content-Digest") != self._digest(body):
                raise client.CheckFailed(f"{target.name}: manifest PUT answered digest {response.getheader('Docker-Content-Digest')}")
        finally:
            if own:
                conn.close()

    # -- measurements ---------------------------------------------------------------------------
    def push(self) -> None:
        a = self.args
        size = a.blob_mib * MIB
        base = bytearray(os.urandom(size))
        best = {("mono", "M"): 0.0, ("mono", "D"): 0.0, ("chunk", "M"): 0.0, ("chunk", "D"): 0.0}
        counter = 0
        for _round in range(a.rounds):
            for kind in ("mono", "chunk"):
                for key, target in (("M", self.m), ("D", self.d)):
                    counter += 1
                    base[:8] = counter.to_bytes(8, "big")  # a new blob every time: nothing to deduplicate
                    data = memoryview(bytes(base))
                    digest = self._digest(data)
                    started = time.perf_counter()
                    if kind == "mono":
                        client.push_monolithic(target, "bench/push", data, digest)
                    else:
                        client.push_chunked(target, "bench/push", data, digest, 8 * MIB)
                    best[(kind, key)] = max(best[(kind, key)], size / (time.perf_counter() - started) / 1e6)
        self.rows.append(Row(f"blob push, monolithic, {a.blob_mib} MiB", "MB/s", True, best[("mono", "M")], best[("mono", "D")],
                             target="≥1.5x D"))
        self.rows.append(Row(f"blob push, 8 MiB chunks, {a.blob_mib} MiB", "MB/s", True, best[("chunk", "M")], best[("chunk", "D")],
                             target="≥1.5x D"))

    def pull(self) -> None:
        a = self.args
        size = a.blob_mib * MIB
        data = os.urandom(size)
        digest = self._digest(data)
        for target in (self.m, self.d):
            client.push_monolithic(target, "bench/app", data, digest)
        del data
        m_path, n_path = f"/v2/bench/app/blobs/{digest}", self.blob_file_path(digest)
        for concurrency, repeat in ((1, 3), (4, 2)):
            figures = {}
            for key, target, path in (("M", self.m, m_path), ("D", self.d, m_path), ("N", self.n, n_path)):
                figures[key] = max(
                    client.pull_parallel(target, path, digest, size, concurrency=concurrency, repeat=repeat) for _ in range(a.rounds)
                )
            self.rows.append(Row(f"blob pull, concurrency {concurrency}, {a.blob_mib} MiB", "MB/s", True, figures["M"], figures["D"],
                                 figures["N"], target="≥2x D, ≥0.8x nginx"))
        # What the client alone can do: hash a buffer at memory speed (an upper bound of the measurement).
        buffer = os.urandom(64 * MIB)
        started = time.perf_counter()
        hashlib.sha256(buffer).hexdigest()
        self.facts["client_sha256_MBps"] = round(len(buffer) / (time.perf_counter() - started) / 1e6)

    def requests(self) -> None:
        a = self.args
        cases = [
            ("manifest GET by tag", "GET", "/v2/bench/app/manifests/latest", "/manifest/latest", self.manifest_digest),
            ("manifest HEAD by tag", "HEAD", "/v2/bench/app/manifests/latest", "/manifest/latest", self.manifest_digest),
            ("blob HEAD", "HEAD", f"/v2/bench/app/blobs/{self.layer_digest}", self.blob_file_path(self.layer_digest), self.layer_digest),
        ]
        for label, method, path, nginx_path, digest in cases:
            results = {}
            for key, target, p in (("M", self.m, path), ("D", self.d, path), ("N", self.n, nginx_path)):
                headers = target.headers(Accept=ACCEPT)
                best = None
                for _ in range(a.rounds):
                    if method == "HEAD":  # wrk cannot do HEAD: the raw-socket generator
                        result = load.run("127.0.0.1", target.port, p, method="HEAD", headers=headers, digest=digest,
                                          connections=16, processes=2, seconds=a.seconds)
                    else:
                        result = wrk.run(f"http://127.0.0.1:{target.port}{p}", method=method, headers=headers, digest=digest,
                                         connections=16, threads=2, seconds=a.seconds)
                    if best is None or result.requests_per_s > best.requests_per_s:
                        best = result
                results[key] = best
            tool = "raw-socket client" if method == "HEAD" else "wrk"
            self.rows.append(Row(f"{label}, c16, token ({tool})", "req/s", True, *(results[k].requests_per_s for k in "MDN"), target="≥2x D"))
            self.rows.append(Row(f"{label}, c16: p50", "ms", False, *(results[k].p50_ms for k in "MDN")))
            self.rows.append(Row(f"{label}, c16: p99", "ms", False, *(results[k].p99_ms for k in "MDN")))

        # The load generators against the ceiling, same request: what each can drive at all.
        headers = self.n.headers(Accept=ACCEPT)
        by_wrk = wrk.run(f"http://127.0.0.1:{self.n.port}/manifest/latest", headers=headers, digest=self.manifest_digest, seconds=a.seconds)
        by_raw = load.run("127.0.0.1", self.n.port, "/manifest/latest", method="GET", headers=headers, digest=self.manifest_digest, seconds=a.seconds)
        self.facts["load generators against nginx, manifest GET c16 (req/s)"] = {"wrk": round(by_wrk.requests_per_s), "raw-socket": round(by_raw.requests_per_s)}

    def listing(self) -> None:
        a = self.args
        self.log(f"Distribution: writing {a.tags} tags and {a.repositories} repositories as folders ...")
        started = time.perf_counter()
        self.distribution.seed_tags("bench/tags", self.manifest_digest, [self.config_digest, self.layer_digest], a.tags)
        self.distribution.seed_repositories("bench", a.repositories)
        self.log(f"  {time.perf_counter() - started:.0f} s")
        self.refresh_tokens()

        def first_tags(response, body) -> bool:
            # Distribution 2.8 ignores n and answers every tag, unsorted; Moorage the first 100 in order.
            tags = json.loads(body).get("tags") or []
            return len(tags) >= 100 and all(t.startswith("v") for t in tags) and (len(tags) > 100 or tags[0] == "v000000")

        def first_repos(response, body) -> bool:
            return len(json.loads(body).get("repositories") or []) == 100

        for label, path, check, target_text in (
            (f"tags/list first page (n=100) of {a.tags:,}", "/v2/bench/tags/tags/list?n=100", first_tags, "p99 < 20 ms"),
            (f"_catalog first page (n=100) of {a.repositories:,}", "/v2/_catalog?n=100", first_repos, "p99 < 20 ms"),
        ):
            figures = {}
            for key, target in (("M", self.m), ("D", self.d)):
                count = a.listing_requests if key == "M" else max(5, a.listing_requests // 20)  # Distribution answers in seconds here
                times = client.latencies(target, path, count, check)
                figures[key] = (client.percentile(times, 50), client.percentile(times, 99))
            self.rows.append(Row(f"{label}: p50", "ms", False, figures["M"][0], figures["D"][0]))
            self.rows.append(Row(f"{label}: p99", "ms", False, figures["M"][1], figures["D"][1], target=target_text))
        for label, path, key_name, expected in (
            (f"tags/list full walk (n=1000) of {a.tags:,}", "/v2/bench/tags/tags/list?n=1000", "tags", a.tags),
            (f"_catalog full walk (n=1000) of {a.repositories:,}", "/v2/_catalog?n=1000", "repositories", a.repositories),
        ):
            figures = {}
            for key, target in (("M", self.m), ("D", self.d)):
                names, pages, seconds = client.walk(target, path, key_name)
                if len(set(names)) != len(names) or len(names) < expected:
                    raise client.CheckFailed(f"{target.name}: {label}: {len(names)} names ({len(set(names))} distinct), expected {expected}")
                figures[key] = seconds * 1000
                self.facts[f"{label} pages ({target.name})"] = pages
            self.rows.append(Row(label, "ms", False, figures["M"], figures["D"]))

    def put(self) -> None:
        a = self.args
        figures = {}
        for key, target in (("M", self.m), ("D", self.d)):
            bodies = []
            for i in range(a.manifest_puts):
                body = json.loads(self.manifest)
                body["annotations"] = {"org.moorage.bench": f"{key}-{i}-{time.time_ns()}"}
                bodies.append(json.dumps(body).encode())
            errors: list[BaseException] = []

            def worker(part: list[tuple[int, bytes]]) -> None:
                conn = target.connection()
                try:
                    for i, body in part:
                        self._put_manifest(target, "bench/app", f"put-{i}", body, conn)
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    conn.close()

            indexed = list(enumerate(bodies))
            threads = [threading.Thread(target=worker, args=(indexed[w::4],)) for w in range(4)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
            figures[key] = len(bodies) / (time.perf_counter() - started)
        self.rows.append(Row("manifest PUT (new tag), concurrency 4", "req/s", True, figures["M"], figures["D"]))

    def memory(self) -> None:
        a = self.args
        block = os.urandom(16 * MIB)
        count = a.big_mib // 16
        size = count * 16 * MIB
        digest = client.generated_digest(block, count)
        growth: dict[str, float] = {}
        for key, server, target in (("M", self.moorage, self.m), ("D", self.distribution, self.d)):
            self.refresh_tokens()
            baseline = server.rss()
            peak = self._sampled(server.rss, lambda: client.push_stream(target, "bench/big", client.generated_chunks(block, count), size, digest))
            conn = target.connection()
            try:
                peak = max(peak, self._sampled(server.rss, lambda: client.pull(conn, target, f"/v2/bench/big/blobs/{digest}", digest, size)))
            finally:
                conn.close()
            growth[key] = (peak - baseline) / 1e6
            self.facts[f"rss baseline/peak MB ({target.name})"] = (round(baseline / 1e6), round(peak / 1e6))
        baseline = self.nginx.rss()
        conn = self.n.connection()
        try:
            peak = self._sampled(self.nginx.rss, lambda: client.pull(conn, self.n, self.blob_file_path(digest), digest, size))
        finally:
            conn.close()
        growth["N"] = (peak - baseline) / 1e6
        self.rows.append(Row(f"server memory growth, {a.big_mib} MiB push + pull", "MB", False, growth["M"], growth["D"], growth["N"],
                             target="< 100 MB"))

    @staticmethod
    def _sampled(rss, action) -> int:
        peak = [rss()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss())
                stop.wait(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            action()
        finally:
            stop.set()
            sampler.join()
        return max(peak[0], rss())

    # -- output ---------------------------------------------------------------------------------
    def table(self) -> str:
        def fmt(value: float | None) -> str:
            if value is None:
                return "—"
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"

        header = ["figure", "unit", "Moorage", "Distribution", "nginx", "M/D", "M/nginx", "target"]
        lines = [[r.label, r.unit + (" ↑" if r.higher_is_better else " ↓"), fmt(r.moorage), fmt(r.distribution), fmt(r.nginx),
                  r.ratio(r.distribution), r.ratio(r.nginx), r.target] for r in self.rows]
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        for line in lines:
            out.append("| " + " | ".join(str(c).ljust(w) if i < 2 or i == 7 else str(c).rjust(w) for i, (c, w) in enumerate(zip(line, widths))) + " |")
        return "\n".join(out)

    def stop_servers(self) -> None:
        for server in (self.nginx, self.distribution):
            if server is not None:
                server.stop()
        self.moorage.stop()

    def tear_down(self) -> None:
        self.stop_servers()
        self.moorage.destroy()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--quick", action="store_true", help="Small sizes, one round (a minute or two): 16 MiB blobs, 256 MiB memory blob, 10k tags, 1k repositories.")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"Comma-separated sections to run (of {','.join(SECTIONS)}).")
    parser.add_argument("--sqlite", action="store_true", help="Run Moorage on SQLite and the file cache even if PostgreSQL/Redis answer.")
    parser.add_argument("--rounds", type=int, help="Rounds per figure, best kept (default 3; --quick 1).")
    parser.add_argument("--seconds", type=float, help="wrk duration per figure (default 5; --quick 2).")
    parser.add_argument("--blob-mib", type=int, help="Blob size for push/pull (default 64).")
    parser.add_argument("--big-mib", type=int, help="Blob size for the memory figure (default 2048).")
    parser.add_argument("--tags", type=int, help="Tags in bench/tags (default 100000).")
    parser.add_argument("--repositories", type=int, help="Repositories for the catalog (default 10000).")
    parser.add_argument("--blobs", type=int, help="Seeded blob rows (default 100000).")
    parser.add_argument("--manifests", type=int, help="Seeded manifests (default 10000).")
    parser.add_argument("--manifest-puts", type=int, help="Manifest PUTs per server (default 400).")
    parser.add_argument("--listing-requests", type=int, help="Sequential requests per listing latency figure (default 200).")
    parser.add_argument("--gunicorn-arg", action="append", default=[], help="Extra gunicorn argument (repeatable), e.g. --gunicorn-arg=--workers=4.")
    parser.add_argument("--json", metavar="PATH", help="Also write the rows and facts as JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder (logs, data) for inspection.")
    parser.add_argument("--data-dir", help="Where the servers keep their data (default: /dev/shm when it has room, else the system's temporary "
                        "folder). On tmpfs the push figures measure the servers; on a VM's disk they measure its writeback (bench/README.md).")
    args = parser.parse_args(argv)
    quick = {"rounds": 1, "seconds": 2, "blob_mib": 16, "big_mib": 256, "tags": 10_000, "repositories": 1_000, "blobs": 10_000,
             "manifests": 1_000, "manifest_puts": 100, "listing_requests": 100}
    full = {"rounds": 3, "seconds": 5, "blob_mib": 64, "big_mib": 2048, "tags": 100_000, "repositories": 10_000, "blobs": 100_000,
            "manifests": 10_000, "manifest_puts": 400, "listing_requests": 200}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.data_dir is None:
        args.data_dir = _default_data_dir(need_bytes=(2 * args.big_mib + 24 * args.blob_mib) * MIB + (1 << 30))
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; have {', '.join(SECTIONS)}")
    return args


def _default_data_dir(need_bytes: int) -> str | None:
    """/dev/shm when both it and the memory behind it have ``need_bytes`` free, else None (the
    system's temporary folder)."""
    try:
        available = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable:"))
        if shutil.disk_usage("/dev/shm").free >= need_bytes and available >= 2 * need_bytes:
            return "/dev/shm"
    except (OSError, StopIteration, ValueError):
        pass
    return None


def _filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts: the longest mount point above it)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and str(path).startswith(fields[1].rstrip("/") + "/") and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    except OSError:
        pass
    return kind


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not wrk.available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    bench = Bench(args)
    started = time.monotonic()
    try:
        bench.set_up()
        for section in SECTIONS:
            if section in args.sections:
                bench.log(f"{section} ...")
                bench.refresh_tokens()
                getattr(bench, section)()
    except (client.CheckFailed, wrk.WrkFailed, RuntimeError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        if bench.rows:
            print(bench.table())
        bench.tear_down()
        return 1
    except BaseException:
        bench.tear_down()
        raise
    bench.stop_servers()  # the figures first; removing 100k tag folders takes a while
    print()
    print(f"Moorage ({bench.facts.get('moorage_database')}; {bench.facts.get('moorage_server')}) vs CNCF Distribution 2.8 (token auth) "
          f"vs nginx (sendfile), {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}")
    print(bench.table())
    seed = bench.facts.get("seed")
    if isinstance(seed, dict):
        print(f"\nSeeded (bench_seed): {seed['blobs']:,} blobs, {seed['manifests']:,} manifests, {seed['tags']:,} tags, "
              f"{seed['repositories']:,} repositories in {seed['seed_seconds']} s; GC pass over it: {seed['gc_seconds']} s "
              f"(examined {seed['gc']['tags_examined']:,} tags, {seed['gc']['manifests_examined']:,} manifests, {seed['gc']['blobs_examined']:,} blobs).")
    for key, value in bench.facts.items():
        if key not in ("seed", "moorage_database", "moorage_server"):
            print(f"  {key}: {value}")
    print(f"Total {time.monotonic() - started:.0f} s. ↑ higher is better, ↓ lower is better; ratios are Moorage's value divided by the other's.")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": [r.__dict__ for r in bench.rows], "facts": bench.facts}, indent=2, default=str))
    sys.stdout.flush()
    bench.tear_down()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
