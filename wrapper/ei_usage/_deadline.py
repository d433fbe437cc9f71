"""A deadline for each attempt of a sync call, enforced at the socket.

httpx's timeouts limit each network operation, not an attempt: a server that trickles one byte a
second never trips a 30 s read timeout, and held a call for minutes. The sync client therefore
wraps httpcore's network backend: every connect and read of an attempt gets at most what is left
of that attempt's deadline, and when the attempt's call is being stopped (Ctrl-C during a
report, an unreachable server), a read wakes every :data:`POLL_SECONDS` to notice.

The attempt is found through :data:`ei_usage._transport.ATTEMPT`, which ``Client._send`` sets:
httpcore runs a sync request on the calling thread, and each thread has its own context, so the
variable always belongs to the request the socket is serving. Without one (a connection used
outside ``_send``) the wrapper changes nothing.

The async client needs none of this: ``asyncio.timeout`` bounds the whole attempt.

This module loads when the first sync connection pool opens, so ``import ei_usage`` does not pay
for httpcore.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpcore

from ._transport import ATTEMPT, Attempt, StopEvent

if TYPE_CHECKING:
    import ssl
    import threading
    from collections.abc import Iterable

    import httpx

POLL_SECONDS = 0.2
"""How often a read waiting on a stopping call checks whether it should give up."""


def _limit(attempt: Attempt, timeout: float | None) -> float:
    """Return the seconds an operation may take: the smaller of its timeout and what is left."""
    if attempt.stop is not None and attempt.stop.is_set():
        # A ReadError, not a timeout: the caller sees the stop flag and reports the stop itself.
        raise httpcore.ReadError("the call was stopped")
    left = attempt.deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the attempt's deadline passed")
    return left if timeout is None else min(timeout, left)


def _unless_stopped(stop: threading.Event) -> None:
    if stop.is_set():
        # Like a failed connection to the caller, which sees the flag and reports the stop.
        raise httpcore.WriteError("the call was stopped before its request was written")


class _Stream(httpcore.NetworkStream):
    __slots__ = ("_stream",)

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        attempt = ATTEMPT.get()
        if attempt is None:
            return self._stream.read(max_bytes, timeout)
        limit = _limit(attempt, timeout)
        if attempt.stop is None or limit <= POLL_SECONDS:
            return self._stream.read(max_bytes, limit)
        end = time.monotonic() + limit
        while True:
            try:
                return self._stream.read(max_bytes, min(POLL_SECONDS, end - time.monotonic()))
            except httpcore.ReadTimeout:
                if time.monotonic() >= end:
                    raise
                _limit(attempt, None)  # raises once the call is stopped

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A request is a few hundred bytes: it always fits the socket's buffer, so a write never
        # waits on the server, and httpx's own write timeout is enough.
        attempt = ATTEMPT.get()
        stop = None if attempt is None else attempt.stop
        if stop is None:
            self._stream.write(buffer, timeout)
        elif isinstance(stop, StopEvent):
            # Under the lock StopEvent.set takes: a stopped call writes nothing, however late
            # its thread got here (see ei_usage._transport).
            with stop.gate:
                _unless_stopped(stop)
                self._stream.write(buffer, timeout)
        else:
            _unless_stopped(stop)
            self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        attempt = ATTEMPT.get()
        limit = timeout if attempt is None else _limit(attempt, timeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, limit))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    __slots__ = ("_backend",)

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        attempt = ATTEMPT.get()
        limit = timeout if attempt is None else _limit(attempt, timeout)
        return _Stream(self._backend.connect_tcp(host, port, limit, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        attempt = ATTEMPT.get()
        limit = timeout if attempt is None else _limit(attempt, timeout)
        return _Stream(self._backend.connect_unix_socket(path, limit, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def install(transport: httpx.BaseTransport) -> bool:
    """Make ``transport``'s sockets keep attempt deadlines; return whether they now do.

    Works on httpx's own ``HTTPTransport`` (and its proxy variants), whose connection pool keeps
    its network backend in an attribute that has not changed across the httpx versions ei-usage
    supports; another transport (a test's ``MockTransport``) is left alone, and the client then
    checks the deadline between chunks of the answer only.
    """
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, _Backend):
        return True
    if not isinstance(backend, httpcore.NetworkBackend):
        return False
    pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return True
