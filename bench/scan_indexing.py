"""Indexing one large image layer: time, throughput and peak memory of the layer indexer.

Generates a gzip layer (written to a temp file as a stream, never held in memory) of about
``--mib`` MiB of files: this machine's dpkg status, thousands of Python ``*.dist-info`` folders
and npm packages, a jar, and large data files the indexer must skip; then indexes it in a child
process and prints the time, MB/s (compressed and uncompressed, 10^6 bytes per second) and the
child's peak RSS. The indexer reads each layer once, as a stream, so the peak RSS should stay
flat whatever the layer size.

    .venv/bin/python bench/scan_indexing.py              # ~300 MiB layer
    .venv/bin/python bench/scan_indexing.py --mib 64     # a quick look
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

MiB = 1024 * 1024


def _add(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    archive.addfile(info, io.BytesIO(data))


def generate(path: Path, mib: int) -> dict[str, int]:
    """Write the layer; returns what it holds."""
    import gzip

    counts = {"dist_info": 0, "npm": 0, "data_files": 0, "dpkg_packages": 0}
    status = Path("/var/lib/dpkg/status").read_bytes() if Path("/var/lib/dpkg/status").exists() else b"Package: a\nVersion: 1\n"
    counts["dpkg_packages"] = status.count(b"\nPackage: ") + status.startswith(b"Package: ")
    # half-compressible data (text-like runs and random bytes), so gzip does real work
    block = (os.urandom(512 * 1024) + b"moorage " * (64 * 1024))[: MiB]
    with gzip.open(path, "wb", compresslevel=1) as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        _add(archive, "etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
        _add(archive, "var/lib/dpkg/status", status)
        written = len(status)
        for i in range(3000):
            name = f"pkg{i}"
            metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.{i}.0\nLicense: MIT\n\n".encode() + b"A long description. " * 200
            _add(archive, f"usr/lib/python3/site-packages/{name}-1.{i}.0.dist-info/METADATA", metadata)
            _add(archive, f"usr/lib/python3/site-packages/{name}/__init__.py", b"x = 1\n" * 400)
            written += len(metadata) + 2400
            counts["dist_info"] += 1
        for i in range(2000):
            package = json.dumps({"name": f"npm-{i}", "version": f"2.{i}.1", "license": "ISC"}).encode()
            _add(archive, f"srv/app/node_modules/npm-{i}/package.json", package)
            _add(archive, f"srv/app/node_modules/npm-{i}/index.js", b"module.exports = 1;\n" * 200)
            written += len(package) + 4000
            counts["npm"] += 1
        jar = io.BytesIO()
        with zipfile.ZipFile(jar, "w") as zf:
            zf.writestr("META-INF/maven/org.example/lib/pom.properties", "groupId=org.example\nartifactId=lib\nversion=1.0\n")
            zf.writestr("org/example/Big.class", block * 4)
        _add(archive, "opt/lib.jar", jar.getvalue())
        written += len(jar.getvalue())
        while written < mib * MiB:
            _add(archive, f"var/data/file{counts['data_files']}.bin", block * 4)
            written += 4 * MiB
            counts["data_files"] += 1
    return counts


def index_only(path: str) -> None:
    """Child process: index the layer and print the figures as JSON."""
    from repositories.scanning.indexer import image_packages, index_layer

    started = time.perf_counter()
    with open(path, "rb") as handle:
        content = index_layer(handle)
    seconds = time.perf_counter() - started
    packages = image_packages([("sha256:bench", content.as_json())]).packages
    print(json.dumps({"seconds": seconds, "members": content.members, "packages": len(packages), "compressed": content.bytes_read}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=300, help="uncompressed size of the generated layer in MiB (default 300)")
    parser.add_argument("--index-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.index_only:
        index_only(args.index_only)
        return 0
    with tempfile.TemporaryDirectory(prefix="moorage-bench-scan-") as folder:
        path = Path(folder) / "layer.tar.gz"
        started = time.perf_counter()
        counts = generate(path, args.mib)
        print(f"generated a {path.stat().st_size / MiB:.0f} MiB gzip layer (~{args.mib} MiB uncompressed) in {time.perf_counter() - started:.0f} s: {counts}", flush=True)
        result = subprocess.run([sys.executable, __file__, "--index-only", str(path)], capture_output=True, text=True)
        if result.returncode:
            print(result.stderr, file=sys.stderr)
            return 1
        figures = json.loads(result.stdout)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        expected = counts["dist_info"] + counts["npm"] + counts["dpkg_packages"] + 1
        seconds = figures["seconds"]
        print(f"indexed {figures['members']:,} tar members, {figures['packages']:,} packages (expected {expected:,}) in {seconds:.2f} s")
        print(f"  compressed:   {figures['compressed'] / 1e6 / seconds:8.1f} MB/s  ({figures['compressed'] / 1e6:.0f} MB)")
        print(f"  uncompressed: {args.mib * MiB / 1e6 / seconds:8.1f} MB/s  ({args.mib * MiB / 1e6:.0f} MB)")
        print(f"  peak RSS of the indexing process: {peak_kib / 1024:.0f} MiB")
        if figures["packages"] != expected:
            print("package count differs from what was generated", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
