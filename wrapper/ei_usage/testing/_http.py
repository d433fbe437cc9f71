"""A small, defensive HTTP/1.1 server on asyncio streams (GET-style requests only).

It supports exactly what a JSON API fake needs: keep-alive and pipelining, ``Content-Length``
responses, bounded request heads, request bodies read and discarded up to a small cap, and idle
and per-request timeouts. Anything it cannot frame safely is answered with an error and the
connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping

import attrs

from ei_usage._version import __version__

_LOG = logging.getLogger("ei_usage.testing")

MAX_LINE_BYTES = 8192
MAX_HEAD_BYTES = 65_536
MAX_HEADERS = 100
MAX_BODY_BYTES = 65_536
_MAX_LEADING_EMPTY_LINES = 4
_CLOSE_TIMEOUT = 1.0
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1 << 20

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"HTTP/([0-9])\.([0-9])")
_TARGET = re.compile(r"[\x21-\x7e]+")
# Control characters other than horizontal tab are never valid in a header value.
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SERVER = f"ei-usage-fake-studio/{__version__}"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# Headers whose values are secrets; a repr shows them masked.
_SECRET_HEADERS = frozenset({"x-api-key", "x-jwt-token", "authorization", "proxy-authorization"})
_MASK = "***"


def mask_header(name: str, value: str) -> str:
    """Return a header value fit for a repr or a log: credentials are replaced by ``***``.

    The scheme of an ``Authorization`` header and the names of cookies are kept, so a reader can
    still see how a credential was sent.
    """
    lowered = name.lower()
    if lowered in ("authorization", "proxy-authorization"):
        scheme, space, _ = value.partition(" ")
        return f"{scheme} {_MASK}" if space else _MASK
    if lowered in _SECRET_HEADERS:
        return _MASK
    if lowered == "cookie":
        return "; ".join(
            f"{part.partition('=')[0].strip()}={_MASK}" for part in value.split(";") if part.strip()
        )
    return value


class Headers(Mapping[str, str]):
    """Request headers: case-insensitive look-up, repeated headers joined, secrets masked in repr.

    ``headers["X-Api-Key"]`` gives the value sent (repeated headers are joined with ``", "``, or
    ``"; "`` for ``Cookie``); ``raw()`` gives the name/value pairs exactly as received, in order.
    """

    __slots__ = ("_joined", "_raw")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._raw = tuple(pairs)
        joined: dict[str, str] = {}
        for name, value in self._raw:
            key = name.lower()
            if key in joined:
                joined[key] += ("; " if key == "cookie" else ", ") + value
            else:
                joined[key] = value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def raw(self) -> tuple[tuple[str, str], ...]:
        """Return the headers as received: original names, order and repetitions, unmasked."""
        return self._raw

    def count(self, name: str) -> int:
        """Return how many times a header was sent."""
        key = name.lower()
        return sum(1 for raw_name, _ in self._raw if raw_name.lower() == key)

    def masked(self) -> dict[str, str]:
        """Return the joined headers (lower-case names) with credential values masked."""
        return {name: mask_header(name, value) for name, value in self._joined.items()}

    def __repr__(self) -> str:
        return f"Headers({self.masked()!r})"


@attrs.frozen
class HttpRequest:
    """A parsed request head (the body, if any, has been read and discarded)."""

    method: str
    target: str
    version: tuple[int, int]
    headers: Headers
    connection_id: int

    @property
    def version_text(self) -> str:
        """The version as sent, e.g. ``HTTP/1.1``."""
        return f"HTTP/{self.version[0]}.{self.version[1]}"


@attrs.frozen
class HttpResponse:
    """A response to send; ``close`` forces the connection closed after it."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = (), *, close: bool = False
) -> HttpResponse:
    """Return a JSON response."""
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return HttpResponse(status, body, JSON_CONTENT_TYPE, headers, close)


