"""A Prometheus exporter of a white label's usage: ``ei-usage exporter`` and its parts.

It refreshes on its own schedule (one listing, one organization info per organization, the
running month's compute time per organization) and answers scrapes from memory, so scrapers cost
no API request::

    from ei_usage.exporter import Exporter, ExporterClient

    client = ExporterClient.from_env()
    exporter = Exporter(client, 1)
    exporter.serve("127.0.0.1", 9877)  # /metrics
    exporter.run()                      # refresh now and every 15 minutes

Needs the ``exporter`` extra (``prometheus-client``); ``from ei_usage import Client`` never
imports it.
"""

from ._exporter import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REFRESH, Exporter
from ._refresh import DEFAULT_FORGET_AFTER, ExporterClient, Refresher, running_month
from ._sink import Sink
from ._snapshot import ForecastValues, Health, OrganizationSample, Snapshot

__all__ = [
    "DEFAULT_FORGET_AFTER",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_REFRESH",
    "Exporter",
    "ExporterClient",
    "ForecastValues",
    "Health",
    "OrganizationSample",
    "Refresher",
    "Sink",
    "Snapshot",
    "running_month",
]
