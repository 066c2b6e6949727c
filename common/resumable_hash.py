"""SHA-256/SHA-512 whose running state can be saved and restored.

A chunked upload may continue on another process or host, so the hash state must live with
the upload row instead of in memory. ``hashlib`` objects cannot be serialised, and the
``rehash`` package refuses OpenSSL 3. OpenSSL's low-level ``SHA256_CTX``/``SHA512_CTX`` are
plain structs with no pointers, so their bytes are the whole state: we call
``SHA256_Init/Update/Final`` through ctypes and save the struct. The block functions are the
same assembly (SHA-NI/AVX2) that hashlib uses, so throughput matches hashlib (see
``bench/hash_speed.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
from dataclasses import dataclass
from typing import Callable

_CTX_SIZES = {"sha256": 112, "sha512": 216}  # sizeof(SHA256_CTX), sizeof(SHA512_CTX) on LP64
_DIGEST_SIZES = {"sha256": 32, "sha512": 64}


def _load_libcrypto() -> ctypes.CDLL:
    # Prefer the libcrypto that Python's own _hashlib links, so both agree on versions.
    candidates = []
    found = ctypes.util.find_library("crypto")
    if found:
        candidates.append(found)
    candidates += ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"]
    last_error: OSError | None = None
    for name in candidates:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:  # pragma: no cover - depends on the machine
            last_error = exc
    raise OSError(f"OpenSSL libcrypto not found: {last_error}")


@dataclass(frozen=True)
class _Functions:
    init: Callable[..., int]
    update: Callable[..., int]
    final: Callable[..., int]


def _bind(lib: ctypes.CDLL, algorithm: str) -> _Functions:
    prefix = algorithm.upper()
    init = getattr(lib, f"{prefix}_Init")
    update = getattr(lib, f"{prefix}_Update")
    final = getattr(lib, f"{prefix}_Final")
    init.argtypes = [ctypes.c_void_p]
    update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    for fn in (init, update, final):
        fn.restype = ctypes.c_int
    return _Functions(init, update, final)


_LIB = _load_libcrypto()
_FUNCTIONS = {alg: _bind(_LIB, alg) for alg in _CTX_SIZES}

SUPPORTED_ALGORITHMS = tuple(_CTX_SIZES)


class ResumableHash:
    """A running SHA-2 digest whose state is a byte string.

    >>> h = ResumableHash.new("sha256"); h.update(b"ab")
    >>> h2 = ResumableHash.restore("sha256", h.state()); h2.update(b"c")
    >>> h2.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    True
    """

    __slots__ = ("algorithm", "_ctx", "_fns")

    def __init__(self, algorithm: str, ctx: ctypes.Array) -> None:
        self.algorithm = algorithm
        self._ctx = ctx
        self._fns = _FUNCTIONS[algorithm]

    @classmethod
    def new(cls, algorithm: str = "sha256") -> "ResumableHash":
        if algorithm not in _CTX_SIZES:
            raise ValueError(f"unsupported algorithm {algorithm!r}")
        ctx = ctypes.create_string_buffer(_CTX_SIZES[algorithm])
        if _FUNCTIONS[algorithm].init(ctx) != 1:
            raise RuntimeError(f"{algorithm}_Init failed")
        return cls(algorithm, ctx)

    @classmethod
    def restore(cls, algorithm: str, state: bytes) -> "ResumableHash":
        if algorithm not in _CTX_SIZES:
            raise ValueError(f"unsupported algorithm {algorithm!r}")
        if len(state) != _CTX_SIZES[algorithm]:
            raise ValueError(f"{algorithm} state must be {_CTX_SIZES[algorithm]} bytes, got {len(state)}")
        ctx = ctypes.create_string_buffer(bytes(state), _CTX_SIZES[algorithm])
        return cls(algorithm, ctx)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if isinstance(data, bytes):
            self._fns.update(self._ctx, data, len(data))
            return
        view = memoryview(data).cast("B")
        buffer = (ctypes.c_char * len(view)).from_buffer(view) if not view.readonly else bytes(view)
        self._fns.update(self._ctx, buffer, len(view))

    def state(self) -> bytes:
        """The current state, to be stored and later passed to :meth:`restore`."""
        return self._ctx.raw

    def copy(self) -> "ResumableHash":
        return ResumableHash.restore(self.algorithm, self.state())

    def digest(self) -> bytes:
        """The digest of everything fed so far; the running state is left untouched."""
        scratch = ctypes.create_string_buffer(self._ctx.raw, len(self._ctx))
        out = ctypes.create_string_buffer(_DIGEST_SIZES[self.algorithm])
        self._fns.final(out, scratch)
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

