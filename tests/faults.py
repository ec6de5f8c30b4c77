"""Fault injection for writes: every store write goes through ``os.write`` (see
``promptver.store.atomic.write_all``), so patching it reaches every file promptver writes."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def _regular(fd: int) -> bool:
    try:
        return stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        return False


@contextmanager
def disk_fills_after(monkeypatch: pytest.MonkeyPatch, budget: int, *, short: int = 0) -> Iterator[list[int]]:
    """Regular-file writes succeed for ``budget`` bytes in total, then fail with ENOSPC
    (after a partial write, as a real full disk does). ``short`` > 0 also caps every call
    at that many bytes (short writes). Yields [bytes written so far]."""
    real = os.write
    written = [0]

    def write(fd: int, data: bytes | memoryview) -> int:
        if not _regular(fd):
            return real(fd, data)
        view = memoryview(data)
        if short:
            view = view[:short]
        room = budget - written[0]
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        count = real(fd, view[:room])
        written[0] += count
        return count

    monkeypatch.setattr(os, "write", write)
    try:
        yield written
    finally:
        monkeypatch.setattr(os, "write", real)
