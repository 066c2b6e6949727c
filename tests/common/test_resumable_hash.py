"""ResumableHash: a SHA-2 whose state can be saved, stored and restored anywhere."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest

from common.resumable_hash import SUPPORTED_ALGORITHMS, ResumableHash

ALGORITHMS = ["sha256", "sha512"]
ROOT = Path(__file__).resolve().parents[2]


def _data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("seed", range(25))
def test_saving_and_restoring_at_random_split_points_gives_hashlibs_digest(algorithm, seed):
    rng = random.Random(seed)
    # sizes around block boundaries (64/128 bytes) as well as larger bodies
    data = _data(seed, rng.choice([1, 63, 64, 65, 127, 128, 129, 1000, 70_000, 1_048_583]))
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(1, 6)))
    running = ResumableHash.new(algorithm)
    start = 0
    for cut in [*cuts, len(data)]:
        running.update(data[start:cut])
        running = ResumableHash.restore(algorithm, running.state())  # as if on another process
        start = cut
    assert running.hexdigest() == hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_input_gives_the_digest_of_nothing(algorithm):
    running = ResumableHash.new(algorithm)
    running.update(b"")
    assert running.hexdigest() == hashlib.new(algorithm, b"").hexdigest()
    assert ResumableHash.restore(algorithm, running.state()).hexdigest() == hashlib.new(algorithm).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_digest_leaves_the_running_state_untouched(algorithm):
    running = ResumableHash.new(algorithm)
    running.update(b"abc")
    assert running.hexdigest() == hashlib.new(algorithm, b"abc").hexdigest()
    running.update(b"def")
    assert running.hexdigest() == hashlib.new(algorithm, b"abcdef").hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_copy_is_independent_of_the_original(algorithm):
    original = ResumableHash.new(algorithm)
    original.update(b"shared")
    twin = original.copy()
    twin.update(b"-twin")
    assert original.hexdigest() == hashlib.new(algorithm, b"shared").hexdigest()
    assert twin.hexdigest() == hashlib.new(algorithm, b"shared-twin").hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bytearray_and_memoryview_input_hash_like_bytes(algorithm):
    data = _data(7, 5000)
    running = ResumableHash.new(algorithm)
    running.update(bytearray(data[:1000]))
    running.update(memoryview(data)[1000:3000])  # read-only view of a slice
    running.update(memoryview(bytearray(data[3000:])))  # writable view
    assert running.hexdigest() == hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_state_saved_in_one_process_resumes_in_another(algorithm):
    data = _data(11, 300_001)
    first, second = data[:123_457], data[123_457:]
    script = (
        "import sys; from common.resumable_hash import ResumableHash\n"
        f"h = ResumableHash.new({algorithm!r}); h.update(sys.stdin.buffer.read()); sys.stdout.buffer.write(h.state())"
    )
    state = subprocess.run([sys.executable, "-c", script], input=first, capture_output=True, check=True, cwd=ROOT).stdout
    resumed = ResumableHash.restore(algorithm, state)
    resumed.update(second)
    assert resumed.hexdigest() == hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("change", [-1, +1, "empty"])
def test_a_state_of_the_wrong_length_is_rejected(algorithm, change):
    state = ResumableHash.new(algorithm).state()
    bad = b"" if change == "empty" else (state[:-1] if change == -1 else state + b"\0")
    with pytest.raises(ValueError, match=f"{algorithm} state must be {len(state)} bytes"):
        ResumableHash.restore(algorithm, bad)


def test_a_sha256_state_is_not_accepted_as_sha512():
    with pytest.raises(ValueError, match="sha512 state must be"):
        ResumableHash.restore("sha512", ResumableHash.new("sha256").state())


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", ""])
def test_unsupported_algorithms_are_rejected(algorithm):
    with pytest.raises(ValueError, match="unsupported algorithm"):
        ResumableHash.new(algorithm)
    with pytest.raises(ValueError, match="unsupported algorithm"):
        ResumableHash.restore(algorithm, b"\0" * 112)


def test_supported_algorithms_are_the_ones_the_registry_accepts():
    assert set(SUPPORTED_ALGORITHMS) == {"sha256", "sha512"}
