"""One attempt on the wire: its deadline and stop flag, and reading its answer's body.

**The attempt.** ``Client._send`` sets :data:`ATTEMPT` around each attempt: the deadline by which
the whole answer must have arrived, and the event that tells a stopping call (Ctrl-C in a report,
an unreachable server) to give up. The sync client's sockets read it (:mod:`ei_usage._deadline`);
the async client bounds an attempt with ``asyncio.timeout`` instead.

**Stopping.** A stopping call must send nothing more, even when its thread had already passed
every check before the stop and was about to write (a loaded machine can hold it there for a
tenth of a second). The runners stop with a :class:`StopEvent`: the sync client's sockets write a
request under its lock and only while it is not set, and :meth:`StopEvent.set` takes the same
lock, so once it returns no request starts.

**The body.** Every answer ei-usage expects is small (under a kilobyte for usage, a few hundred
kilobytes for an organization's daily metrics), so a body is streamed and counted *after*
decompression, and reading stops as soon as it passes a cap. A 1 MiB gzip body that inflates to
1 GiB costs at most the cap: decompression is asked for no more than the room left (zlib's
``max_length``), never a whole network chunk's worth, which httpx's own decoders inflate at once.

Only ``identity``, ``gzip`` and ``deflate`` are read, and the client asks for exactly those
(``Accept-Encoding: gzip, deflate``), so an optional brotli or zstd package in the user's
environment cannot change what arrives. Anything else is reported as unreadable.
"""

from __future__ import annotations

import threading
import time
import zlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    import httpx

ACCEPT_ENCODING = "gzip, deflate"


class StopEvent(threading.Event):
    """The stop flag of a run, ordered with the requests its calls write.

    ``gate`` is held while a socket checks the flag and writes a request; :meth:`set` takes it
    too, so a request is either written before ``set`` returns or not at all.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Lock()

    def set(self) -> None:
        """Set the flag; waits for a request being written (a few hundred bytes) to finish."""
        with self.gate:
            super().set()


class Attempt(NamedTuple):
    """What the sockets need to know about the attempt they serve."""

    deadline: float  # a time.monotonic() value
    stop: threading.Event | None  # set when the call should give up as soon as it can


ATTEMPT: ContextVar[Attempt | None] = ContextVar("ei_usage_attempt", default=None)
"""The attempt the current thread's (or task's) request belongs to, if any."""


class Body(NamedTuple):
    """What was read of an answer's body."""

    content: bytes  # decoded
    truncated: bool  # more followed that was not read (only when reading with ``cut=True``)


class BodyError(Exception):
    """Reading a body failed; the client turns this into one of its exceptions."""


class BodyTooLargeError(BodyError):
    """The decoded body passed the cap (the client raises ResponseTooLargeError)."""


class BodyUnreadableError(BodyError):
    """The body's encoding is unknown or its compressed data is corrupt."""


class DeadlineError(BodyError):
    """The attempt's deadline passed while the body was arriving (an APITimeoutError)."""


class _Inflate:
    """A zlib stream that never produces more than it is asked for."""

    __slots__ = ("_fallback", "_z")

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._z = zlib.decompressobj(wbits)
        # "deflate" should be zlib-wrapped, but some servers send a raw deflate stream.
        self._fallback = raw_fallback

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return self._z.decompress(data, room)
        except zlib.error as error:
            if not self._fallback:
                raise BodyUnreadableError(f"corrupt compressed body ({error})") from None
            self._fallback = False
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.feed(data, room)
        finally:
            self._fallback = False

    def finish(self, room: int) -> bytes:
        try:
            return self._z.flush()[:room]
        except zlib.error as error:  # pragma: no cover - flush of a consumed stream
            raise BodyUnreadableError(f"corrupt compressed body ({error})") from None


def _decoder(content_encoding: str | None) -> _Inflate | None:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return None
    if encoding in ("gzip", "x-gzip"):
        return _Inflate(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return _Inflate(zlib.MAX_WBITS, raw_fallback=True)
    raise BodyUnreadableError(f"unsupported Content-Encoding {encoding[:40]!r}")


class _Reader:
    """Collects decoded chunks up to ``limit`` bytes."""

    __slots__ = ("_chunks", "_cut", "_decoder", "_limit", "_size")

    def __init__(self, response: httpx.Response, limit: int, *, cut: bool) -> None:
        self._decoder = _decoder(response.headers.get("content-encoding"))
        self._limit = limit
        self._cut = cut
        self._size = 0
        self._chunks: list[bytes] = []
        declared = response.headers.get("content-length", "")
        if not cut and declared.isascii() and declared.isdigit() and len(declared) > 18:
            raise BodyTooLargeError
        if not cut and self._decoder is None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLargeError  # no need to read what is announced as too large

    def add(self, raw: bytes) -> bool:
        """Take one raw chunk; return True when reading should stop."""
        room = self._limit - self._size + 1  # one byte more than fits shows it does not fit
        data = raw[:room] if self._decoder is None else self._decoder.feed(raw, room)
        self._size += len(data)
        self._chunks.append(data)
        return self._size > self._limit

    def finish(self, stopped: bool) -> Body:
        if not stopped and self._decoder is not None:
            tail = self._decoder.finish(self._limit - self._size + 1)
            self._size += len(tail)
            self._chunks.append(tail)
            stopped = self._size > self._limit
        if stopped and not self._cut:
            raise BodyTooLargeError
        content = b"".join(self._chunks)
        return Body(content[: self._limit], stopped)


def _in_memory(content: bytes, limit: int, *, cut: bool) -> Body:
    """Apply the cap to a body httpx already holds (an in-memory response, e.g. from a mock)."""
    if len(content) <= limit:
        return Body(content, False)
    if not cut:
        raise BodyTooLargeError
    return Body(content[:limit], True)


def read(response: httpx.Response, limit: int, *, deadline: float, cut: bool = False) -> Body:
    """Read a streamed sync response's body, decoded, up to ``limit`` bytes.

    Args:
        response: a response sent with ``stream=True``; the caller closes it.
        limit: the most decoded bytes to keep.
        deadline: the attempt's deadline (``time.monotonic()``), checked between chunks (the
            sockets check it too, when the client's own transport is in use).
        cut: keep the first ``limit`` bytes of a longer body (an error's excerpt) instead of
            failing.

    Raises:
        BodyTooLargeError: the body is longer than ``limit`` and ``cut`` is false.
        BodyUnreadableError: an unknown encoding or corrupt compressed data.
        DeadlineError: the deadline passed while reading.
        httpx.RequestError: the connection failed while reading.
    """
    if response.is_stream_consumed:
        return _in_memory(response.content, limit, cut=cut)
    reader = _Reader(response, limit, cut=cut)
    stopped = False
    chunks: Iterator[bytes] = response.iter_raw()
    for raw in chunks:
        if time.monotonic() > deadline:
            raise DeadlineError
        if reader.add(raw):
            stopped = True
            break
    return reader.finish(stopped)


async def aread(response: httpx.Response, limit: int, *, cut: bool = False) -> Body:
    """Read a streamed async response's body; see :func:`read` (the caller bounds the time)."""
    if response.is_stream_consumed:
        return _in_memory(response.content, limit, cut=cut)
    reader = _Reader(response, limit, cut=cut)
    stopped = False
    chunks: AsyncIterator[bytes] = response.aiter_raw()
    async for raw in chunks:
        if reader.add(raw):
            stopped = True
            break
    return reader.finish(stopped)
