"""Throughput of ResumableHash against hashlib, for SHA-256 and SHA-512.

An upload hashes its body in 1 MiB chunks while streaming it to storage. A chunked (PATCH)
upload restores the hash state from the upload row when a request starts and saves it when the
request ends, so the worst case is one save + restore per chunk; that is the third row of each
algorithm. Figures are MB/s (10^6 bytes per second), the best of ``--repeat`` rounds, and every
run checks that all three produce hashlib's digest.

    .venv/bin/python bench/hash_speed.py            # 512 MiB per run, 1 MiB chunks
    .venv/bin/python bench/hash_speed.py --mib 64   # a quick look
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import ssl
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from common.resumable_hash import ResumableHash

MiB = 1024 * 1024
DISTINCT_CHUNKS = 16  # cycled, so the data is not one chunk repeated and fits in memory


def _hashlib_digest(algorithm: str, chunks: list[bytes], count: int) -> str:
    digest = hashlib.new(algorithm)
    for index in range(count):
        digest.update(chunks[index % len(chunks)])
    return digest.hexdigest()


def _resumable_digest(algorithm: str, chunks: list[bytes], count: int) -> str:
    digest = ResumableHash.new(algorithm)
    for index in range(count):
        digest.update(chunks[index % len(chunks)])
    return digest.hexdigest()


def _resumable_save_restore_digest(algorithm: str, chunks: list[bytes], count: int) -> str:
    state = ResumableHash.new(algorithm).state()
    for index in range(count):
        digest = ResumableHash.restore(algorithm, state)  # request starts: load the upload row
        digest.update(chunks[index % len(chunks)])
        state = digest.state()  # request ends: save it back
    return ResumableHash.restore(algorithm, state).hexdigest()


IMPLEMENTATIONS: list[tuple[str, Callable[[str, list[bytes], int], str]]] = [
    ("hashlib", _hashlib_digest),
    ("ResumableHash", _resumable_digest),
    ("ResumableHash + save/restore per chunk", _resumable_save_restore_digest),
]


def best_throughputs(algorithm: str, chunks: list[bytes], count: int, repeat: int) -> list[float]:
    """Best MB/s of each implementation over ``repeat`` rounds.

    The implementations take turns within each round, so a burst of load on a shared machine
    hits all of them alike. Raises SystemExit when a digest differs from hashlib's.
    """
    best = [0.0] * len(IMPLEMENTATIONS)
    for _ in range(repeat):
        expected = None
        for index, (label, run) in enumerate(IMPLEMENTATIONS):
            started = time.perf_counter()
            result = run(algorithm, chunks, count)
            elapsed = time.perf_counter() - started
            best[index] = max(best[index], count * len(chunks[0]) / elapsed / 1e6)
            expected = expected or result
            if result != expected:
                raise SystemExit(f"{algorithm} {label}: digest mismatch ({result} != {expected})")
    return best


def save_restore_cost_us(algorithm: str, iterations: int = 200_000) -> float:
    """Microseconds for one ``state()`` + ``restore()`` pair."""
    digest = ResumableHash.new(algorithm)
    digest.update(b"x" * 100)
    started = time.perf_counter()
    for _ in range(iterations):
        digest = ResumableHash.restore(algorithm, digest.state())
    return (time.perf_counter() - started) / iterations * 1e6


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=512, help="data hashed per run, in MiB (default 512)")
    parser.add_argument("--chunk-kib", type=int, default=1024, help="chunk size in KiB (default 1024)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best of each row is shown (default 5)")
    options = parser.parse_args(argv)

    chunk_size = options.chunk_kib * 1024
    count = max(1, options.mib * MiB // chunk_size)
    chunks = [os.urandom(chunk_size) for _ in range(DISTINCT_CHUNKS)]
    print(f"hash_speed: {count * chunk_size / MiB:.0f} MiB per run in {chunk_size // 1024} KiB chunks, best of {options.repeat}")
    print(f"machine:    {_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {ssl.OPENSSL_VERSION}")
    print()
    header = f"{'algorithm':<10} {'implementation':<40} {'MB/s':>8} {'vs hashlib':>11}"
    print(header)
    print("-" * len(header))
    for algorithm in ("sha256", "sha512"):
        speeds = best_throughputs(algorithm, chunks, count, options.repeat)
        for (label, _run), speed in zip(IMPLEMENTATIONS, speeds, strict=True):
            print(f"{algorithm:<10} {label:<40} {speed:>8.0f} {speed / speeds[0]:>10.2f}x", flush=True)
    print()
    costs = ", ".join(f"{algorithm} {save_restore_cost_us(algorithm):.2f} us" for algorithm in ("sha256", "sha512"))
    print(f"one state() + restore(): {costs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
