"""The exporter: a refresh loop on its own schedule, and an HTTP server answering from memory."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, start_http_server

from ._collector import SnapshotCollector, families
from ._refresh import DEFAULT_FORGET_AFTER, Refresher, _now
from ._snapshot import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.core import Metric

    from ei_usage._client import Client

    from ._sink import Sink

logger = logging.getLogger("ei_usage.exporter")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9877
DEFAULT_REFRESH = timedelta(minutes=15)


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
        empty = Snapshot(organization_id)
        # One tuple, replaced whole: a scrape reads it with one attribute load.
        self._published: tuple[Snapshot, list[Metric]] = (empty, families(empty))
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(lambda: self._published))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: WSGIServer | None = None
        self._server_thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot scrapes are answered from."""
        return self._published[0]

    def refresh(self) -> Snapshot:
        """Refresh once and publish the result; return it.

        Raises:
            KeyboardInterrupt: Ctrl-C while refreshing (the previous snapshot stays published).
        """
        snapshot = self._refresher.refresh(self.snapshot)
        self._published = (snapshot, families(snapshot))
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
                snapshot = self._refresher.failed(self.snapshot)
                self._published = (snapshot, families(snapshot))
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def serve(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[str, int]:
        """Start answering ``/metrics`` on ``host:port`` in a daemon thread; return the address.

        Port 0 picks a free port. Binds loopback unless told otherwise.
        """
        server, thread = start_http_server(port, addr=host, registry=self.registry)
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
