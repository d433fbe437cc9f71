"""The HTTP layer on raw sockets: keep-alive, pipelining, limits, malformed input, shutdown."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from ei_usage.testing import FakeStudio, Fault

KEY = "raw-key"
METRICS = "/v1/api/organizations/1/metrics"


@pytest.fixture
def raw_studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY, idle_timeout=2.0, request_timeout=2.0) as studio:
        yield studio


def connect(studio: FakeStudio) -> socket.socket:
    return socket.create_connection(("127.0.0.1", studio.port), timeout=5)


def request(
    path: str = METRICS, *, method: str = "GET", extra: str = "", version: str = "HTTP/1.1"
) -> bytes:
    return f"{method} {path} {version}\r\nHost: fake\r\nx-api-key: {KEY}\r\n{extra}\r\n".encode()


class Reader:
    """Reads whole responses (framed by Content-Length) from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self, *, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a full head: {self.buffer!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed before the whole body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status), headers, body

    def closed(self) -> bool:
        """Whether the peer closed the connection (after any buffered data)."""
        try:
            return not self.buffer and not self._fill()
        except ConnectionResetError:
            return True


def exchange(studio: FakeStudio, data: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send raw bytes, read one response, and report whether the server then closed."""
    with connect(studio) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        status, headers, body = reader.response()
        return status, headers, body, reader.closed()


def assert_still_serving(studio: FakeStudio) -> None:
    status, _, body, _ = exchange(studio, request(extra="Connection: close\r\n"))
    assert status == 200
    assert json.loads(body)["success"] is True


def test_keep_alive_serves_several_requests_on_one_connection(raw_studio: FakeStudio) -> None:
    with connect(raw_studio) as sock:
        reader = Reader(sock)
        for _ in range(5):
            sock.sendall(request())
            status, headers, body = reader.response()
            assert status == 200
            assert "connection" not in headers
            assert int(headers["content-length"]) == len(body)
            assert json.loads(body)["success"] is True
    assert len({r.connection_id for r in raw_studio.requests}) == 1


def test_pipelined_requests_are_answered_in_order(raw_studio: FakeStudio) -> None:
    paths = [METRICS, "/v1/nowhere", METRICS + "?projectVisibility=bad", METRICS]
    with connect(raw_studio) as sock:
        sock.sendall(b"".join(request(path) for path in paths))
        reader = Reader(sock)
        statuses = [reader.response()[0] for _ in paths]
    assert statuses == [200, 404, 400, 200]


def test_httpx_reuses_one_connection(studio: FakeStudio, client: httpx.Client) -> None:
    for _ in range(5):
        assert client.get("/api/organizations/1/metrics").status_code == 200
    assert len({r.connection_id for r in studio.requests}) == 1


def test_connection_close_is_honoured(raw_studio: FakeStudio) -> None:
    status, headers, _, closed = exchange(raw_studio, request(extra="Connection: close\r\n"))
    assert status == 200
    assert headers["connection"] == "close"
    assert closed


def test_http_1_0_closes_unless_keep_alive(raw_studio: FakeStudio) -> None:
    status, headers, _, closed = exchange(raw_studio, request(version="HTTP/1.0"))
    assert (status, headers["connection"], closed) == (200, "close", True)
    with connect(raw_studio) as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(request(version="HTTP/1.0", extra="Connection: keep-alive\r\n"))
            status, headers, _ = reader.response()
            assert (status, headers["connection"]) == (200, "keep-alive")


def test_head_has_headers_only(raw_studio: FakeStudio) -> None:
    with connect(raw_studio) as sock:
        reader = Reader(sock)
        sock.sendall(request(method="HEAD"))
        status, headers, _ = reader.response(head_only=True)
        assert status == 200
        assert int(headers["content-length"]) > 0
        sock.sendall(request())  # the connection is still usable and in sync
        status, _, body = reader.response()
        assert status == 200
        assert len(body) == int(headers["content-length"])


def test_response_headers(raw_studio: FakeStudio) -> None:
    status, headers, body, _ = exchange(raw_studio, request(extra="Connection: close\r\n"))
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["date"].endswith(" GMT")
    assert headers["server"].startswith("ei-usage-fake-studio/")
    assert headers["content-length"] == str(len(body))


def test_leading_empty_lines_are_tolerated(raw_studio: FakeStudio) -> None:
    status, *_ = exchange(raw_studio, b"\r\n\r\n" + request(extra="Connection: close\r\n"))
    assert status == 200


def test_absolute_form_target(raw_studio: FakeStudio) -> None:
    target = f"http://127.0.0.1:{raw_studio.port}{METRICS}"
    status, *_ = exchange(raw_studio, request(target, extra="Connection: close\r\n"))
    assert status == 200


def test_bare_lf_line_endings_are_accepted(raw_studio: FakeStudio) -> None:
    data = f"GET {METRICS} HTTP/1.1\nHost: fake\nx-api-key: {KEY}\nConnection: close\n\n".encode()
    status, *_ = exchange(raw_studio, data)
    assert status == 200


def test_a_small_body_is_read_and_discarded(raw_studio: FakeStudio) -> None:
    with connect(raw_studio) as sock:
        reader = Reader(sock)
        sock.sendall(request(extra="Content-Length: 11\r\n") + b"hello world")
        sock.sendall(request())
        assert reader.response()[0] == 200
        assert reader.response()[0] == 200  # the body was not mistaken for a request


def test_expect_100_continue(raw_studio: FakeStudio) -> None:
    with connect(raw_studio) as sock:
        reader = Reader(sock)
        sock.sendall(request(extra="Content-Length: 2\r\nExpect: 100-continue\r\n"))
        status, _, _ = reader.response(head_only=True)
        assert status == 100
        sock.sendall(b"{}")
        assert reader.response()[0] == 200


MALFORMED = [
    (b"garbage\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    (b"GET  /v1 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"G(T /v1 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /v1 HTTP/x\r\nHost: x\r\n\r\n", 400),
    (b"GET /v1 HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"GET /v1 HTTP/0.9\r\nHost: x\r\n\r\n", 505),
    (b"GET /v\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nBad : space\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nA: b\r\n  folded\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nA: b\x00c\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", 413),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\n" + b"A: " + b"a" * 10_000 + b"\r\n\r\n", 431),
    (b"GET /v1 HTTP/1.1\r\nHost: x\r\n" + b"A: b\r\n" * 101 + b"\r\n", 431),
    (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"\r\n" * 10 + b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), MALFORMED, ids=lambda v: repr(v)[:40])
def test_malformed_requests_get_an_error_and_close(
    raw_studio: FakeStudio, data: bytes, status: int
) -> None:
    got, headers, body, closed = exchange(raw_studio, data)
    assert got == status
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["success"] is False
    assert closed
    assert_still_serving(raw_studio)


def test_a_target_that_is_not_a_path_is_an_api_error_not_a_protocol_error(
    raw_studio: FakeStudio,
) -> None:
    with connect(raw_studio) as sock:
        sock.sendall(request("*") + request())
        reader = Reader(sock)
        status, _, body = reader.response()
        assert reader.response()[0] == 200  # the connection stayed usable
    assert status == 400
    assert "path" in json.loads(body)["error"]


def test_many_headers_within_limits_are_fine(raw_studio: FakeStudio) -> None:
    extra = "".join(f"X-{i}: {'v' * 100}\r\n" for i in range(90)) + "Connection: close\r\n"
    status, *_ = exchange(raw_studio, request(extra=extra))
    assert status == 200


def test_clients_that_vanish_mid_request_do_not_hurt(raw_studio: FakeStudio) -> None:
    for partial in (b"GET /v1", b"GET /v1 HTTP/1.1\r\nHost: x\r\n", request()[:-1], b""):
        with connect(raw_studio) as sock:
            sock.sendall(partial)
    with connect(raw_studio) as sock:
        sock.sendall(request(extra="Content-Length: 100\r\n") + b"short")
    assert_still_serving(raw_studio)


def test_idle_connections_are_closed() -> None:
    with FakeStudio(api_key=KEY, idle_timeout=0.2) as studio, connect(studio) as sock:
        reader = Reader(sock)
        sock.sendall(request())
        assert reader.response()[0] == 200
        sock.settimeout(3)
        started = time.monotonic()
        assert reader.closed()
        assert time.monotonic() - started < 2.5


def test_slow_requests_time_out_with_408() -> None:
    with FakeStudio(api_key=KEY, request_timeout=0.2) as studio, connect(studio) as sock:
        sock.sendall(b"GET /v1 HTTP/1.1\r\nHost: x\r\n")  # and never the empty line
        reader = Reader(sock)
        status, headers, _ = reader.response()
        assert status == 408
        assert headers["connection"] == "close"
        assert reader.closed()


def test_concurrent_requests_with_latency() -> None:
    # A liveness check that requests are served concurrently, not a benchmark: 64 requests of
    # 50 ms each would take 3.2 s one after another.
    with FakeStudio(api_key=KEY, latency=0.05) as studio:

        async def run() -> list[int]:
            async with httpx.AsyncClient(
                base_url=studio.base_url,
                headers={"x-api-key": KEY},
                timeout=10,
                transport=httpx.AsyncHTTPTransport(),
                trust_env=False,
                limits=httpx.Limits(max_connections=64),
            ) as client:
                responses = await asyncio.gather(
                    *(client.get("/api/organizations/1/metrics") for _ in range(64))
                )
            return [response.status_code for response in responses]

        started = time.monotonic()
        statuses = asyncio.run(run())
        elapsed = time.monotonic() - started
    assert statuses == [200] * 64
    assert elapsed < 2.0


def test_stop_closes_idle_and_busy_connections_promptly() -> None:
    before = set(threading.enumerate())
    studio = FakeStudio(api_key=KEY).start()
    idle = connect(studio)
    busy = connect(studio)
    errors: list[BaseException] = []
    studio.inject(Fault.slow(30))

    def slow_request() -> None:
        try:
            busy.sendall(request())
            Reader(busy).response()
        except (ConnectionError, OSError) as error:
            errors.append(error)

    thread = threading.Thread(target=slow_request)
    thread.start()
    while not studio.requests:  # wait until the slow request is being served
        time.sleep(0.01)
    started = time.monotonic()
    studio.stop()
    assert time.monotonic() - started < 3
    thread.join(5)
    assert errors  # the slow request was cut off, not answered
    with idle:
        assert Reader(idle).closed()
    busy.close()
    assert set(threading.enumerate()) <= before
