"""The client against broken and hostile servers: what is retried, what is not, and closing.

Servers are raw sockets on 127.0.0.1 (tests/wrapper/hostile.py) or FakeStudio; nothing really
waits between retries (the sleep seams are patched) unless a test says so.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import ei_usage._calls as calls_module
import ei_usage._client as client_module
from ei_usage import (
    APIConnectionError,
    AsyncClient,
    Client,
    RateLimitError,
)
from ei_usage.testing import FakeStudio, Fault

from .hostile import HostileServer, answer, closed_port, hostile, read_head

KEY = "faults-test-key"
DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: waits.append(seconds))
    monkeypatch.setattr(client_module, "_async_sleep", async_sleep)
    return waits


def _tls_server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(DATA / "selfsigned.pem", DATA / "selfsigned.key")
    return context


def _ok(conn: socket.socket, number: int) -> None:
    read_head(conn)
    body = b'{"success":true,"cpuComputeTime":1,"gpuComputeTime":1,"totalComputeTime":1}'
    conn.sendall(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


def _sync(server_url: str, **kwargs: Any) -> Any:
    with Client(KEY, base_url=server_url, timeout=5, **kwargs) as client:
        return client.compute_time(1, 2, "2024-05")


def _async(server_url: str, **kwargs: Any) -> Any:
    async def run() -> Any:
        async with AsyncClient(KEY, base_url=server_url, timeout=5, **kwargs) as client:
            return await client.compute_time(1, 2, "2024-05")

    return asyncio.run(asyncio.wait_for(run(), 30))


CALLS = [pytest.param(_sync, id="sync"), pytest.param(_async, id="async")]


# ---- not every connection failure is worth retrying --------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_an_untrusted_certificate_is_not_retried(caller: Any, no_sleep: list[float]) -> None:
    with hostile(_ok, tls=_tls_server_context()) as server:
        with pytest.raises(APIConnectionError) as info:
            caller(server.base_url, max_retries=3)
        assert server.requests == 1
    error = info.value
    assert error.transient is False
    assert "certificate" in error.message
    assert no_sleep == []


@pytest.mark.parametrize("caller", CALLS)
def test_tls_to_a_plain_http_server_is_not_retried(caller: Any) -> None:
    def plain_http(conn: socket.socket, number: int) -> None:
        conn.settimeout(5)
        conn.recv(4096)  # a TLS ClientHello, which a plain HTTP server answers with a 400
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    with hostile(plain_http) as server:
        url = server.base_url.replace("http://", "https://")
        with pytest.raises(APIConnectionError) as info:
            caller(url, max_retries=3)
        assert server.requests == 1
    assert info.value.transient is False
    assert "TLS" in info.value.message


@pytest.mark.parametrize("caller", CALLS)
@pytest.mark.parametrize(
    "garbage", [b"HELLO THERE\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n"]
)
def test_an_answer_that_is_not_http_is_not_retried(caller: Any, garbage: bytes) -> None:
    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        conn.sendall(garbage)

    with hostile(script) as server:
        with pytest.raises(APIConnectionError) as info:
            caller(server.base_url, max_retries=3)
        assert server.requests == 1
    assert info.value.transient is False


@pytest.mark.parametrize("caller", CALLS)
def test_a_dropped_connection_is_still_retried(caller: Any) -> None:
    def script(conn: socket.socket, number: int) -> None:
        if number == 1:
            read_head(conn)
            return  # hang up without answering
        _ok(conn, number)

    with hostile(script) as server:
        result = caller(server.base_url, max_retries=3)
        assert server.requests == 2
    assert result.cpu is not None


@pytest.mark.parametrize("caller", CALLS)
def test_a_refused_connection_is_retried_and_then_raised(
    caller: Any, no_sleep: list[float]
) -> None:
    with pytest.raises(APIConnectionError) as info:
        caller(f"http://127.0.0.1:{closed_port()}/v1", max_retries=2)
    assert info.value.transient is True
    assert len(no_sleep) == 2
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


# ---- Retry-After ---------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_an_absurd_retry_after_is_a_rate_limit_error(caller: Any) -> None:
    head = b"retry-after: 99999999999999\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
    with hostile(answer(head, b"{}", status="429 Too Many Requests")) as server:
        with pytest.raises(RateLimitError) as info:  # was a raw OverflowError
            caller(server.base_url, max_retries=3)
        assert server.requests == 1
    assert info.value.retry_after is not None
    assert info.value.retry_after.days == 365


def test_an_absurd_retry_after_loses_no_rows_of_a_report() -> None:
    with FakeStudio(api_key=KEY) as studio:
        studio.inject(
            Fault.response(
                429,
                '{"success": false, "error": "slow down"}',
                headers={"Retry-After": "99999999999999"},
            ),
            times=1,
        )
        with Client(KEY, base_url=studio.base_url) as client:
            report = client.compute_time_report(1, [2, 3], "2024-01..2024-03", concurrency=1)
    assert len(report.rows) == 5
    assert len(report.errors) == 1
    assert isinstance(report.errors[0].error, RateLimitError)


# ---- ids ---------------------------------------------------------------------------------------


class _Sneaky(int):
    def __str__(self) -> str:
        return "../../evil"

    def __format__(self, spec: str) -> str:
        return "../../evil"

    def __int__(self) -> int:
        return 999


def test_an_int_subclass_cannot_poison_the_route_cache() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(
            200,
            json={"success": True, "cpuComputeTime": 1, "gpuComputeTime": 1, "totalComputeTime": 1},
        )

    calls_module.compute_time_route.cache_clear()
    with Client(KEY, transport=httpx.MockTransport(handler)) as client:
        client.compute_time(_Sneaky(41), _Sneaky(42), "2024-05")
        client.compute_time(41, 42, "2024-05")
    expected = "/v1/api/organizations/41/whitelabel/organizations/42/usage/computeTime"
    assert seen == [expected, expected]


# ---- closing while calls are in flight -----------------------------------------------------------


def test_closing_a_sync_client_during_calls_raises_a_typed_error() -> None:
    release = threading.Event()

    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        release.wait(10)

    with hostile(script) as server:
        client = Client(KEY, base_url=server.base_url, timeout=10, max_retries=3)
        errors: list[BaseException] = []

        def call() -> None:
            try:
                client.compute_time(1, 2, "2024-05")
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while server.requests < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        client.close()
        release.set()
        for thread in threads:
            thread.join(20)
    assert len(errors) == 4
    for error in errors:
        # Before: a raw RuntimeError from httpx ("the client has been closed").
        assert type(error) is APIConnectionError, repr(error)
        assert error.transient is False


def test_a_closed_client_opens_a_new_pool_for_the_next_call() -> None:
    with FakeStudio(api_key=KEY) as studio:
        client = Client(KEY, base_url=studio.base_url)
        client.compute_time(1, 2, "2024-05")
        client.close()
        assert client.compute_time(1, 2, "2024-05").cpu is not None
        client.close()


def test_two_threads_first_using_one_async_client_build_one_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[httpx.AsyncClient] = []
    original = httpx.AsyncClient.__init__
    barrier = threading.Barrier(2)

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        time.sleep(0.05)  # widen the window in which a second thread could also build one
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)
    client = AsyncClient(KEY)
    outcomes: list[str] = []

    def first_use() -> None:
        async def run() -> None:
            barrier.wait(5)
            try:
                client._client()
                outcomes.append("pool")
            except RuntimeError as error:
                outcomes.append("other loop" if "another event loop" in str(error) else "?")

        asyncio.run(run())

    threads = [threading.Thread(target=first_use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(built) == 1
    assert sorted(outcomes) == ["other loop", "pool"]


def test_closing_an_async_client_during_calls_raises_a_typed_error() -> None:
    release = threading.Event()

    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        release.wait(10)

    async def run(server: HostileServer) -> list[BaseException]:
        client = AsyncClient(KEY, base_url=server.base_url, timeout=10, max_retries=3)
        calls = [asyncio.ensure_future(client.compute_time(1, 2, "2024-05")) for _ in range(3)]
        for _ in range(1000):  # until the three requests arrive, bounded
            if server.requests >= 3:
                break
            await asyncio.sleep(0.01)
        await client.aclose()
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [r for r in results if isinstance(r, BaseException)]

    with hostile(script) as server:
        try:
            errors = asyncio.run(asyncio.wait_for(run(server), 20))
        finally:
            release.set()
    assert len(errors) == 3
    for error in errors:
        assert type(error) is APIConnectionError, repr(error)
