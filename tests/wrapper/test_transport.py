"""Answers are read capped and decoded with bounds: hostile bodies cannot exhaust memory.

The servers here are raw sockets on 127.0.0.1 (tests/wrapper/hostile.py) that send what no real
server should: decompression bombs, endless chunked streams, huge error pages, lying headers.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from ei_usage import (
    AsyncClient,
    Client,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
)
from ei_usage import _transport as transport

from .hostile import HostileServer, answer, hostile, read_head

KEY = "hostile-test-key"
CT_BODY = {"success": True, "cpuComputeTime": 90, "gpuComputeTime": 30, "totalComputeTime": 2}
CAP = 64 * 1024


def client(server: HostileServer, **kwargs: Any) -> Client:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5)
    return Client(KEY, base_url=server.base_url, **kwargs)


def call(server: HostileServer, **kwargs: Any) -> Any:
    with client(server, **kwargs) as c:
        return c.compute_time(1, 2, "2024-05")


def async_call(server: HostileServer, **kwargs: Any) -> Any:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", 5)

    async def run() -> Any:
        async with AsyncClient(KEY, base_url=server.base_url, **kwargs) as c:
            return await c.compute_time(1, 2, "2024-05")

    return asyncio.run(asyncio.wait_for(run(), 30))


CALLS = [pytest.param(call, id="sync"), pytest.param(async_call, id="async")]


def bomb(size: int, *, wbits: int = 31) -> bytes:
    """``size`` zero bytes, compressed (gzip by default): about a thousandth of the size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + compressor.flush()


def chunked_forever(stop: threading.Event, piece: bytes = b"[" * 8192) -> Any:
    def script(conn: socket.socket, number: int) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        conn.sendall(b"transfer-encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
        sent = 0
        while not stop.is_set() and sent < 1 << 30:
            conn.sendall(chunk)
            sent += len(piece)

    return script


# ---- the cap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_a_gzip_bomb_stops_at_the_cap_and_is_not_retried(caller: Any) -> None:
    body = bomb(256 << 20)  # 256 MiB of zeros in about 256 KiB
    head = f"content-encoding: gzip\r\ncontent-length: {len(body)}\r\n".encode()
    with hostile(answer(head, body)) as server:
        with pytest.raises(ResponseTooLargeError) as info:
            caller(server, max_response_bytes=CAP, max_retries=3)
        assert server.requests == 1  # the same request would get the same answer
    error = info.value
    assert isinstance(error, ResponseValidationError)
    assert error.limit_bytes == CAP
    assert f"{CAP:,} bytes" in error.message
    assert error.body is None


@pytest.mark.parametrize("caller", CALLS)
def test_an_endless_chunked_stream_stops_at_the_cap(caller: Any) -> None:
    stop = threading.Event()
    with hostile(chunked_forever(stop)) as server:
        try:
            with pytest.raises(ResponseTooLargeError):
                caller(server, max_response_bytes=CAP)
        finally:
            stop.set()


@pytest.mark.parametrize("caller", CALLS)
def test_a_declared_length_over_the_cap_is_refused_before_reading(caller: Any) -> None:
    head = b"content-type: application/json\r\ncontent-length: 99999999999999999999\r\n"
    with hostile(answer(head, b"{")) as server, pytest.raises(ResponseTooLargeError):
        caller(server, max_response_bytes=CAP)


@pytest.mark.parametrize("caller", CALLS)
def test_a_huge_error_page_keeps_only_an_excerpt(caller: Any) -> None:
    page = b"<html><head><title>Bad gateway</title></head><body>" + b"x" * (8 << 20)
    head = f"content-type: text/html\r\ncontent-length: {len(page)}\r\n".encode()
    with (
        hostile(answer(head, page, status="502 Bad Gateway")) as server,
        pytest.raises(ServerError) as info,
    ):
        caller(server)
    error = info.value
    assert error.status_code == 502
    assert error.message == "Bad gateway"
    assert isinstance(error.body, str)
    assert len(error.body) <= 1025
    assert error.body.endswith("…")


@pytest.mark.parametrize("caller", CALLS)
def test_a_body_just_under_the_cap_is_read(caller: Any) -> None:
    text = json.dumps({**CT_BODY, "padding": "x" * (CAP - 200)}).encode()
    assert len(text) <= CAP
    head = f"content-type: application/json\r\ncontent-length: {len(text)}\r\n".encode()
    with hostile(answer(head, text)) as server:
        result = caller(server, max_response_bytes=CAP)
    assert result.total is not None


# ---- encodings -------------------------------------------------------------------------------


def _mock(content: bytes, encoding: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if encoding:
        headers["content-encoding"] = encoding
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(content))


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        (None, lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the standard says
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),  # raw, as some servers send
    ],
)
def test_supported_encodings_are_decoded(encoding: str | None, encode: Any) -> None:
    raw = json.dumps(CT_BODY).encode()
    body = transport.read(_mock(encode(raw), encoding), 1024, deadline=float("inf"))
    assert body == transport.Body(raw, False)


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_other_encodings_are_unreadable(encoding: str) -> None:
    with pytest.raises(transport.BodyUnreadableError, match="unsupported Content-Encoding"):
        transport.read(_mock(b"{}", encoding), 1024, deadline=float("inf"))


