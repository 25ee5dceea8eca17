"""Allocator settings that keep the columnar engine's memory flat (issue 20).

The engine allocates and frees buffers of a few MB for every 4 MB block of the file, on five
threads (reader, typing, COPY, two index builders). With the defaults, what it frees is kept for
reuse rather than given back, and the pile grew with the file: pyarrow's default pool (mimalloc)
held about 170 MB more than Arrow had in use, and glibc's malloc, whose threshold for giving a
large block a mapping of its own rises after each such block is freed (up to 32 MB), kept numpy's
freed arrays in its heaps (46-73 MB free but resident). Measured in process (bench/RESULTS.md,
Payments ELT): peak anonymous memory at 1 M rows 342 MB with the defaults, 271 MB with these
settings, for 0.2 s more CPU per million rows.

The settings are the process's: pyarrow's default pool becomes jemalloc (the system allocator
where pyarrow has none), which gives freed pages back after a second; glibc's malloc maps every
block of 4 MB or more on its own (returned to the system when freed) and uses at most two arenas.
A lower threshold (1 MB) saved 20 MB more but cost 1 s of CPU per million rows in page faults.
A process that ingests keeps them afterwards."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import pyarrow as pa

_M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 4 << 20
ARENA_MAX = 2

_lock = threading.Lock()
_done = False


def bound_process_memory() -> None:
    """Applies the settings above once per process."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        try:
            pool = pa.jemalloc_memory_pool()
        except NotImplementedError:  # pyarrow built without jemalloc
            pool = pa.system_memory_pool()
        pa.set_memory_pool(pool)
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name) if name else None
            mallopt = libc.mallopt if libc is not None else None
        except (OSError, AttributeError):  # not glibc: its own allocator's defaults stay
            mallopt = None
        if mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            mallopt(_M_ARENA_MAX, ARENA_MAX)
