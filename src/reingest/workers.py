"""What every worker process shares: an owner name unique per process (for claims and leases),
and garbage-collector settings suited to long runs of batches."""

from __future__ import annotations

import gc
import os
import socket
import uuid

#: a young-generation collection every 100,000 net allocations instead of Python's 700: a
#: batch keeps thousands of small objects alive for a few milliseconds (decoded messages,
#: outcomes, claims), and each early collection walks them all again (≈ 3 % of a run)
GC_YOUNG_THRESHOLD = 100_000


def worker_name(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def settle_garbage_collector() -> None:
    """For the long-running commands, once started: what is loaded by now (modules, models'
    schemas, open backends) lives as long as the process, so full collections stop walking it
    (``gc.freeze``); young collections come less often. Cyclic garbage is still collected."""
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
