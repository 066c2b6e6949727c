"""Run every benchmark in bench/ in turn (``make bench``); each prints its own figures.

    .venv/bin/python bench/run_all.py                # all of them
    .venv/bin/python bench/run_all.py hash_speed     # only the named ones

A benchmark is any ``bench/*.py`` except this file and names starting with ``_``. Exit status
is 1 when any benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent


def benchmark_scripts(selected: list[str]) -> list[Path]:
    """The benchmark scripts, sorted; only those named in ``selected`` when it is not empty."""
    scripts = sorted(p for p in BENCH_DIR.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if selected:
        wanted = {name.removesuffix(".py") for name in selected}
        unknown = wanted - {p.stem for p in scripts}
        if unknown:
            raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have: {', '.join(p.stem for p in scripts)}")
        scripts = [p for p in scripts if p.stem in wanted]
    return scripts


def main(argv: list[str]) -> int:
    scripts = benchmark_scripts(argv)
    failed = []
    for script in scripts:
        print(f"== bench/{script.name}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(script)], cwd=PROJECT_DIR)
        seconds = time.monotonic() - started
        print(f"-- bench/{script.name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:.0f} s\n", flush=True)
        if code:
            failed.append(script.name)
    if failed:
        print(f"{len(failed)} of {len(scripts)} benchmarks failed: {', '.join(failed)}")
        return 1
    print(f"{len(scripts)} benchmark(s) done.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
