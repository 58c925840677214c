"""Who a worker is: an owner name that is unique per process, for claims and leases."""

from __future__ import annotations

import os
import socket
import uuid


def worker_name(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
