"""What the exporter serves: one immutable snapshot, replaced whole after each refresh.

Scrapes read the snapshot a refresh published and never wait for a refresh: a refresh builds
a new :class:`Snapshot` aside and swaps it in with one attribute assignment (atomic for Python
threads), so a scrape sees either the old values or the new ones, never a mix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, timedelta

    from ei_usage._models import ComputeTime, InnerOrganizationUsage


@attrs.frozen
class ForecastValues:
    """The forecast numbers the exporter serves for one organization.

    Attributes:
        compute_used_ratio: projected CPU + GPU compute over its entitlement at contract end.
        warn_at: when the projection crosses the warn threshold (aware UTC), or None.
        fail_at: when it crosses the fail threshold (aware UTC), or None.
    """

    compute_used_ratio: float | None
    warn_at: datetime | None
    fail_at: datetime | None


@attrs.frozen
class OrganizationSample:
    """The last values read for one inner organization.

    Attributes:
        inner_organization_id: the organization.
        name: its name as last listed ("" when never listed by name).
        usage: its contract usage and entitlements as last read, or None (never read).
        usage_fetched_at: when ``usage`` was read (aware UTC), or None.
        month: the running month's compute time as last read, or None.
        forecast: the forecast from ``usage``, or None (no forecast available).
        last_seen: when a listing last named it (aware UTC).
    """

    inner_organization_id: int
    name: str
    usage: InnerOrganizationUsage | None
    usage_fetched_at: datetime | None
    month: ComputeTime | None
    forecast: ForecastValues | None
    last_seen: datetime


@attrs.frozen
class Health:
    """How the exporter's refreshes went (counters since the exporter started).

    Attributes:
        refreshes: refreshes finished, successful or not.
        last_refresh_at: when the last refresh ended (aware UTC), or None before the first.
        last_success_at: when the last successful refresh ended (aware UTC), or None. A refresh
            succeeds when its listing was read: the values it brought are then served, even if
            some organizations could not be read (``last_complete`` says so).
        last_duration: how long the last refresh took, or None before the first.
        last_complete: whether the last refresh read everything it set out to read.
        failing_since: when the first of the refreshes failing in a row ended, or None.
        requests: HTTP requests sent, by outcome (``success``, ``throttled``, ``client_error``,
            ``server_error``, ``connection_error``, ``timeout``).
        errors: refresh errors, by what failed (``listing``, ``organization_info``,
            ``compute_time``, ``store``, ``forecast``).
        throttles: 429 answers the client absorbed.
    """

    refreshes: int = 0
    last_refresh_at: datetime | None = None
    last_success_at: datetime | None = None
    last_duration: timedelta | None = None
    last_complete: bool = False
    failing_since: datetime | None = None
    requests: Mapping[str, int] = attrs.field(factory=dict)
    errors: Mapping[str, int] = attrs.field(factory=dict)
    throttles: int = 0


@attrs.frozen
class Snapshot:
    """Everything one scrape answers with.

    Attributes:
        organization_id: the white-label organization.
        organizations: the organizations served, in id order.
        health: how the refreshes went.
    """

    organization_id: int
    organizations: tuple[OrganizationSample, ...] = ()
    health: Health = attrs.field(factory=Health)
