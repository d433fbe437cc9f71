"""An attempt ends by its deadline however slowly the server trickles bytes.

httpx's timeouts reset on every byte, so a server sending one byte every 50 ms never trips a read
timeout. These servers do exactly that, in the status line, the headers, or the body, and the
call must still end with ``APITimeoutError`` by the client's ``timeout``. The bound asserted is a
hang guard (many times the deadline), not a performance figure.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from ei_usage import APITimeoutError, AsyncClient, Client
from ei_usage import _deadline as deadline
from ei_usage import _transport as transport

from .hostile import HostileServer, hostile, read_head, send_slowly

KEY = "deadline-test-key"
TIMEOUT = 0.6
GUARD = 10.0  # before the deadline existed, these calls never ended


def trickle(where: str, stop: threading.Event) -> Any:
    body = b'{"success":true,"cpuComputeTime":1,"gpuComputeTime":1,"totalComputeTime":1}' * 50

    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        status = b"HTTP/1.1 200 OK\r\n"
        head = f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        if where == "status":
            send_slowly(conn, status + head + body, every=0.05, stop=stop)
        elif where == "headers":
            conn.sendall(status)
            send_slowly(conn, head + body, every=0.05, stop=stop)
        else:
            conn.sendall(status + head)
            send_slowly(conn, body, every=0.05, stop=stop)

    return script


def sync_call(server: HostileServer) -> None:
    with Client(KEY, base_url=server.base_url, timeout=TIMEOUT, max_retries=0) as client:
        client.compute_time(1, 2, "2024-05")


def async_call(server: HostileServer) -> None:
    async def run() -> None:
        async with AsyncClient(
            KEY, base_url=server.base_url, timeout=TIMEOUT, max_retries=0
        ) as client:
            await client.compute_time(1, 2, "2024-05")

    asyncio.run(asyncio.wait_for(run(), GUARD * 2))


@pytest.mark.parametrize("where", ["status", "headers", "body"])
@pytest.mark.parametrize("caller", [sync_call, async_call], ids=["sync", "async"])
def test_a_trickle_ends_by_the_deadline(caller: Any, where: str) -> None:
    stop = threading.Event()
    with hostile(trickle(where, stop)) as server:
        started = time.monotonic()
        try:
            with pytest.raises(APITimeoutError, match=r"deadline|in time"):
                caller(server)
        finally:
            stop.set()
        elapsed = time.monotonic() - started
    assert elapsed < GUARD, f"the call took {elapsed:.1f}s with timeout={TIMEOUT}"
    assert server.requests == 1


def test_each_retry_gets_its_own_deadline() -> None:
    stop = threading.Event()
    with hostile(trickle("body", stop)) as server:
        try:
            with (
                Client(KEY, base_url=server.base_url, timeout=TIMEOUT, max_retries=1) as client,
                pytest.raises(APITimeoutError),
            ):
                client.compute_time(1, 2, "2024-05")
        finally:
            stop.set()
    assert server.requests == 2


def test_the_sync_client_installs_the_deadline_on_its_own_transport() -> None:
    with Client(KEY) as client:
        http = client._client()
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, deadline._Backend)


def test_a_custom_transport_is_left_alone() -> None:
    import httpx

    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    assert deadline.install(mock) is False


class _SlowStream:
    """A stand-in network stream whose reads wait ``delay`` and then time out."""

    def __init__(self) -> None:
        self.timeouts: list[float | None] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        self.timeouts.append(timeout)
        time.sleep(min(timeout or 0.0, 0.05))
        raise httpcore.ReadTimeout("slow")


def test_a_stopping_call_gives_up_a_waiting_read_within_a_poll() -> None:
    import httpcore

    inner = _SlowStream()
    stream = deadline._Stream(inner)  # type: ignore[arg-type]
    stop = threading.Event()
    token = transport.ATTEMPT.set(transport.Attempt(time.monotonic() + 60, stop))
    try:
        threading.Timer(0.1, stop.set).start()
        with pytest.raises(httpcore.ReadError, match="stopped"):
            stream.read(10, 30.0)
    finally:
        transport.ATTEMPT.reset(token)
    # Reads were cut into polls no longer than POLL_SECONDS instead of one 30 s wait.
    assert inner.timeouts
    assert max(t for t in inner.timeouts if t is not None) <= deadline.POLL_SECONDS


def test_reads_get_no_more_than_what_is_left_of_the_deadline() -> None:
    import httpcore

    inner = _SlowStream()
    stream = deadline._Stream(inner)  # type: ignore[arg-type]
    token = transport.ATTEMPT.set(transport.Attempt(time.monotonic() + 0.01, None))
    try:
        with pytest.raises(httpcore.ReadTimeout):
            stream.read(10, 30.0)
        with pytest.raises(httpcore.ReadTimeout, match="deadline"):
            stream.read(10, 30.0)
    finally:
        transport.ATTEMPT.reset(token)
    assert inner.timeouts[0] is not None
    assert inner.timeouts[0] <= 0.01


def test_without_an_attempt_the_stream_passes_through() -> None:
    import httpcore

    inner = _SlowStream()
    stream = deadline._Stream(inner)  # type: ignore[arg-type]
    with pytest.raises(httpcore.ReadTimeout, match="slow"):
        stream.read(10, 0.01)
    assert inner.timeouts == [0.01]
