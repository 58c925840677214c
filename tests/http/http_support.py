"""Helpers of the HTTP tests (a plain module: ``tests/http`` is not a package, so that it
never shadows the standard library's ``http``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from reingest.sample import SampleLibrary

KEY = "test-key-1"
OTHER_KEY = "test-key-2"
HEADERS = {"X-Gu-Media-Key": KEY}


@dataclass(frozen=True)
class Library:
    good: list[str]
    broken: list[str]
    with_services: list[str]
    sample: SampleLibrary


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """uvicorn on 127.0.0.1 and a free port, in a thread (as httpx's own tests do); yields
    the base URL and shuts the server down afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
