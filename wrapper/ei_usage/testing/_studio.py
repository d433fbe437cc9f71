"""FakeStudio: a local HTTP simulator of the Studio operations the ei-usage client calls."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType, TracebackType
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from ._faults import Fault, FaultKind, JsonValue
from ._http import (
    JSON_CONTENT_TYPE,
    Headers,
    HttpRequest,
    HttpResponse,
    HttpServer,
    error_response,
    json_response,
)
from ._model import (
    DEFAULT_NOW,
    DEFAULT_ORGANIZATION_ID,
    Credential,
    CredentialKind,
    FakeOrganization,
    Operation,
    _varied,
    contract_usage_us,
    current_contract_start,
    default_organizations,
    organization_table,
)
from ._params import (
    ParameterError,
    parse_bool,
    parse_count,
    parse_date_time,
    parse_filters,
    parse_sort,
    parse_visibility,
    single,
)
from ._quirks import ListingQuirks, replace_fields
from ._ratelimit import TokenBuckets
from ._usage import DAY_MS, ShapedUsageTable, UsageTable, _mix, to_epoch_ms

_LOG = logging.getLogger("ei_usage.testing")

_ALLOWED_METHODS: Final = ("GET", "HEAD")
_ALLOW = (("Allow", ", ".join(_ALLOWED_METHODS)),)
_PREFIX: Final = ("", "v1", "api", "organizations")
_ID = re.compile(r"[0-9]{1,18}")
_MAX_QUERY_FIELDS = 100
_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60_000_000

DEFAULT_PAGE_SIZE: Final = 50
"""Organizations per listing page when the request gives no ``limit`` (the spec gives none)."""

MAX_PAGE_SIZE: Final = 1000
"""The largest ``limit`` a listing accepts; a larger one is a 400, not silently clamped."""

_RATE_LIMITED_MESSAGE = "Too many requests, please try again later"
_DAILY_METRICS_DAYS = 365
_MAX_CACHED_ORDERS = 256
_SMALL_REPR = 12
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Now: TypeAlias = datetime | Callable[[], datetime]
"""What ``now`` may be: a fixed aware datetime, or a callable returning one on each request."""


@attrs.frozen
class RecordedRequest:
    """A request the fake received, as it arrived on the wire.

    Attributes:
        method: The method, e.g. ``GET``.
        target: The request target exactly as sent, e.g.
            ``/v1/api/organizations/1/metrics?excludeEdgeImpulseUsers=true``.
        path: The path part of the target, not percent-decoded.
        query_string: The query part of the target (after ``?``), not decoded.
        query: The decoded query parameters (``+`` read as a space, as in form encoding), each
            name with its values in order; empty if the query could not be decoded.
        headers: The request headers; values are unmasked on access but masked in any repr.
        operation: The operation the path routes to, or None for an unknown route.
        status: The status answered, or None if the connection was dropped by a fault.
        http_version: ``HTTP/1.1`` or ``HTTP/1.0``.
        connection_id: Numbers the connections of one server run from 1: requests sent on one
            kept-alive connection share it.
    """

    method: str
    target: str
    path: str
    query_string: str
    query: Mapping[str, tuple[str, ...]]
    headers: Headers
    operation: Operation | None
    status: int | None
    http_version: str
    connection_id: int

    def param(self, name: str) -> str | None:
        """Return the first decoded value of a query parameter, None if it was not sent."""
        values = self.query.get(name)
        return values[0] if values else None


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.define
class _PendingFault:
    fault: Fault
    remaining: int
    operation: Operation | None


@attrs.frozen
class _Running:
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    host: str
    port: int


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _js_number(value: float) -> int | float:
    # Studio is JavaScript: JSON.stringify writes 12.0 as 12. Clients must cope with both.
    return int(value) if value.is_integer() else value


def _iso_z(moment: datetime) -> str:
    """Format like JavaScript's ``Date.prototype.toISOString``: UTC, milliseconds, ``Z``."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def _iso_ms(epoch_ms: int) -> str:
    return _iso_z(_EPOCH + timedelta(milliseconds=epoch_ms))


def _contract_year_start_ms(contract_start: datetime, end_ms: int) -> int:
    """Return the latest yearly anniversary of ``contract_start`` before ``end_ms``."""
    years = contract_start.year - (_EPOCH + timedelta(milliseconds=end_ms)).year
    for back in range(max(0, years), years + 3):
        moment = _years_before(contract_start, back)
        if moment is None:
            break
        if to_epoch_ms(moment) < end_ms:
            return to_epoch_ms(moment)
    return -(1 << 62)  # before any usage: the caller clips to created_at


def _years_before(moment: datetime, years: int) -> datetime | None:
    year = moment.year - years
    if not 1 <= year <= 9999:
        return None
    try:
        return moment.replace(year=year)
    except ValueError:
        return moment.replace(year=year, day=28)  # 29 February in a common year


def _parse_id(name: str, text: str) -> int:
    if not _ID.fullmatch(text):
        raise _ApiError(400, f"Invalid {name} {text!r}: expected a non-negative integer")
    return int(text)


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    if target[:8].lower().startswith(("http://", "https://")):
        parts = urlsplit(target)  # absolute-form, as sent to proxies
        return parts.path or "/", parts.query
    raise _ApiError(400, "Invalid request target: expected a path such as /v1/api/...")


def _route(path: str) -> tuple[Operation, tuple[str, ...]] | None:
    """Match a path to an operation and its raw (decoded, not yet validated) id segments."""
    try:
        segments = [unquote(segment, errors="strict") for segment in path.split("/")]
    except UnicodeDecodeError:
        raise _ApiError(400, "Invalid path: percent-encoding is not valid UTF-8") from None
    if tuple(segments[:4]) != _PREFIX:
        return None
    rest = segments[4:]
    if len(rest) == 2 and rest[1] == "metrics":
        return Operation.METRICS, (rest[0],)
    if len(rest) < 3 or rest[1:3] != ["whitelabel", "organizations"]:
        return None
    if len(rest) == 3:
        return Operation.ORGANIZATIONS, (rest[0],)
    if len(rest) == 4 and rest[3]:  # not a trailing slash
        return Operation.ORGANIZATION_INFO, (rest[0], rest[3])
    if len(rest) == 6 and rest[4:] == ["usage", "computeTime"]:
        return Operation.COMPUTE_TIME, (rest[0], rest[3])
    return None


def _parse_query(query_string: str) -> tuple[dict[str, tuple[str, ...]], str | None]:
    try:
        pairs = parse_qsl(
            query_string,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except ValueError as error:
        # UnicodeDecodeError is a ValueError, and so is exceeding max_num_fields.
        return {}, f"Invalid query string: {error}"
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in grouped.items()}, None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


@attrs.frozen
class _Entry:
    """An organization as listings need it: its encoded item and its sort and filter keys."""

    organization: FakeOrganization
    item_json: bytes
    name_key: str
    created_ms: int
    inactive_ms: int | None


