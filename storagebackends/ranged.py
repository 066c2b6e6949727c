"""A streamed reader over ranged GETs, for object stores whose SDKs buffer whole responses.

Reads fetch one window (a few MiB) at a time, so memory stays bounded whatever the object's
size. ``fetch(start, length)`` returns the bytes of that range of one fixed object version
(the backends pin the ETag or generation seen when the reader was opened).
"""

from __future__ import annotations

import io
from typing import Callable

#: Bytes fetched per ranged GET.
WINDOW = 4 * 1024 * 1024


class RangedReader(io.RawIOBase):
    def __init__(self, fetch: Callable[[int, int], bytes], start: int, size: int, window: int = WINDOW) -> None:
        super().__init__()
        self._fetch = fetch
        self._position = min(start, size)
        self._size = size
        self._window = window
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # noqa: ANN001 - a writable buffer
        if not self._buffer:
            if self._position >= self._size:
                return 0
            length = min(self._window, self._size - self._position)
            self._buffer = memoryview(self._fetch(self._position, length))
            if not self._buffer:
                raise OSError(f"object ended at {self._position} bytes, expected {self._size}")
            self._position += len(self._buffer)
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]  # a view: no copy
        return count

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        return super().read(size)

    def readall(self) -> bytes:
        parts = []
        while True:
            chunk = self.read(self._window)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