def error_response(
    status: int, message: str, headers: tuple[tuple[str, str], ...] = (), *, close: bool = False
) -> HttpResponse:
    """Return a Studio-style ``{"success": false, "error": ...}`` response."""
    return json_response(status, {"success": False, "error": message}, headers, close=close)


class _HttpError(Exception):
    """A request the server refuses to process; the connection is closed after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _DisconnectedError(Exception):
    """The client went away mid-request; there is nobody to answer."""


# None means: close the connection without answering.
Handler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]


class _DateCache:
    """The ``Date`` header value, formatted at most once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = email.utils.formatdate(second, usegmt=True)
        return self._value


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class HttpServer:
    """Serves ``handler`` over HTTP/1.1 on an asyncio loop; start and close it from that loop."""

    def __init__(self, handler: Handler, *, idle_timeout: float, request_timeout: float) -> None:
        self._handler = handler
        self._idle_timeout = idle_timeout
        self._request_timeout = request_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._connection_count = 0
        self._date = _DateCache()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host``:``port`` (0 for a free port) and return the bound address."""
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_LINE_BYTES, backlog=1024
        )
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening, abort open connections and wait until all are gone."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        self._connection_count += 1
        try:
            await self._serve(reader, writer, self._connection_count)
        except (ConnectionError, _DisconnectedError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels connections. Ending normally rather than cancelled keeps
            # asyncio's own done-callback (3.11) from reporting the cancellation as an error.
            pass
        except Exception:
            _LOG.exception("FakeStudio: unexpected error on a connection")
        finally:
            if task is not None:
                self._connections.discard(task)
            await _close(writer)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection_id: int
    ) -> None:
        while True:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    line = await self._request_line(reader)
            except TimeoutError:
                return  # an idle keep-alive connection: close it quietly
            except _HttpError as error:
                await self._refuse(reader, writer, error.status, error.message)
                return
            if line is None:
                return
            try:
                async with asyncio.timeout(self._request_timeout):
                    request = await self._request(line, reader, writer, connection_id)
            except TimeoutError:
                await self._refuse(reader, writer, 408, "Request timed out")
                return
            except _HttpError as error:
                await self._refuse(reader, writer, error.status, error.message)
                return
            response = await self._handler(request)
            if response is None:
                return
            keep_alive = _keep_alive(request) and not response.close
            await self._send(writer, response, request.method, keep_alive, request.version)
            if not keep_alive:
                return

    async def _refuse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        message: str,
    ) -> None:
        """Answer an error, then close gracefully.

        Closing a socket with unread input makes the kernel send a reset, which can destroy the
        error response before the client reads it. So: send the response, half-close, and read
        and discard what the client still sends, for a bounded time and amount.
        """
        await self._send(writer, error_response(status, message), "GET", keep_alive=False)
        if writer.can_write_eof():
            writer.write_eof()
        discarded = 0
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(_LINGER_SECONDS):
                while discarded < _LINGER_BYTES:
                    chunk = await reader.read(65_536)
                    if not chunk:
                        break
                    discarded += len(chunk)

    async def _request_line(self, reader: asyncio.StreamReader) -> bytes | None:
        for _ in range(_MAX_LEADING_EMPTY_LINES + 1):
            line = await _read_line(reader, 414, "Request line too long")
            if line is None:
                return None
            # A client may send stray empty lines between requests (RFC 9112, section 2.2).
            if line not in (b"\r\n", b"\n"):
                return line
        raise _HttpError(400, "Malformed request: expected a request line")

    async def _request(
        self,
        line: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        connection_id: int,
    ) -> HttpRequest:
        method, target, version = _parse_request_line(line)
        pairs: list[tuple[str, str]] = []
        head_bytes = len(line)
        while True:
            raw = await _read_line(reader, 431, "Request header field too large")
            if raw is None:
                raise _DisconnectedError
            if raw in (b"\r\n", b"\n"):
                break
            head_bytes += len(raw)
            if len(pairs) >= MAX_HEADERS or head_bytes > MAX_HEAD_BYTES:
                raise _HttpError(431, "Request header fields too large")
            pairs.append(_parse_header(raw))
        headers = Headers(pairs)
        if version == (1, 1) and headers.count("host") != 1:
            raise _HttpError(400, "An HTTP/1.1 request needs exactly one Host header")
        if "transfer-encoding" in headers:
            # Chunked request bodies are never needed here and framing them wrong is worse.
            raise _HttpError(501, "Transfer-Encoding in requests is not supported")
        length = _content_length(headers)
        if length > MAX_BODY_BYTES:
            raise _HttpError(413, f"Request body too large (the limit is {MAX_BODY_BYTES} bytes)")
        if length:
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            await reader.readexactly(length)  # read and discard: the API takes no bodies
        return HttpRequest(method, target, version, headers, connection_id)

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        response: HttpResponse,
        method: str,
        keep_alive: bool,
        version: tuple[int, int] = (1, 1),
    ) -> None:
        lines = [
            f"HTTP/1.1 {response.status} {_reason(response.status)}",
            f"Date: {self._date.now()}",
            f"Server: {_SERVER}",
        ]
        if response.content_type is not None:
            lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(response.body)}")
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        if not keep_alive:
            lines.append("Connection: close")
        elif version == (1, 0):
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        writer.write(head if method == "HEAD" else head + response.body)
        await writer.drain()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await writer.wait_closed()
    except (TimeoutError, OSError):
        # A peer that does not read could keep the close pending forever: cut it off.
        writer.transport.abort()


async def _read_line(reader: asyncio.StreamReader, status: int, message: str) -> bytes | None:
    """Read one line; None at end of stream (a partial last line counts as the stream ending)."""
    try:
        line = await reader.readline()
    except ValueError:
        # StreamReader.readline reports a line longer than its limit as ValueError.
        raise _HttpError(status, message) from None
    if not line.endswith(b"\n"):
        return None
    return line


def _strip_eol(line: bytes) -> bytes:
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


def _parse_request_line(line: bytes) -> tuple[str, str, tuple[int, int]]:
    try:
        text = _strip_eol(line).decode("ascii")
    except UnicodeDecodeError:
        raise _HttpError(400, "Malformed request line: not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3:
        raise _HttpError(400, "Malformed request line: expected 'METHOD target HTTP/1.1'")
    method, target, version_text = parts
    if not _TOKEN.fullmatch(method):
        raise _HttpError(400, "Malformed request line: invalid method")
    if not _TARGET.fullmatch(target):
        raise _HttpError(400, "Malformed request line: invalid request target")
    match = _VERSION.fullmatch(version_text)
    if match is None:
        raise _HttpError(400, "Malformed request line: invalid HTTP version")
    version = (int(match[1]), int(match[2]))
    if version not in ((1, 0), (1, 1)):
        raise _HttpError(505, "HTTP version not supported: use HTTP/1.1")
    return method, target, version


def _parse_header(raw: bytes) -> tuple[str, str]:
    # Latin-1 maps every byte, so obs-text in values survives; names are checked as tokens.
    text = _strip_eol(raw).decode("latin-1")
    name, colon, value = text.partition(":")
    # This also rejects obsolete line folding and whitespace before the colon (RFC 9112).
    if not colon or not _TOKEN.fullmatch(name):
        raise _HttpError(400, "Malformed header line")
    value = value.strip(" \t")
    if _BAD_VALUE.search(value):
        raise _HttpError(400, f"Malformed value in header {name}")
    return name, value


def _content_length(headers: Headers) -> int:
    if "content-length" not in headers:
        return 0
    values = {value.strip() for value in headers["content-length"].split(",")}
    if len(values) != 1:
        raise _HttpError(400, "Conflicting Content-Length values")
    (value,) = values
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise _HttpError(400, "Malformed Content-Length")
    return int(value)


def _keep_alive(request: HttpRequest) -> bool:
    tokens = {token.strip().lower() for token in request.headers.get("connection", "").split(",")}
    if "close" in tokens:
        return False
    return request.version == (1, 1) or "keep-alive" in tokens