def _listing_item(organization: FakeOrganization) -> dict[str, JsonValue]:
    item: dict[str, JsonValue] = {
        "id": organization.id,
        "name": organization.name,
        "created": _iso_z(organization.created_at),
    }
    if organization.whitelabel_id is not None:
        item["whitelabelId"] = organization.whitelabel_id
    item["billable"] = organization.billable
    item["privateProjectCount"] = organization.private_project_count
    item["entitlementLimits"] = dict(organization.entitlements.to_json())
    return item


def _bad_item(entry: _Entry, bad: Mapping[int, Mapping[str, JsonValue]]) -> bytes:
    item = json.loads(entry.item_json)
    replace_fields(item, bad[entry.organization.id], add=True)
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()


def _entry(organization: FakeOrganization) -> _Entry:
    inactive = organization.inactive_for
    return _Entry(
        organization,
        json.dumps(_listing_item(organization), separators=(",", ":"), ensure_ascii=False).encode(),
        organization.name.casefold(),
        to_epoch_ms(organization.created_at),
        None if inactive is None else inactive // timedelta(milliseconds=1),
    )


_SORT_KEYS: Mapping[str, Callable[[_Entry], Any]] = {
    "id": lambda entry: entry.organization.id,
    "name": lambda entry: (entry.name_key, entry.organization.name),
    "created": lambda entry: entry.created_ms,
}

_OrderKey: TypeAlias = tuple[int, tuple[tuple[str, bool], ...], bool, bool | None]


class _Catalog:
    """An immutable snapshot of the organizations, with listing orders computed once.

    The studio swaps in a new catalog whenever an organization changes, so a listing request
    never sorts: it takes a cached order, filters it only for ``search`` or ``active``, and
    slices the page out of it.
    """

    __slots__ = ("_entries", "_orders", "organizations")

    def __init__(
        self, organizations: dict[int, FakeOrganization], previous: _Catalog | None = None
    ) -> None:
        self.organizations: Mapping[int, FakeOrganization] = organizations
        self._entries: dict[int, _Entry] = {}
        self._orders: dict[_OrderKey, tuple[_Entry, ...]] = {}
        if previous is not None:
            # Organizations that did not change keep their encoded items.
            for organization_id, entry in previous._entries.items():
                if organizations.get(organization_id) is entry.organization:
                    self._entries[organization_id] = entry

    def entry(self, organization: FakeOrganization) -> _Entry:
        entry = self._entries.get(organization.id)
        if entry is None or entry.organization is not organization:
            entry = self._entries[organization.id] = _entry(organization)
        return entry

    def inner(self, admin: FakeOrganization) -> list[FakeOrganization]:
        """The known inner organizations of a white label, in id order, deleted ones included."""
        organizations = self.organizations
        return [
            organizations[i] for i in sorted(admin.whitelabel_inner_ids or ()) if i in organizations
        ]

    def listing(
        self,
        admin: FakeOrganization,
        sort: tuple[tuple[str, bool], ...],
        include_deleted: bool,
        billable: bool | None,
    ) -> tuple[_Entry, ...]:
        key = (admin.id, sort, include_deleted, billable)
        order = self._orders.get(key)
        if order is None:
            entries = [
                self.entry(organization)
                for organization in self.inner(admin)
                if (include_deleted or not organization.deleted)
                and (billable is None or organization.billable is billable)
            ]
            # Stable sorts from the least significant key: ties end in id order.
            for field, descending in reversed(sort):
                entries.sort(key=_SORT_KEYS[field], reverse=descending)
            order = tuple(entries)
            if len(self._orders) >= _MAX_CACHED_ORDERS:
                self._orders.clear()
            self._orders[key] = order
        return order


@attrs.frozen
class _ListQuery:
    """The validated query of an organization listing."""

    limit: int = DEFAULT_PAGE_SIZE
    offset: int = 0
    active_days: int | None = None
    include_deleted: bool = False
    search: str | None = None
    sort: tuple[tuple[str, bool], ...] = ()
    billable: bool | None = None

    @classmethod
    def parse(cls, query: Mapping[str, tuple[str, ...]]) -> _ListQuery:
        """Validate a listing's wire query.

        Raises:
            ParameterError: For an invalid parameter.
        """
        limit = parse_count("limit", single(query, "limit"), maximum=MAX_PAGE_SIZE)
        search = single(query, "search")
        return cls(
            limit=DEFAULT_PAGE_SIZE if limit is None else limit,
            offset=parse_count("offset", single(query, "offset")) or 0,
            active_days=parse_count("active", single(query, "active")),
            include_deleted=parse_bool("includeDeleted", single(query, "includeDeleted")),
            search=None if search is None else search.strip() or None,
            sort=parse_sort(single(query, "sort")),
            billable=parse_filters(single(query, "filters")),
        )

    def page(
        self, catalog: _Catalog, admin: FakeOrganization, quirks: ListingQuirks | None = None
    ) -> tuple[int, Sequence[_Entry]]:
        """Return the total of matching organizations and this page of them (with ``quirks``)."""
        entries = self.matching(catalog, admin)
        if quirks is None:
            return len(entries), entries[self.offset : self.offset + self.limit]
        if quirks.duplicate_id is not None:
            twice = [i for i, e in enumerate(entries) if e.organization.id == quirks.duplicate_id]
            if twice:
                entries = [*entries[: twice[0] + 1], *entries[twice[0] :]]
        offset, limit = quirks.window(self.offset, self.limit)
        return max(0, len(entries) + quirks.total_extra), entries[offset : offset + limit]

    def matching(self, catalog: _Catalog, admin: FakeOrganization) -> Sequence[_Entry]:
        """Return every organization the query matches, in its order."""
        entries: Sequence[_Entry] = catalog.listing(
            admin, self.sort, self.include_deleted, self.billable
        )
        if self.active_days is not None:
            most_ms = self.active_days * DAY_MS
            entries = [
                entry
                for entry in entries
                if entry.inactive_ms is not None and entry.inactive_ms <= most_ms
            ]
        if self.search is not None:
            text = self.search.casefold()
            wanted_id = int(self.search) if _ID.fullmatch(self.search) else None
            entries = [
                entry
                for entry in entries
                if entry.organization.id == wanted_id or text in entry.name_key
            ]
        return entries


