"""Many GETs in flight over reused connections: one libcurl multi handle (pycurl), driven by
one thread, shared by every thread that asks.

The data-services client is the projection's hot path (seven GETs per image), and every
microsecond a client spends in Python holds the GIL the loader needs. Per request this costs
40–60 µs of CPU here, against 90–150 µs for aiohttp, 160–240 µs for tornado's own curl client,
340–430 µs for urllib3 and 540–1,000 µs for httpx (README, "Data services over HTTP"): libcurl
parses, times out and keeps connections alive in C, and the thread below only hands finished
transfers to their futures. It is the event-driven form of libcurl's multi interface
(``socket_action``): the thread sleeps in ``poll`` on curl's sockets, its timer and a wake-up
socket that ``get_all`` writes to.

Connections are kept per host and reused by any later request (HTTP/1.1 keep-alive; over
https, HTTP/2 multiplexes them on one connection). Every request has a total deadline
(``timeout``); a transfer that fails without a response (refused, reset, timed out) fails its
future with ``TransportError``.
"""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import certifi
import orjson
import pycurl

#: curl's wish for a socket → what poll waits for
_EVENTS = {
    pycurl.POLL_IN: select.POLLIN,
    pycurl.POLL_OUT: select.POLLOUT,
    pycurl.POLL_INOUT: select.POLLIN | select.POLLOUT,
}
#: what poll saw on a socket → what curl is told
_READABLE = select.POLLIN | select.POLLHUP | select.POLLERR


@dataclass(frozen=True, slots=True)
class Response:
    """What a server answered (the parts of ``httpx.Response`` reingest reads)."""

    status_code: int
    content: bytes
    #: how long the transfer took as libcurl timed it: the network's and the server's time,
    #: not that of a thread waiting for the answer (which also queues for the GIL)
    seconds: float

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return orjson.loads(self.content)


#: not a libcurl code: the pool was closed before the transfer ended
CLOSED = -1
#: libcurl's error codes → what went wrong, in words that stay the same from one failure to the
#: next (libcurl's per-transfer message names elapsed times and byte counts, which would split
#: one cause into many failure reasons)
_FAILURES = {
    pycurl.E_COULDNT_RESOLVE_HOST: "ConnectError: could not resolve the host",
    pycurl.E_COULDNT_CONNECT: "ConnectError: could not connect to the server",
    pycurl.E_SSL_CONNECT_ERROR: "ConnectError: TLS handshake failed",
    pycurl.E_PEER_FAILED_VERIFICATION: "ConnectError: the server's certificate is not trusted",
    pycurl.E_OPERATION_TIMEDOUT: "Timeout: no complete answer in time",
    pycurl.E_GOT_NOTHING: "RemoteProtocolError: the server closed without answering",
    pycurl.E_SEND_ERROR: "WriteError: sending failed",
    pycurl.E_RECV_ERROR: "ReadError: receiving failed",
    pycurl.E_PARTIAL_FILE: "ReadError: the answer was cut short",
    CLOSED: "Closed: the client was closed",
}


class TransportError(Exception):
    """No answer: the connection was refused, reset or dropped, or the request timed out."""

    def __init__(self, code: int, seconds: float = 0.0) -> None:
        super().__init__(f"{_FAILURES.get(code, 'TransportError')} (curl error {code})")
        self.code = code
        #: how long the transfer went on before it failed
        self.seconds = seconds


#: what ``get_all`` answers: each URL's Response, or the TransportError it failed with
Answers = list[Response | TransportError]


class _Group:
    """GETs asked for together, answered together."""

    __slots__ = ("future", "headers", "outcomes", "remaining", "urls")

    def __init__(self, urls: Sequence[str], headers: Sequence[Sequence[str]] | None) -> None:
        self.urls = urls
        self.headers = headers
        self.future: Future[Answers] = Future()
        self.outcomes: list[Response | TransportError | None] = [None] * len(urls)
        self.remaining = len(urls)
        if not urls:
            self.future.set_result([])

    def settle(self, index: int, outcome: Response | TransportError) -> None:
        self.outcomes[index] = outcome
        self.remaining -= 1
        if self.remaining == 0:
            self.future.set_result(self.outcomes)  # type: ignore[arg-type]  # none left None


