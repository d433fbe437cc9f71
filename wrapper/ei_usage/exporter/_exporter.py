"""The exporter: a refresh loop on its own schedule, and an HTTP server answering from memory.

A scrape costs no API request and, after the first scrape of a snapshot in a given format,
no encoding either: each snapshot is encoded by prometheus-client once per format asked
(text or OpenMetrics, gzipped or not) and the bytes are kept with the snapshot.
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
import time
from datetime import timedelta
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import attrs
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, gzip_accepted

from ._collector import SnapshotCollector, families
from ._refresh import DEFAULT_FORGET_AFTER, Refresher, _now
from ._snapshot import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from datetime import datetime

    from prometheus_client.core import Metric

    from ei_usage._client import Client

    from ._sink import Sink

logger = logging.getLogger("ei_usage.exporter")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9877
DEFAULT_REFRESH = timedelta(minutes=15)


@attrs.frozen
class _Families:
    """What prometheus-client's encoders read: a fixed list of families."""

    families: Sequence[Metric]

    def collect(self) -> Iterable[Metric]:
        return self.families


@attrs.frozen(eq=False)
class _Published:
    """A snapshot, its families, and its encodings as scrapes asked for them."""

    snapshot: Snapshot
    families: _Families
    encoded: dict[tuple[str, bool], bytes] = attrs.field(factory=dict)


# What Prometheus 2.x asks for, and what a plain HTTP client (curl) asks for.
_PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
_PREPARED = ((_PROMETHEUS_ACCEPT, True), ("", False))


def _encoded(published: _Published, accept: str, gzipped: bool) -> tuple[bytes, str] | None:
    _, content_type = choose_encoder(accept)
    body = published.encoded.get((content_type, gzipped))
    return None if body is None else (body, content_type)


def _encode(published: _Published, accept: str, gzipped: bool) -> tuple[bytes, str]:
    """Return the encoding ``accept`` asks for, encoding it (once) if needed."""
    encoder, content_type = choose_encoder(accept)
    key = (content_type, gzipped)
    body = published.encoded.get(key)
    if body is None:
        body = encoder(published.families)
        if gzipped:
            body = gzip.compress(body, compresslevel=6)
        published.encoded[key] = body
    return body, content_type


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress never holds up the process's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: scrapes would flood stderr."""


class Exporter:
    """Serves a white label's usage as Prometheus metrics, refreshed on its own schedule.

    Scrapes are answered from the last published :class:`Snapshot`: any number of scrapers, at
    any interval, cost no API request. Each refresh lists the white label once, reads each
    organization's info once and its running month's compute time once, through ``client``
    (its rate limiter and throttle budget), and publishes the next snapshot whole.

    Args:
        client: the client every request goes through; an
            :class:`~ei_usage.exporter.ExporterClient` also counts requests by outcome.
        organization_id: the white-label organization you administer.
        refresh_every: the time from the start of one refresh to the start of the next.
        sink: where each refresh also writes (the history store), or None.
        forget_after: how long an organization no complete listing names (deleted, moved)
            stays served.
        concurrency: requests in flight at once during a refresh.
        clock: the current time (aware UTC); tests pass their own.
    """

    def __init__(
        self,
        client: Client,
        organization_id: int,
        *,
        refresh_every: timedelta = DEFAULT_REFRESH,
        sink: Sink | None = None,
        forget_after: timedelta = DEFAULT_FORGET_AFTER,
        concurrency: int = 8,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if refresh_every <= timedelta(0):
            raise ValueError(f"refresh_every must be positive, got {refresh_every}")
        self.refresh_every = refresh_every
        self._refresher = Refresher(
            client,
            organization_id,
            sink=sink,
            forget_after=forget_after,
            concurrency=concurrency,
            clock=clock,
        )
        # Replaced whole after each refresh: a scrape reads it with one attribute load.
        self._published = self._publish(Snapshot(organization_id))
        self._encoding = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=False)
        """A registry of the published values, for ``prometheus_client.generate_latest``."""
        self.registry.register(SnapshotCollector(lambda: self._published.families.families))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: WSGIServer | None = None
        self._server_thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot scrapes are answered from."""
        return self._published.snapshot

    @staticmethod
    def _publish(snapshot: Snapshot) -> _Published:
        """Build what scrapes read, encoded ahead for the usual scrapers.

        Done by the refresh, before the swap, so that no scrape pays for the encoding:
        Prometheus' own request (OpenMetrics, gzip) and a plain ``curl`` (text, not gzipped).
        """
        published = _Published(snapshot, _Families(families(snapshot)))
        for accept, gzipped in _PREPARED:
            _encode(published, accept, gzipped)
        return published

    def exposition(self, accept: str = "", *, gzipped: bool = False) -> tuple[bytes, str]:
        """Return the published values encoded as a scrape asks: the body and its content type.

        Args:
            accept: the scrape's ``Accept`` header (OpenMetrics when it asks for it, else the
                text format).
            gzipped: compress the body with gzip.
        """
        published = self._published
        found = _encoded(published, accept, gzipped)
        if found is not None:
            return found
        with self._encoding:  # concurrent scrapes of a new snapshot encode it once
            return _encode(published, accept, gzipped)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Answer ``GET /metrics`` (any path but ``/favicon.ico``) from the published values."""
        if environ.get("PATH_INFO") == "/favicon.ico":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
            return [b""]
        gzipped = gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", ""))
        body, content_type = self.exposition(environ.get("HTTP_ACCEPT", ""), gzipped=gzipped)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    def refresh(self) -> Snapshot:
        """Refresh once and publish the result; return it.

        Raises:
            KeyboardInterrupt: Ctrl-C while refreshing (the previous snapshot stays published).
        """
        snapshot = self._refresher.refresh(self.snapshot)
        self._published = self._publish(snapshot)
        return snapshot

    def run(self, stop: threading.Event | None = None) -> None:
        """Refresh now and every ``refresh_every`` until ``stop`` is set (or :meth:`stop`).

        An unexpected failure of one refresh is logged and counted; the next one still runs.
        """
        stop = self._stop if stop is None else stop
        interval = self.refresh_every.total_seconds()
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.refresh()
            except Exception:
                logger.exception("ei_usage: exporter: a refresh failed unexpectedly")
                self._refresher.count_unexpected()
                self._published = self._publish(self._refresher.failed(self.snapshot))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[str, int]:
        """Start answering ``/metrics`` on ``host:port`` in a daemon thread; return the address.

        Port 0 picks a free port. Binds loopback unless told otherwise.
        """
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        server_class = type("_Server", (_Server,), {"address_family": family})
        server: WSGIServer = make_server(host, port, self.wsgi_app, server_class, _QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, name="ei-usage-exporter-http", daemon=True
        )
        thread.start()
        self._server, self._server_thread = server, thread
        address = server.server_address
        return str(address[0]), int(address[1])

    def start(self) -> None:
        """Run the refresh loop in a daemon thread (see :meth:`run`)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="ei-usage-exporter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0, *, wait: bool = True) -> None:
        """Stop the refresh loop and the HTTP server.

        A refresh in flight finishes its running requests first (at most the client's
        timeout); the command line stops at once instead (Ctrl-C and SIGTERM interrupt it).

        Args:
            timeout: seconds to wait for the refresh loop's thread.
            wait: wait for the server's thread to finish (up to half a second, its polling
                interval); a process about to exit passes False.
        """
        self._stop.set()
        server, self._server = self._server, None
        if server is not None:
            if wait:
                server.shutdown()
                server.server_close()
            else:
                threading.Thread(target=server.shutdown, daemon=True).start()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
