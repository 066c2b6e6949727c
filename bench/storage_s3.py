"""Push and pull throughput through Moorage with S3 (moto's server on loopback) against the
local filesystem.

Starts a moto server and two real Moorage servers (gunicorn, ``tests/live.py``): one whose only
location is the filesystem, one whose only location is an S3 bucket in moto. Each round pushes a
random blob of ``--mib`` MiB as a chunked upload (PATCH requests of ``--chunk-mib`` MiB, then PUT;
S3 multipart underneath), a monolithic upload (one POST), and pulls it back (a streamed GET, no
redirect), checking the digest. Prints the best MB/s (10^6 bytes/s) of ``--repeat`` rounds.

moto keeps objects in memory in one Python process, so the S3 figures measure Moorage's S3 path
plus moto's own cost, not a real object store: read them as a lower bound and as a ratio.

    .venv/bin/python bench/storage_s3.py                 # 64 MiB, 8 MiB chunks, best of 3
    .venv/bin/python bench/storage_s3.py --mib 256 --repeat 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import boto3  # noqa: E402
import requests  # noqa: E402

from tests.live import LiveRegistry, free_port  # noqa: E402

MiB = 1024 * 1024
BUCKET = "moorage-bench"


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(endpoint, timeout=1)
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("moto server did not start (pip install -r requirements-dev.txt)") from None
            time.sleep(0.1)
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1").create_bucket(
        Bucket=BUCKET
    )
    return process, endpoint


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for offset in range(0, len(data), size):
        yield bytes(view[offset : offset + size])


def push_chunked(url: str, name: str, data: bytes, digest: str, chunk: int) -> None:
    session = requests.Session()
    response = session.post(f"{url}/v2/{name}/blobs/uploads/", timeout=60)
    location = response.headers["Location"]
    offset = 0
    for piece in chunks_of(data, chunk):
        target = f"{url}{location}" if location.startswith("/") else location
        response = session.patch(target, data=piece, timeout=300, headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + len(piece) - 1}"})  # fmt: skip
        assert response.status_code == 202, response.text
        location = response.headers["Location"]
        offset += len(piece)
    target = f"{url}{location}" if location.startswith("/") else location
    response = session.put(target, params={"digest": digest}, timeout=300)
    assert response.status_code == 201, response.text


def push_monolithic(url: str, name: str, data: bytes, digest: str, chunk: int) -> None:
    response = requests.post(f"{url}/v2/{name}/blobs/uploads/", params={"digest": digest}, data=data, timeout=300,
                             headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert response.status_code == 201, response.text


def pull(url: str, name: str, data: bytes, digest: str, chunk: int) -> None:
    hasher = hashlib.sha256()
    with requests.get(f"{url}/v2/{name}/blobs/{digest}", stream=True, timeout=300) as response:
        assert response.status_code == 200, response.text
        for piece in response.iter_content(MiB):
            hasher.update(piece)
    assert f"sha256:{hasher.hexdigest()}" == digest, "pulled bytes differ"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=64, help="blob size in MiB (default 64)")
    parser.add_argument("--chunk-mib", type=int, default=8, help="PATCH size in MiB (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best is printed (default 3)")
    args = parser.parse_args(argv)

    moto, endpoint = start_moto()
    s3 = {"driver": "s3", "options": {"bucket_name": BUCKET, "endpoint_url": endpoint, "access_key": "k", "secret_key": "s",
                                      "region_name": "us-east-1", "addressing_style": "path", "location": "bench"}}  # fmt: skip
    servers: dict[str, LiveRegistry] = {}
    try:
        servers["filesystem"] = LiveRegistry.create(database_url="").start()
        servers["s3 (moto)"] = LiveRegistry.create({"MOORAGE_STORAGE_LOCATIONS": json.dumps({"s3": s3})}, database_url="").start()
        operations: list[tuple[str, Callable[..., None]]] = [
            ("push, chunked", push_chunked), ("push, monolithic", push_monolithic), ("pull, streamed", pull),
        ]  # fmt: skip
        best: dict[tuple[str, str], float] = {}
        for round_number in range(args.repeat):
            for backend, server in servers.items():
                data = os.urandom(args.mib * MiB)
                digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
                for label, operation in operations:
                    name = f"bench/r{round_number}-{backend.split()[0]}"
                    started = time.perf_counter()
                    operation(server.url, name, data, digest, args.chunk_mib * MiB)
                    rate = len(data) / (time.perf_counter() - started) / 1e6
                    best[(backend, label)] = max(best.get((backend, label), 0.0), rate)
        print(f"\n{args.mib} MiB blob, {args.chunk_mib} MiB chunks, best of {args.repeat} rounds, MB/s\n")
        print(f"| {'operation':<18} | {'filesystem':>10} | {'s3 (moto)':>10} | {'s3 / fs':>7} |")
        print(f"|{'-' * 20}|{'-' * 11}:|{'-' * 11}:|{'-' * 8}:|")
        for label, _operation in operations:
            fs, s3_rate = best[("filesystem", label)], best[("s3 (moto)", label)]
            print(f"| {label:<18} | {fs:>10.0f} | {s3_rate:>10.0f} | {s3_rate / fs:>6.2f}x |")
    finally:
        for server in servers.values():
            server.destroy()
        moto.terminate()
        moto.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