class CurlPool:
    """``get_all(urls)`` → a future of their answers; safe to call from any thread."""

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        timeout: float,
        connect_timeout: float,
        max_connections: int = 256,
        ca_bundle: str | None = None,
    ) -> None:
        """``ca_bundle``: the certificates to trust (default: certifi's, as httpx trusts)."""
        self._headers = [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._options: list[tuple[int, Any]] = [
            (pycurl.HTTPHEADER, self._headers),
            (pycurl.TIMEOUT_MS, max(1, round(timeout * 1000))),
            (pycurl.CONNECTTIMEOUT_MS, max(1, round(connect_timeout * 1000))),
            (pycurl.NOSIGNAL, 1),  # no SIGALRM for timeouts: we are one thread of many
            (pycurl.ACCEPT_ENCODING, ""),  # any encoding libcurl decodes, as httpx asks
            (pycurl.CAINFO, ca_bundle or certifi.where()),
        ]
        self._max_connections = max_connections
        self._submitted: deque[_Group] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False

    def get_all(
        self, urls: Sequence[str], headers: Sequence[Sequence[str]] | None = None
    ) -> Future[Answers]:
        """Start every GET at once; the future holds each URL's Response, or the
        TransportError it failed with, in order. One future per group: the caller waits (and
        is woken) once, not once per URL. ``headers``: each URL's own header lines (a
        ``Range``), sent after the pool's."""
        group = _Group(urls, headers)
        with self._lock:
            if self._closing:
                raise RuntimeError("the pool is closed")
            if self._thread is None:
                self._start()
            self._submitted.append(group)
        self._wake()
        return group.future

    def close(self) -> None:
        with self._lock:
            self._closing = True
            thread = self._thread
        if thread is not None:
            self._wake()
            thread.join()

    # -- the I/O thread ------------------------------------------------------------------------

    def _start(self) -> None:
        """Started on the first request: a pool that is never asked costs no thread."""
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_MAXCONNECTS, self._max_connections)
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        # poll, not the selectors module, whose bookkeeping in Python cost about 6 µs of this
        # thread's CPU per request (curl asks for two changes of a socket per transfer)
        self._poll = select.poll()
        self._wake_reader, self._wake_writer = socket.socketpair()
        for end in (self._wake_reader, self._wake_writer):
            end.setblocking(False)
        self._poll.register(self._wake_reader, select.POLLIN)
        self._deadline: float | None = None
        self._idle: list[pycurl.Curl] = []
        self._running: dict[pycurl.Curl, tuple[_Group, int, list[bytes]]] = {}
        self._thread = threading.Thread(target=self._run, name="curl-pool", daemon=True)
        self._thread.start()

    def _wake(self) -> None:
        with suppress(BlockingIOError):  # the socket is full of wake-ups already
            self._wake_writer.send(b"\0")

    def _run(self) -> None:
        wake_up = self._wake_reader.fileno()
        try:
            while not self._closing:
                timeout = None
                if self._deadline is not None:
                    timeout = max(0, math.ceil((self._deadline - time.monotonic()) * 1000))
                for fd, seen in self._poll.poll(timeout):
                    if fd == wake_up:
                        self._drain_wake_ups()
                        continue
                    flags = (pycurl.CSELECT_IN if seen & _READABLE else 0) | (
                        pycurl.CSELECT_OUT if seen & select.POLLOUT else 0
                    )
                    self._multi.socket_action(fd, flags)
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    self._deadline = None
                    self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
                self._start_submitted()
                self._finish_done()
        finally:
            self._shut_down()

    def _drain_wake_ups(self) -> None:
        with suppress(BlockingIOError):
            while self._wake_reader.recv(4096):
                pass

    def _start_submitted(self) -> None:
        while self._submitted:
            group = self._submitted.popleft()
            for index, url in enumerate(group.urls):
                handle = self._idle.pop() if self._idle else self._new_handle()
                chunks: list[bytes] = []
                handle.setopt(pycurl.URL, url)
                handle.setopt(pycurl.WRITEFUNCTION, chunks.append)
                if group.headers is not None:
                    handle.setopt(pycurl.HTTPHEADER, [*self._headers, *group.headers[index]])
                self._running[handle] = (group, index, chunks)
                self._multi.add_handle(handle)

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        for option, value in self._options:
            handle.setopt(option, value)
        return handle

    def _finish_done(self) -> None:
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for handle in succeeded:
                group, index, chunks = self._release(handle)
                response = Response(
                    handle.getinfo(pycurl.RESPONSE_CODE),
                    b"".join(chunks),
                    handle.getinfo(pycurl.TOTAL_TIME),
                )
                group.settle(index, response)
            for handle, code, _message in failed:
                group, index, _ = self._release(handle)
                seconds = handle.getinfo(pycurl.TOTAL_TIME)
                group.settle(index, TransportError(code, seconds))
            if not queued:
                return

    def _release(self, handle: pycurl.Curl) -> tuple[_Group, int, list[bytes]]:
        self._multi.remove_handle(handle)
        self._idle.append(handle)
        group, index, chunks = self._running.pop(handle)
        if group.headers is not None:  # the next GET on this handle sends the pool's only
            if self._headers:
                handle.setopt(pycurl.HTTPHEADER, self._headers)
            else:  # pycurl takes an empty list as no change
                handle.unsetopt(pycurl.HTTPHEADER)
        return group, index, chunks

    def _on_socket(self, what: int, fd: int, _multi: object, _data: object) -> None:
        if what in _EVENTS:  # registering again changes what poll waits for
            self._poll.register(fd, _EVENTS[what])
        else:  # POLL_REMOVE (or POLL_NONE: nothing to wait for)
            with suppress(KeyError):
                self._poll.unregister(fd)

    def _on_timer(self, timeout_ms: int) -> None:
        self._deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    def _shut_down(self) -> None:
        """Fail what is still waiting, then free libcurl's resources and the sockets."""
        with self._lock:
            self._closing = True
        for group, index, _ in self._running.values():
            group.settle(index, TransportError(CLOSED))
        for group in self._submitted:
            for index in range(len(group.urls)):
                group.settle(index, TransportError(CLOSED))
        for handle in self._running:
            self._multi.remove_handle(handle)
        for handle in [*self._running, *self._idle]:
            handle.close()
        self._multi.close()
        self._wake_reader.close()
        self._wake_writer.close()