def test_corrupt_gzip_is_unreadable() -> None:
    with pytest.raises(transport.BodyUnreadableError, match="corrupt"):
        transport.read(_mock(b"\x1f\x8bnot gzip at all", "gzip"), 1024, deadline=float("inf"))


def test_an_unreadable_2xx_body_is_a_validation_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _mock(b"{}", "br")

    with (
        Client(KEY, transport=httpx.MockTransport(handler), max_retries=0) as c,
        pytest.raises(ResponseValidationError, match="unsupported Content-Encoding 'br'"),
    ):
        c.compute_time(1, 2, "2024-05")


def test_the_client_asks_only_for_what_it_decodes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, json=CT_BODY)

    with Client(KEY, transport=httpx.MockTransport(handler)) as c:
        c.compute_time(1, 2, "2024-05")
    assert seen == ["gzip, deflate"]


def test_decompression_never_produces_more_than_the_room_left() -> None:
    # 64 MiB of zeros arrive as one small chunk: the reader must not inflate it all.
    reader = transport._Reader(_mock(b"", "gzip"), 1000, cut=True)
    assert reader.add(bomb(64 << 20)) is True
    assert sum(len(c) for c in reader._chunks) == 1001


def test_cut_keeps_the_start_and_says_it_was_cut() -> None:
    body = transport.read(_mock(b"a" * 5000, None), 100, deadline=float("inf"), cut=True)
    assert body == transport.Body(b"a" * 100, True)
    whole = transport.read(_mock(b"a" * 100, None), 100, deadline=float("inf"), cut=True)
    assert whole == transport.Body(b"a" * 100, False)


def test_in_memory_responses_are_capped_too() -> None:
    response = httpx.Response(200, content=b"a" * 2000)
    with pytest.raises(transport.BodyTooLargeError):
        transport.read(response, 1024, deadline=float("inf"))
    assert transport.read(response, 1024, deadline=float("inf"), cut=True).truncated


# ---- memory, in a fresh process ----------------------------------------------------------------

# VmHWM, the peak resident size of this process's memory: unlike getrusage's ru_maxrss, it is
# not inherited from the (large) pytest process that forked the probe.
_PROBE = textwrap.dedent(
    """
    import re, sys
    from pathlib import Path
    from ei_usage import Client, ResponseTooLargeError
    with Client("k", base_url=sys.argv[1], max_retries=0, timeout=20) as client:
        try:
            client.compute_time(1, 2, "2024-05")
        except ResponseTooLargeError:
            pass
        else:
            raise SystemExit("expected ResponseTooLargeError")
    status = Path("/proc/self/status").read_text()
    print(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) // 1024)
    """
)


@pytest.mark.parametrize("kind", ["plain-50MiB", "gzip-1GiB"])
def test_hostile_bodies_stay_within_100_mib_of_memory(kind: str, tmp_path: Path) -> None:
    """The issue's probe: RSS of a whole client process, reading a hostile body, stays small."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux's /proc to read a process's peak memory")
    if kind == "plain-50MiB":
        body = b"[" * (50 << 20)
        # No declared length: the reader must stop by itself.
        head = "content-type: application/json\r\nconnection: close\r\n"
    else:
        body = bomb(1 << 30)
        head = f"content-encoding: gzip\r\ncontent-length: {len(body)}\r\n"
    with hostile(answer(head.encode(), body)) as server:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, server.base_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    assert done.returncode == 0, done.stderr
    peak_mib = int(done.stdout.strip())
    assert peak_mib < 100, f"peak RSS {peak_mib} MiB"