class FakeStudio:
    """A local fake of the Edge Impulse Studio operations the ei-usage client calls.

    It is a real HTTP/1.1 server on 127.0.0.1 (asyncio, in its own thread), serving::

        GET /v1/api/organizations/{organizationId}/whitelabel/organizations/
            {innerOrganizationId}/usage/computeTime?startDate=...&endDate=...
        GET /v1/api/organizations/{organizationId}/metrics
            [?excludeEdgeImpulseUsers=true|false][&projectVisibility=public|private]
        GET /v1/api/organizations/{organizationId}/whitelabel/organizations
            [?limit=N][&offset=N][&active=DAYS][&includeDeleted=true|false][&search=TEXT]
            [&sort=FIELD,-FIELD][&filters=billable:true|false]
        GET /v1/api/organizations/{organizationId}/whitelabel/organizations/
            {innerOrganizationId}[?includeDeleted=true|false]

    with deterministic data, Studio-style errors, injectable faults, an optional rate limit and
    a request log::

        with FakeStudio(api_key="k") as studio:
            httpx.get(f"{studio.base_url}/api/organizations/1/metrics",
                      headers={"x-api-key": "k"})

    Out of the box organization 1 is a white-label admin organization whose inner organizations
    are 2 to 11 (``inner_organizations=N`` makes them 2 to N + 1; see ``default_organizations``
    for how their data varies), and every credential given to the constructor administers
    organization 1. Organizations may change at any time, from any thread, also between the
    pages of a listing: ``add_organization`` (with ``whitelabel_admin_id`` to join a white
    label), ``set_deleted`` and ``remove_organization``.

    Requests are answered in this order: unknown route 404; method other than GET or HEAD 405;
    then a pending fault, if any; missing or unknown credential 401; the credential's rate limit
    429 (when ``rate_limit`` is set); malformed path id 400; unknown organization 404;
    organization not administered by the credential 403; for the three white-label operations,
    organization not a white-label admin 403, and with an inner organization: unknown inner
    organization 404, inner organization outside the white label 403; invalid query 400; for
    organization info, a deleted inner organization without ``includeDeleted=true`` 404; else 200.

    The organization listing (``whitelabelAdminGetOrganizations``):

    * pages with ``limit`` (default ``DEFAULT_PAGE_SIZE``, 50; 0 to ``MAX_PAGE_SIZE``, 1000;
      larger is a 400, not clamped) and ``offset`` (default 0; past the end gives an empty
      page); ``total`` counts every matching organization, whatever the page;
    * hides deleted organizations unless ``includeDeleted=true``;
    * ``active=N`` keeps organizations active in the last N days: ``inactive_for`` at most N
      days (never-active organizations never match);
    * ``search`` (trimmed; empty means none) matches an organization whose id equals it, or
      whose name contains it, case-insensitively (``casefold``): ``7`` finds organization 7 and
      every name with a 7 in it;
    * ``sort`` takes comma-separated fields among ``id``, ``name`` (case-insensitive) and
      ``created``, each prefixed with ``-`` for descending; ties are in id order, which is also
      the default order; an unknown or repeated field is a 400;
    * ``filters`` takes comma-separated ``field:value`` items; only ``billable:true`` and
      ``billable:false`` exist, anything else is a 400;
    * with ``listing_quirks`` (a ``ListingQuirks``) it misbehaves on purpose, as broken servers
      do: ``total_extra`` (a total that overstates), ``ignore_offset``, ``page_cap`` (pages of
      at most N, 1 for pages of one), ``keeps_removing`` (every page after the first answered
      one organization further on), ``duplicate_id`` (one organization listed twice in a row)
      and ``bad_fields`` (one organization's record malformed, say
      ``{5: {"entitlementLimits.totalStorage": "abc"}}``, in its organization info too).

    Organization info (``whitelabelAdminGetOrganizationInfo``) reports the compute time of the
    running contract, ``[contract_start, now)`` exactly as metrics do (``contract_usage``),
    ``computeTimeCurrentContractSince``, ``entitlementLimits``, ``totalStorage``, ``billable``
    and ``dailyMetrics``: null, or with ``daily_metrics=True`` 365 records for the days before
    today (see ``organization_info_body``).

    Without ``start()`` the object is still a complete model of the data: ``usage``,
    ``contract_usage``, ``compute_time_body``, ``metrics_body``, ``organizations_body`` and
    ``organization_info_body`` compute what the server would answer.

    Args:
        api_key: An API key (``x-api-key`` header) administering organization 1.
        jwt_token: A JWT (``x-jwt-token`` header or ``jwt`` cookie) administering organization 1.
        access_token: An OAuth2 access token (``Authorization: Bearer``) administering
            organization 1.
        organizations: The organizations to serve; None for
            ``default_organizations(seed, inner_organizations=...)``. Inner organizations of a
            white label that are not listed are added with default data.
        inner_organizations: How many inner organizations the default white label has (None:
            10); only without ``organizations``.
        latency: Seconds added before every answer of the operations (see ``latency``).
        seed: Seeds the usage data (and the default organizations' data).
        now: The current time for metrics and organization info: an aware datetime, a callable
            returning one, or None for ``DEFAULT_NOW`` (a fixed instant, so answers never change
            between runs).
        daily_metrics: Whether organization info carries 365 ``dailyMetrics`` records instead
            of null (settable later as ``daily_metrics``).
        rate_limit: Requests per second each credential may make (a token bucket per
            credential); None (the default) for no limit. See ``set_rate_limit``.
        burst: The bucket size: requests a credential may make at once; None for
            ``max(1, rate_limit)``. Only with ``rate_limit``.
        clock: Monotonic seconds for the rate limit; tests pass a fake one to avoid sleeping.
        host: The address to listen on; must be a loopback address unless ``allow_remote``.
        port: The port; 0 (the default) picks a free one.
        allow_remote: Allow a non-loopback ``host``. The fake has no real security: think twice.
        record_requests: Keep the request log (turn it off for long-running servers; the
            counters ``request_count`` and ``rate_limited_count`` still count).
        idle_timeout: Seconds an idle keep-alive connection stays open.
        request_timeout: Seconds a client has to send a whole request once it has started.
        listing_quirks: How the organization listing misbehaves (``ListingQuirks``: a total
            that overstates, ``offset`` ignored, a page cap, pages that keep shifting, an id
            listed twice, a malformed record); None (the default) for an honest listing.
            Settable later as ``listing_quirks``.
        usage_shapes: Give the default inner organizations the month-to-month shapes of real
            usage (``default_organizations(..., usage_shapes=True)``: growth, decline, a
            seasonal swing, a step, an idle month, a contract renewed mid-year); only without
            ``organizations``. Off by default, so the default data stays as it was.

    Raises:
        ValueError: For an invalid argument, duplicate organization ids, both ``organizations``
            and ``inner_organizations``, or a non-loopback host without ``allow_remote``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        jwt_token: str | None = None,
        access_token: str | None = None,
        organizations: Iterable[FakeOrganization] | None = None,
        inner_organizations: int | None = None,
        latency: float = 0.0,
        seed: int = 0,
        now: Now | None = None,
        daily_metrics: bool = False,
        rate_limit: float | None = None,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        record_requests: bool = True,
        idle_timeout: float = 15.0,
        request_timeout: float = 10.0,
        listing_quirks: ListingQuirks | None = None,
        usage_shapes: bool = False,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"refusing to listen on non-loopback host {host!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
        if organizations is not None and inner_organizations is not None:
            raise ValueError("give organizations or inner_organizations, not both")
        if organizations is not None and usage_shapes:
            raise ValueError("usage_shapes shapes the default organizations: give one or the other")
        self._host = host
        self._port = port
        self._seed = seed
        self._record = record_requests
        self._idle_timeout = _check_seconds("idle_timeout", idle_timeout)
        self._request_timeout = _check_seconds("request_timeout", request_timeout)
        self._latency = _check_seconds("latency", latency)
        self._now: Now | None = None
        self.set_now(now)
        self.daily_metrics = daily_metrics
        self.listing_quirks = listing_quirks
        self._clock = clock
        self._limiter: TokenBuckets | None = None
        self.set_rate_limit(rate_limit, burst)
        self._lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._running: _Running | None = None
        # Copy-on-write: the server thread reads these without the lock.
        self._organizations: dict[int, FakeOrganization] = {}
        self._catalog = _Catalog(self._organizations)
        self._grants: dict[Credential, frozenset[int]] = {}
        self._faults: collections.deque[_PendingFault] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._request_count = 0
        self._rate_limited_count = 0

        if organizations is None:
            given = default_organizations(
                seed,
                usage_shapes=usage_shapes,
                **(
                    {}
                    if inner_organizations is None
                    else {"inner_organizations": inner_organizations}
                ),
            )
        else:
            given = tuple(organizations)
        counts = collections.Counter(organization.id for organization in given)
        duplicates = sorted(i for i, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate organization ids: {duplicates}")
        with self._lock:
            self._add_locked(given)
        for credential in (
            None if api_key is None else Credential.api_key(api_key),
            None if jwt_token is None else Credential.jwt_token(jwt_token),
            None if access_token is None else Credential.access_token(access_token),
        ):
            if credential is not None:
                self.grant(credential, DEFAULT_ORGANIZATION_ID)

    # -- configuration -----------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed of the usage data."""
        return self._seed

    @property
    def latency(self) -> float:
        """Seconds added before each answer of the operations; settable at any time."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency = _check_seconds("latency", seconds)

    def now(self) -> datetime:
        """Return the instant the studio takes as now (metrics, organization info), in UTC.

        Raises:
            ValueError: If a ``now`` callable returned a naive datetime.
        """
        now = self._now
        value = DEFAULT_NOW if now is None else now if isinstance(now, datetime) else now()
        if value.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        return value.astimezone(UTC)

    def set_now(self, now: Now | None) -> None:
        """Set the studio's now: an aware datetime, a callable returning one, or None (default).

        Raises:
            ValueError: For a naive datetime.
        """
        if isinstance(now, datetime) and now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self._now = now

    @property
    def listing_quirks(self) -> ListingQuirks | None:
        """How the organization listing misbehaves, or None; settable at any time."""
        return self._listing_quirks

    @listing_quirks.setter
    def listing_quirks(self, quirks: ListingQuirks | None) -> None:
        if quirks is not None and not isinstance(quirks, ListingQuirks):
            raise ValueError(f"listing_quirks must be a ListingQuirks or None, got {quirks!r}")
        self._listing_quirks = quirks

    @property
    def daily_metrics(self) -> bool:
        """Whether organization info carries 365 ``dailyMetrics`` records (else null); settable."""
        return self._daily_metrics

    @daily_metrics.setter
    def daily_metrics(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"daily_metrics must be a bool, got {value!r}")
        self._daily_metrics = value

    # -- the rate limit ----------------------------------------------------------------------

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> None:
        """Limit each credential to ``rate`` requests per second, or with None lift the limit.

        Every credential gets its own token bucket of ``burst`` tokens, full at first and
        refilled at ``rate`` tokens a second; each request to one of the operations that passes
        authentication takes a token (so a 401 never does, nor does a request a fault
        answers), and one that finds the bucket empty is answered 429 with ``Retry-After``.
        Every answer past the limiter carries ``X-RateLimit-Limit`` (``rate`` per second),
        ``X-RateLimit-Remaining`` (whole tokens left) and ``X-RateLimit-Reset`` (seconds until a
        token is back, to the millisecond; 0 when one is there): a simulation choice, as the
        real Studio's rate-limit headers are not documented. Setting a limit, even the same
        one, starts every bucket full again.

        Args:
            rate: Requests per second, > 0 (fractions allowed: 0.5 is one every two seconds);
                None for no limit.
            burst: The bucket size, >= 1; None for ``max(1, rate)``.

        Raises:
            ValueError: For a rate or burst out of range, or a burst without a rate.
        """
        if rate is None:
            if burst is not None:
                raise ValueError("burst needs a rate_limit")
            self._limiter = None
        else:
            self._limiter = TokenBuckets(rate, burst, self._clock)

    @property
    def rate_limit(self) -> float | None:
        """Requests per second each credential may make, None if unlimited."""
        limiter = self._limiter
        return None if limiter is None else limiter.rate

    @property
    def burst(self) -> float | None:
        """The size of each credential's token bucket, None if unlimited."""
        limiter = self._limiter
        return None if limiter is None else limiter.burst

    @property
    def rate_limited_count(self) -> int:
        """How many requests the rate limit answered 429 (injected 429 faults not included)."""
        return self._rate_limited_count

    @property
    def request_count(self) -> int:
        """How many requests the server received: those the log records, even when it is off."""
        return self._request_count

    # -- organizations and credentials -------------------------------------------------------

    @property
    def organizations(self) -> Mapping[int, FakeOrganization]:
        """The organizations served, by id (a read-only snapshot)."""
        return MappingProxyType(self._organizations)

    def add_organization(
        self, organization: FakeOrganization, *, whitelabel_admin_id: int | None = None
    ) -> None:
        """Add an organization, or replace the one with the same id; safe at any time.

        Inner organizations of its white label that the studio does not know yet are added with
        default data (and its ``whitelabel_id``).

        Args:
            organization: The organization.
            whitelabel_admin_id: Also make it an inner organization of the white label this
                known admin organization administers (e.g. to grow a listing between pages).

        Raises:
            ValueError: If ``whitelabel_admin_id`` is not a known white-label admin
                organization, or is the organization itself.
        """
        with self._lock:
            self._add_locked((organization,), whitelabel_admin_id)

    def remove_organization(self, organization_id: int) -> FakeOrganization:
        """Remove an organization entirely (and from every white label); safe at any time.

        Unlike ``set_deleted``, the organization is then unknown to every operation (404).

        Returns:
            The organization removed.

        Raises:
            LookupError: If the organization is not known.
        """
        with self._lock:
            organizations = dict(self._organizations)
            try:
                removed = organizations.pop(organization_id)
            except KeyError:
                raise LookupError(f"organization {organization_id} is not known") from None
            for other in list(organizations.values()):
                inner_ids = other.whitelabel_inner_ids
                if inner_ids is not None and organization_id in inner_ids:
                    organizations[other.id] = attrs.evolve(
                        other, whitelabel_inner_ids=inner_ids - {organization_id}
                    )
            self._set_organizations(organizations)
        return removed

    def set_deleted(self, organization_id: int, deleted: bool = True) -> None:
        """Mark an organization deleted (or not); safe at any time, e.g. between listing pages.

        Raises:
            LookupError: If the organization is not known.
        """
        with self._lock:
            organization = self._organization(organization_id)
            organizations = dict(self._organizations)
            organizations[organization_id] = attrs.evolve(organization, deleted=deleted)
            self._set_organizations(organizations)

    def _add_locked(
        self, given: Iterable[FakeOrganization], whitelabel_admin_id: int | None = None
    ) -> None:
        organizations = dict(self._organizations)
        added = list(given)
        if whitelabel_admin_id is not None:
            (organization,) = added
            admin = organizations.get(whitelabel_admin_id)
            if admin is None or admin.whitelabel_inner_ids is None:
                raise ValueError(
                    f"organization {whitelabel_admin_id} is not a known white label admin "
                    "organization"
                )
            if organization.id == admin.id:
                raise ValueError(
                    f"organization {admin.id} cannot be an inner organization of itself"
                )
            organizations[admin.id] = attrs.evolve(
                admin, whitelabel_inner_ids=admin.whitelabel_inner_ids | {organization.id}
            )
        for organization in added:
            organizations[organization.id] = organization
        for organization in added:
            for inner_id in sorted(organization.whitelabel_inner_ids or ()):
                if inner_id not in organizations:
                    organizations[inner_id] = _varied(
                        inner_id, self._seed, whitelabel_id=organization.whitelabel_id
                    )
        self._set_organizations(organizations)

    def _set_organizations(self, organizations: dict[int, FakeOrganization]) -> None:
        # Called with the lock held. The catalog is swapped in one assignment: a request reads
        # one consistent snapshot.
        self._catalog = _Catalog(organizations, self._catalog)
        self._organizations = organizations

    def grant(self, credential: Credential, organization_id: int) -> None:
        """Let a credential administer an organization (the credential becomes valid if new)."""
        with self._lock:
            granted = self._grants.get(credential, frozenset())
            self._grants = {**self._grants, credential: granted | {organization_id}}

    def revoke(self, credential: Credential, organization_id: int | None = None) -> None:
        """Take away a credential's right to one organization, or with None make it invalid."""
        with self._lock:
            grants = dict(self._grants)
            if organization_id is None:
                grants.pop(credential, None)
            elif credential in grants:
                grants[credential] = grants[credential] - {organization_id}
            self._grants = grants

    def administered_by(self, credential: Credential) -> frozenset[int] | None:
        """Return the ids a credential may administer, or None if the studio does not know it."""
        return self._grants.get(credential)

    # -- faults and the request log ----------------------------------------------------------

    def inject(self, fault: Fault, *, times: int = 1, operation: Operation | None = None) -> None:
        """Queue a fault for the next ``times`` matching requests.

        Faults are consumed in the order they were injected: each request to one of the
        operations takes the first pending fault that applies to its operation.

        Args:
            fault: The fault (see ``Fault``).
            times: How many requests it affects.
            operation: Restrict it to one operation; a fault naming a response field is
                restricted to the first operation that has the field unless this names another
                that has it too (``cpuComputeTime`` is in compute time and organization info).

        Raises:
            ValueError: If ``times`` < 1 or ``operation`` contradicts the fault's field.
        """
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an int >= 1, got {times!r}")
        implied = fault.operation
        if operation is not None and implied is not None and operation not in fault.operations:
            raise ValueError(f"field {fault.field} is not in {operation} responses")
        with self._lock:
            self._faults.append(_PendingFault(fault, times, operation or implied))

    @property
    def faults_pending(self) -> int:
        """How many more requests injected faults will affect."""
        with self._lock:
            return sum(pending.remaining for pending in self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy).

        Every request that parsed as HTTP is recorded, whatever its answer (404, 405, 401, a
        fault, ...); bytes that are not HTTP at all are answered and closed but not recorded.
        """
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Clear pending faults, the request log and the counters.

        Organizations, credentials and rate-limit buckets stay as they are.
        """
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._request_count = 0
            self._rate_limited_count = 0

    def _take_fault(self, operation: Operation) -> Fault | None:
        with self._lock:
            for pending in self._faults:
                if pending.operation is None or pending.operation is operation:
                    pending.remaining -= 1
                    if pending.remaining == 0:
                        self._faults.remove(pending)
                    return pending.fault
        return None

    # -- the data model ----------------------------------------------------------------------

    def _organization(self, organization_id: int) -> FakeOrganization:
        try:
            return self._organizations[organization_id]
        except KeyError:
            raise LookupError(f"organization {organization_id} is not known") from None

    def _table(self, organization: FakeOrganization) -> UsageTable | ShapedUsageTable:
        return organization_table(organization, self._seed)

    def _usage_ms(
        self, organization: FakeOrganization, start_ms: int, end_ms: int
    ) -> tuple[int, int]:
        created_ms = to_epoch_ms(organization.created_at)
        return self._table(organization).usage(max(start_ms, created_ms), max(end_ms, created_ms))

    def usage(self, organization_id: int, start: datetime, end: datetime) -> tuple[int, int]:
        """Return the exact CPU and GPU compute an organization used in ``[start, end)``.

        This is the pure function behind the compute-time route: the usage of a range is exactly
        the sum of the usage of its pieces. Both ends are truncated to whole milliseconds.

        Args:
            organization_id: A known organization.
            start: Start of the range, timezone-aware.
            end: End of the range, timezone-aware, not before ``start``.

        Returns:
            ``(cpu_microseconds, gpu_microseconds)``.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For naive datetimes or ``end`` before ``start``.
        """
        start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
        if end < start:
            raise ValueError("end must not be before start")
        return self._usage_ms(self._organization(organization_id), start_ms, end_ms)

    def compute_time_body(
        self, inner_organization_id: int, start: datetime, end: datetime
    ) -> dict[str, JsonValue]:
        """Return the JSON body the compute-time route answers for this inner organization.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For naive datetimes or ``end`` before ``start``.
        """
        cpu, gpu = self.usage(inner_organization_id, start, end)
        return {
            "success": True,
            "cpuComputeTime": _js_number(cpu / _US_PER_SECOND),
            "gpuComputeTime": _js_number(gpu / _US_PER_SECOND),
            "totalComputeTime": _js_number((cpu + gpu) / _US_PER_MINUTE),
        }

    def metrics_body(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool = False,
        project_visibility: str | None = None,
    ) -> dict[str, JsonValue]:
        """Return the JSON body the metrics route answers for this organization, as of ``now()``.

        Compute times cover ``[contract_start, now)`` for the current contract (zero if the
        contract starts later) and ``[created_at, now)`` for ``totalJobsComputeTime``.

        Args:
            organization_id: A known organization.
            exclude_edge_impulse_users: Leave Edge Impulse staff out of ``userCount``.
            project_visibility: ``public`` or ``private`` to count only such projects.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For a ``project_visibility`` other than public, private or None.
        """
        organization = self._organization(organization_id)
        if project_visibility not in (None, "public", "private"):
            raise ValueError(
                f"project_visibility must be public or private, not {project_visibility!r}"
            )
        now = self.now()
        now_ms = to_epoch_ms(now)
        cpu, gpu = contract_usage_us(organization, self._seed, now)
        created_ms = to_epoch_ms(organization.created_at)
        total_cpu, total_gpu = self._usage_ms(organization, created_ms, max(now_ms, created_ms))
        projects = organization.project_count
        if project_visibility == "public":
            projects = organization.public_project_count
        elif project_visibility == "private":
            projects -= organization.public_project_count
        users = organization.user_count
        if exclude_edge_impulse_users:
            users -= organization.edge_impulse_user_count
        return {
            "success": True,
            "metrics": {
                "totalJobsComputeTime": _js_number((total_cpu + total_gpu) / _US_PER_MINUTE),
                "jobsComputeTimeCurrentYear": _js_number((cpu + gpu) / _US_PER_MINUTE),
                "jobsComputeTimeCurrentYearSince": _iso_z(
                    current_contract_start(organization, now)
                ),
                "cpuComputeTimeCurrentContract": _js_number(cpu / _US_PER_SECOND),
                "gpuComputeTimeCurrentContract": _js_number(gpu / _US_PER_SECOND),
                "totalStorage": organization.total_storage_bytes,
                "projectCount": projects,
                "userCount": users,
            },
        }

    def contract_usage(self, organization_id: int) -> tuple[int, int]:
        """Return the exact CPU and GPU compute of an organization's running contract.

        The range is ``[contract_start, now())``, no usage before ``created_at``, and nothing if
        the contract starts after now: the figures of metrics (``cpuComputeTimeCurrentContract``
        ...) and of organization info (``cpuComputeTime`` ...). Compare the sum with
        ``entitlements.compute_time_per_year_seconds`` to see whether it is over its limit.

        Returns:
            ``(cpu_microseconds, gpu_microseconds)``.

        Raises:
            LookupError: If the organization is not known.
        """
        return contract_usage_us(self._organization(organization_id), self._seed, self.now())

    def last_active(self, organization_id: int) -> datetime | None:
        """Return when an organization was last active (``now() - inactive_for``), None if never.

        Raises:
            LookupError: If the organization is not known.
        """
        inactive = self._organization(organization_id).inactive_for
        return None if inactive is None else self.now() - inactive

    def inner_organizations(
        self, organization_id: int, *, include_deleted: bool = False
    ) -> tuple[FakeOrganization, ...]:
        """Return the inner organizations of a white label, in id order.

        Args:
            organization_id: A known white-label admin organization.
            include_deleted: Include deleted organizations.

        Raises:
            LookupError: If the organization is not known.
            ValueError: If it is not a white-label admin organization.
        """
        catalog = self._catalog
        admin = self._admin(catalog, organization_id)
        return tuple(
            organization
            for organization in catalog.inner(admin)
            if include_deleted or not organization.deleted
        )

    def organizations_body(
        self,
        organization_id: int,
        *,
        limit: int | None = None,
        offset: int | None = None,
        active: int | None = None,
        include_deleted: bool = False,
        search: str | None = None,
        sort: str | None = None,
        filters: str | None = None,
    ) -> dict[str, JsonValue]:
        """Return the JSON body the listing route answers for this white label, as of now.

        The arguments mean what the query parameters of the same names mean (see the class
        docstring) and are checked the same way.

        Args:
            organization_id: A known white-label admin organization.
            limit: Page size, 0 to ``MAX_PAGE_SIZE``; None for ``DEFAULT_PAGE_SIZE``.
            offset: Organizations to skip; None for 0.
            active: Keep organizations active in the last ``active`` days.
            include_deleted: Include deleted organizations.
            search: An id, or text the name contains (case-insensitive).
            sort: E.g. ``"name,-created"``.
            filters: E.g. ``"billable:true"``.

        Raises:
            LookupError: If the organization is not known.
            ValueError: If it is not a white-label admin organization, or for an invalid
                argument.
        """
        query = {
            name: (str(value),)
            for name, value in (
                ("limit", limit),
                ("offset", offset),
                ("active", active),
                ("search", search),
                ("sort", sort),
                ("filters", filters),
            )
            if value is not None
        }
        if include_deleted:
            query["includeDeleted"] = ("true",)
        for name, value in (("limit", limit), ("offset", offset), ("active", active)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be an int, got {value!r}")
        catalog = self._catalog
        admin = self._admin(catalog, organization_id)
        body: dict[str, JsonValue] = json.loads(self._listing_json(catalog, admin, query))
        return body

    def organization_info_body(
        self, inner_organization_id: int, *, include_deleted: bool = False
    ) -> dict[str, JsonValue]:
        """Return the JSON body the organization info route answers for it, as of ``now()``.

        ``cpuComputeTime`` and ``gpuComputeTime`` (seconds) and ``totalComputeTime`` (minutes)
        are ``contract_usage``, ``computeTimeCurrentContractSince`` its ``contract_start``.
        ``dailyMetrics`` is null unless ``daily_metrics`` is set; then it holds one record for
        each of the 365 UTC days before today's, oldest first. Their ``*Seconds`` fields are
        whole seconds, rounded down; ``computeTimeSeconds`` counts CPU + 3 x GPU, as the spec
        describes it; the contract totals run from ``computeTimeCalculatedSince``: the contract
        start, or for days before it the start of the contract year the day was in (and never
        before ``created_at``). Counts and storage stay constant (as many added as deleted).

        Args:
            inner_organization_id: A known organization.
            include_deleted: Answer for a deleted organization too.

        Raises:
            LookupError: If the organization is not known, or deleted without
                ``include_deleted``.
        """
        organization = self._organization(inner_organization_id)
        if organization.deleted and not include_deleted:
            raise LookupError(f"organization {inner_organization_id} is deleted")
        return self._info_body(organization, self.now())

    def _info_body(self, organization: FakeOrganization, now: datetime) -> dict[str, JsonValue]:
        cpu, gpu = contract_usage_us(organization, self._seed, now)
        body: dict[str, JsonValue] = {
            "success": True,
            "cpuComputeTime": _js_number(cpu / _US_PER_SECOND),
            "gpuComputeTime": _js_number(gpu / _US_PER_SECOND),
            "totalComputeTime": _js_number((cpu + gpu) / _US_PER_MINUTE),
            "billable": organization.billable,
            "entitlementLimits": dict(organization.entitlements.to_json()),
            "computeTimeCurrentContractSince": _iso_z(current_contract_start(organization, now)),
            "totalStorage": organization.total_storage_bytes,
            "dailyMetrics": self._daily_metrics_records(organization, now)
            if self._daily_metrics
            else None,
        }
        quirks = self._listing_quirks
        if quirks is not None and organization.id in quirks.bad_fields:
            replace_fields(body, quirks.bad_fields[organization.id], add=False)
        return body

    def _daily_metrics_records(
        self, organization: FakeOrganization, now: datetime
    ) -> list[JsonValue]:
        today_ms = to_epoch_ms(now) // DAY_MS * DAY_MS
        contract_ms = to_epoch_ms(current_contract_start(organization, now))
        created_ms = to_epoch_ms(organization.created_at)
        users = organization.user_count
        staff = organization.edge_impulse_user_count
        projects = organization.project_count
        storage = organization.total_storage_bytes
        profile = _mix(_mix(self._seed + 0xDA11) ^ organization.id)
        records: list[JsonValue] = []
        for day in range(_DAILY_METRICS_DAYS, 0, -1):
            start_ms = today_ms - day * DAY_MS
            end_ms = start_ms + DAY_MS
            if contract_ms < end_ms:
                since_ms = max(contract_ms, created_ms)
            else:  # a day of an earlier contract
                since_ms = _contract_year_start_ms(organization.contract_start, end_ms)
                since_ms = max(since_ms, created_ms)
            cpu_total, gpu_total = self._usage_ms(organization, since_ms, max(end_ms, since_ms))
            cpu_day, gpu_day = self._usage_ms(organization, start_ms, end_ms)
            bits = _mix(profile + day)
            users_changed = int(bits % 3 == 0)
            projects_changed = int((bits >> 8) % 4 == 0)
            storage_changed = (bits >> 16) % (64 << 20)
            records.append(
                {
                    "date": _iso_ms(start_ms),
                    "totalUsers": users,
                    "totalStaffUsers": staff,
                    "totalProjects": projects,
                    "totalCurrentContractCpuComputeTimeSeconds": cpu_total // _US_PER_SECOND,
                    "totalCurrentContractGpuComputeTimeSeconds": gpu_total // _US_PER_SECOND,
                    "totalCurrentContractComputeTimeSeconds": (cpu_total + 3 * gpu_total)
                    // _US_PER_SECOND,
                    "computeTimeCalculatedSince": _iso_ms(since_ms),
                    "totalStorageSizeBytes": storage,
                    "usersAdded": users_changed,
                    "staffUsersAdded": 0,
                    "usersDeleted": users_changed,
                    "staffUsersDeleted": 0,
                    "projectsAdded": projects_changed,
                    "projectsDeleted": projects_changed,
                    "cpuComputeTimeSeconds": cpu_day // _US_PER_SECOND,
                    "gpuComputeTimeSeconds": gpu_day // _US_PER_SECOND,
                    "computeTimeSeconds": (cpu_day + 3 * gpu_day) // _US_PER_SECOND,
                    "storageBytesAdded": storage_changed,
                    "storageBytesDeleted": storage_changed,
                }
            )
        return records

    def _admin(self, catalog: _Catalog, organization_id: int) -> FakeOrganization:
        admin = catalog.organizations.get(organization_id)
        if admin is None:
            raise LookupError(f"organization {organization_id} is not known")
        if admin.whitelabel_inner_ids is None:
            raise ValueError(f"organization {organization_id} is not a white label admin")
        return admin

    def _listing_json(
        self, catalog: _Catalog, admin: FakeOrganization, query: Mapping[str, tuple[str, ...]]
    ) -> bytes:
        quirks = self._listing_quirks
        total, page = _ListQuery.parse(query).page(catalog, admin, quirks)
        bad = {} if quirks is None else quirks.bad_fields
        items = b",".join(
            entry.item_json if entry.organization.id not in bad else _bad_item(entry, bad)
            for entry in page
        )
        return b'{"success":true,"total":%d,"organizations":[%b]}' % (total, items)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeStudio:
        """Start serving in a background thread; return self once the port is bound.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the address cannot be bound.
        """
        with self._lifecycle:
            if self._running is not None:
                raise RuntimeError("FakeStudio is already running")
            ready = threading.Event()
            outcome: dict[str, Any] = {}
            thread = threading.Thread(
                target=self._run, args=(ready, outcome), name="FakeStudio", daemon=True
            )
            thread.start()
            ready.wait()
            if "error" in outcome:
                thread.join()
                raise outcome["error"]
            self._running = _Running(
                thread, outcome["loop"], outcome["stop"], outcome["host"], outcome["port"]
            )
        return self

    def stop(self) -> None:
        """Stop serving: close every connection and join the thread. Does nothing if stopped."""
        with self._lifecycle:
            running, self._running = self._running, None
            if running is None:
                return
            # A RuntimeError means the loop already ended (and logged why).
            with contextlib.suppress(RuntimeError):
                running.loop.call_soon_threadsafe(running.stop.set)
            running.thread.join()

    def __enter__(self) -> FakeStudio:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is running."""
        return self._running is not None

    def _address(self) -> tuple[str, int]:
        running = self._running
        if running is None:
            raise RuntimeError("FakeStudio is not running: use start() or a with block")
        return running.host, running.port

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return self._address()[0]

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return self._address()[1]

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._address()
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self.url}/v1"

    def __repr__(self) -> str:
        where = self.base_url if self._running is not None else "not running"
        ids = sorted(self._organizations)
        shown = ids if len(ids) <= _SMALL_REPR else f"{len(ids)} ids from {ids[0]} to {ids[-1]}"
        return f"FakeStudio({where}, organizations={shown})"

    def _run(self, ready: threading.Event, outcome: dict[str, Any]) -> None:
        try:
            with asyncio.Runner() as runner:
                runner.run(self._main(ready, outcome))
        except BaseException as error:
            if ready.is_set():
                _LOG.exception("FakeStudio: the server thread failed")
            else:
                outcome["error"] = error
        finally:
            ready.set()

    async def _main(self, ready: threading.Event, outcome: dict[str, Any]) -> None:
        server = HttpServer(
            self._handle, idle_timeout=self._idle_timeout, request_timeout=self._request_timeout
        )
        try:
            outcome["host"], outcome["port"] = await server.start(self._host, self._port)
            stop = asyncio.Event()
            outcome["loop"], outcome["stop"] = asyncio.get_running_loop(), stop
            ready.set()
            await stop.wait()
        finally:
            await server.close()

    # -- request handling (on the server thread) ---------------------------------------------

    async def _handle(self, request: HttpRequest) -> HttpResponse | None:
        try:
            response, delay = self._respond(request)
        except Exception:
            _LOG.exception("FakeStudio: internal error answering %s", request.method)
            return error_response(500, "Internal error in FakeStudio", close=True)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _respond(self, request: HttpRequest) -> tuple[HttpResponse | None, float]:
        path, query_string = request.target, ""
        query: dict[str, tuple[str, ...]] = {}
        operation: Operation | None = None
        response: HttpResponse | None
        delay = 0.0
        try:
            path, query_string = _split_target(request.target)
            query, query_error = _parse_query(query_string)
            route = _route(path)
            if route is None:
                raise _ApiError(404, f"Unknown route: {request.method} {path[:200]}")
            operation, ids = route
            if request.method not in _ALLOWED_METHODS:
                response = error_response(
                    405, f"Method {request.method} not allowed; use GET", _ALLOW
                )
            else:
                fault = self._take_fault(operation)
                delay = self._latency + (fault.delay if fault is not None else 0.0)
                response = self._answer(operation, ids, request.headers, query, query_error, fault)
        except _ApiError as error:
            response = error_response(error.status, error.message)
        recorded = None
        if self._record:
            recorded = RecordedRequest(
                method=request.method,
                target=request.target,
                path=path,
                query_string=query_string,
                query=MappingProxyType(query),
                headers=request.headers,
                operation=operation,
                status=None if response is None else response.status,
                http_version=request.version_text,
                connection_id=request.connection_id,
            )
        with self._lock:
            self._request_count += 1
            if recorded is not None:
                self._requests.append(recorded)
        if _LOG.isEnabledFor(logging.DEBUG):
            # The path and status only: headers (credentials) are never logged.
            status = "dropped" if response is None else response.status
            _LOG.debug("%s %s -> %s", request.method, path[:200], status)
        return response, delay

    def _answer(
        self,
        operation: Operation,
        ids: tuple[str, ...],
        headers: Headers,
        query: Mapping[str, tuple[str, ...]],
        query_error: str | None,
        fault: Fault | None,
    ) -> HttpResponse | None:
        if fault is not None:
            if fault.kind is FaultKind.DROP_CONNECTION:
                return None
            if fault.kind is FaultKind.RESPONSE:
                return HttpResponse(fault.status, fault.body, fault.content_type, fault.headers)
        try:
            credential = self._authenticate(headers)
        except _ApiError as error:
            return error_response(error.status, error.message)
        limit_headers: tuple[tuple[str, str], ...] = ()
        limiter = self._limiter
        if limiter is not None:
            allowed, limit_headers, _ = limiter.take(credential)
            if not allowed:
                with self._lock:
                    self._rate_limited_count += 1
                return error_response(429, _RATE_LIMITED_MESSAGE, limit_headers)
        try:
            payload = self._operation(operation, ids, credential, query, query_error)
        except _ApiError as error:
            return error_response(error.status, error.message, limit_headers)
        if fault is not None and fault.field is not None:
            if isinstance(payload, bytes):
                payload = json.loads(payload)
            fault.apply(payload)
        if isinstance(payload, bytes):
            return HttpResponse(200, payload, JSON_CONTENT_TYPE, limit_headers)
        return json_response(200, payload, limit_headers)

    def _operation(
        self,
        operation: Operation,
        ids: tuple[str, ...],
        credential: Credential,
        query: Mapping[str, tuple[str, ...]],
        query_error: str | None,
    ) -> dict[str, JsonValue] | bytes:
        """Answer an authenticated request: a JSON payload, or one already encoded."""
        organization_id = _parse_id("organizationId", ids[0])
        inner_id = _parse_id("innerOrganizationId", ids[1]) if len(ids) > 1 else None
        catalog = self._catalog
        organizations = catalog.organizations
        organization = organizations.get(organization_id)
        if organization is None:
            raise _ApiError(404, f"Organization {organization_id} not found")
        if organization_id not in self._grants.get(credential, frozenset()):
            raise _ApiError(
                403, f"This credential may not administer organization {organization_id}"
            )
        if operation is not Operation.METRICS:
            inner_ids = organization.whitelabel_inner_ids
            if inner_ids is None:
                raise _ApiError(
                    403, f"Organization {organization_id} is not a white label admin organization"
                )
            if inner_id is not None:
                if inner_id not in organizations:
                    raise _ApiError(404, f"Organization {inner_id} not found")
                if inner_id not in inner_ids:
                    raise _ApiError(
                        403,
                        f"Organization {inner_id} is not part of the white label of "
                        f"organization {organization_id}",
                    )
        try:
            if query_error is not None:
                raise ParameterError(query_error)
            if operation is Operation.ORGANIZATIONS:
                return self._listing_json(catalog, organization, query)
            if operation is Operation.COMPUTE_TIME:
                assert inner_id is not None  # the route has two ids
                start = parse_date_time("startDate", single(query, "startDate"))
                end = parse_date_time("endDate", single(query, "endDate"))
                if end < start:
                    raise ParameterError(
                        f"endDate ({_iso_z(end)}) must not be before startDate ({_iso_z(start)})"
                    )
                return self.compute_time_body(inner_id, start, end)
            if operation is Operation.ORGANIZATION_INFO:
                assert inner_id is not None  # the route has two ids
                include_deleted = parse_bool("includeDeleted", single(query, "includeDeleted"))
                inner = organizations[inner_id]
                if inner.deleted and not include_deleted:
                    raise _ApiError(
                        404,
                        f"Organization {inner_id} not found: it is deleted "
                        "(includeDeleted=true shows deleted organizations)",
                    )
                return self._info_body(inner, self.now())
            exclude = parse_bool(
                "excludeEdgeImpulseUsers", single(query, "excludeEdgeImpulseUsers")
            )
            visibility = parse_visibility("projectVisibility", single(query, "projectVisibility"))
        except ParameterError as error:
            raise _ApiError(400, str(error)) from None
        return self.metrics_body(
            organization_id, exclude_edge_impulse_users=exclude, project_visibility=visibility
        )

    def _authenticate(self, headers: Headers) -> Credential:
        """Return the credential a request carries; the first carrier present decides.

        Carriers are tried in this order: ``x-api-key``, ``x-jwt-token``, the ``jwt`` cookie,
        ``Authorization: Bearer``. A present but unknown credential is a 401 even if a later
        carrier holds a valid one.
        """
        kind: CredentialKind
        api_key = headers.get("x-api-key")
        jwt = headers.get("x-jwt-token")
        cookie = _cookie(headers["cookie"], "jwt") if "cookie" in headers else None
        authorization = headers.get("authorization")
        if api_key is not None:
            kind, value, what = CredentialKind.API_KEY, api_key, "API key"
        elif jwt is not None:
            kind, value, what = CredentialKind.JWT_TOKEN, jwt, "JWT token"
        elif cookie is not None:
            kind, value, what = CredentialKind.JWT_TOKEN, cookie, "JWT token"
        elif authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise _ApiError(401, "Invalid Authorization header: expected 'Bearer <token>'")
            kind, value, what = CredentialKind.ACCESS_TOKEN, value.strip(), "access token"
        else:
            raise _ApiError(
                401,
                "Missing credentials: send an API key in x-api-key, a JWT in x-jwt-token or the "
                "jwt cookie, or an OAuth2 access token as Authorization: Bearer",
            )
        try:
            credential = Credential(kind, value)
        except ValueError:
            raise _ApiError(401, f"Invalid {what}") from None
        if credential not in self._grants:
            raise _ApiError(401, f"Invalid {what}")
        return credential
