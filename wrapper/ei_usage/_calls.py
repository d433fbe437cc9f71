"""What each operation sends, and how its answer is read: one prepared call per operation.

A :class:`Call` is a request relative to the base URL (method, path, percent-encoded query) and
the function that turns its checked JSON answer into a result (:mod:`ei_usage._parse`). Arguments
are validated (by :mod:`ei_usage._plan`'s checks) before any request; the clients send calls
through one request path.

Requests are described by the generated client (``_get_kwargs`` of each operation: method, path,
query); dates go out as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, as the Edge Impulse web client sends them
(the generator would send ``isoformat()``, with ``+00:00`` and microseconds).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from edge_impulse_api_client.api.organizations import (
    get_organization_metrics as _metrics_op,
)
from edge_impulse_api_client.api.organizations import (
    whitelabel_admin_get_organization_compute_time_usage as _compute_time_op,
)
from edge_impulse_api_client.api.organizations import (
    whitelabel_admin_get_organization_info as _info_op,
)
from edge_impulse_api_client.api.organizations import (
    whitelabel_admin_get_organizations as _organizations_op,
)
from edge_impulse_api_client.models.project_visibility import (
    ProjectVisibility as _GeneratedVisibility,
)
from edge_impulse_api_client.types import UNSET

from . import _parse
from ._dates import format_wire
from ._plan import check_id, check_period, check_piece

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from . import _paging
    from ._dates import DateRange
    from ._errors import RequestInfo
    from ._models import ComputeTime, InnerOrganizationUsage, OrganizationMetrics, ProjectVisibility
    from ._plan import Listing

_VISIBILITIES = ("public", "private")


class Call(NamedTuple):
    """One prepared request, relative to the base URL, and how to read its answer."""

    method: str
    target: str  # path and percent-encoded query
    parse: Callable[[dict[str, Any], RequestInfo], Any]


# Any instant will do: the route of the generated operation depends only on the ids, and the
# dates it formats (with isoformat) are replaced by ours.
_ANY_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
_COMPUTE_TIME_PARAMS = frozenset({"startDate", "endDate"})


@functools.lru_cache(maxsize=4096)
def compute_time_route(organization_id: int, inner_organization_id: int) -> tuple[str, str]:
    """Return the method and path the generated operation gives an id pair.

    Described once per pair: tools ask about the same organizations again and again, and the
    generated description (path quoting, isoformat of both dates) was a measurable share of a
    loopback call (bench/RESULTS.md).
    """
    kwargs = _compute_time_op._get_kwargs(
        organization_id, inner_organization_id, start_date=_ANY_INSTANT, end_date=_ANY_INSTANT
    )
    # Parameters the spec adds take their server-side defaults: only the dates are sent.
    if not _COMPUTE_TIME_PARAMS.issubset(kwargs["params"]):  # the spec slice changed
        raise RuntimeError(
            "the generated compute-time operation takes query parameters "
            f"{sorted(kwargs['params'])}, ei_usage formats {sorted(_COMPUTE_TIME_PARAMS)}"
        )
    return kwargs["method"].upper(), kwargs["url"]


@functools.lru_cache(maxsize=1024)
def period_query(period: DateRange) -> str:
    """Return the encoded ``startDate``/``endDate`` query of a period, as the web client sends.

    Raises:
        ValueError: the period is empty at the wire's millisecond resolution.
    """
    check_piece(period)
    return _query({"startDate": format_wire(period.start), "endDate": format_wire(period.end)})


def compute_time_call(
    organization_id: int, inner_organization_id: int, period: DateRange | str
) -> Call:
    org = check_id("organization_id", organization_id)
    inner = check_id("inner_organization_id", inner_organization_id)
    dr = check_period(period)
    method, path = compute_time_route(org, inner)

    def parse(body: dict[str, Any], request: RequestInfo) -> ComputeTime:
        return _parse.compute_time(
            body, request, organization_id=org, inner_organization_id=inner, period=dr
        )

    return Call(method, f"{path}?{period_query(dr)}", parse)


# The query parameters ei_usage sends (openapi/wrapper-fields.yaml). A parameter the spec adds
# is left out even when the generated operation fills in its declared default: the server then
# applies its own default, and requests stay what they were (cassettes match on the query).
_SENT_QUERY = frozenset(
    {
        *("excludeEdgeImpulseUsers", "projectVisibility", "startDate", "endDate"),
        *("active", "includeDeleted", "sort", "limit", "offset", "search"),
    }
)


def _call(kwargs: dict[str, Any], parse: Callable[[dict[str, Any], RequestInfo], Any]) -> Call:
    """A prepared call from a generated operation's request description."""
    query = _query({k: v for k, v in kwargs["params"].items() if k in _SENT_QUERY})
    return Call(
        kwargs["method"].upper(), f"{kwargs['url']}?{query}" if query else kwargs["url"], parse
    )


def organizations_call(listing: Listing, page: _paging.Request) -> Call:
    kwargs = _organizations_op._get_kwargs(
        listing.organization_id,
        active=UNSET if listing.active_within_days is None else listing.active_within_days,
        include_deleted=listing.include_deleted if listing.include_deleted else UNSET,
        sort="id",  # the pager's overlap check needs a stable order
        limit=page.limit,
        offset=page.offset,
        search=UNSET if listing.search is None else listing.search,
    )

    def parse(body: dict[str, Any], request: RequestInfo) -> _parse.Page:
        return _parse.organizations_page(body, request, limit=page.limit)

    return _call(kwargs, parse)


def organization_info_call(
    organization_id: int, inner_organization_id: int, include_deleted: bool = False
) -> Call:
    org = check_id("organization_id", organization_id)
    inner = check_id("inner_organization_id", inner_organization_id)
    if not isinstance(include_deleted, bool):
        raise TypeError(f"include_deleted must be a bool, got {type(include_deleted).__name__}")
    kwargs = _info_op._get_kwargs(org, inner, include_deleted=include_deleted or UNSET)

    def parse(body: dict[str, Any], request: RequestInfo) -> InnerOrganizationUsage:
        return _parse.organization_info(
            body, request, organization_id=org, inner_organization_id=inner
        )

    return _call(kwargs, parse)


def metrics_call(
    organization_id: int,
    exclude_edge_impulse_users: bool | None,
    project_visibility: ProjectVisibility | None,
) -> Call:
    org = check_id("organization_id", organization_id)
    if exclude_edge_impulse_users is not None and not isinstance(exclude_edge_impulse_users, bool):
        raise TypeError(
            "exclude_edge_impulse_users must be a bool or None, "
            f"got {type(exclude_edge_impulse_users).__name__}"
        )
    if project_visibility is not None and project_visibility not in _VISIBILITIES:
        raise ValueError(
            f"project_visibility must be 'public', 'private' or None, got {project_visibility!r}"
        )
    kwargs = _metrics_op._get_kwargs(
        org,
        exclude_edge_impulse_users=UNSET
        if exclude_edge_impulse_users is None
        else exclude_edge_impulse_users,
        project_visibility=UNSET
        if project_visibility is None
        else _GeneratedVisibility(project_visibility),
    )

    def parse(body: dict[str, Any], request: RequestInfo) -> OrganizationMetrics:
        return _parse.organization_metrics(
            body,
            request,
            organization_id=org,
            exclude_edge_impulse_users=exclude_edge_impulse_users,
            project_visibility=project_visibility,
        )

    return _call(kwargs, parse)


# Percent-encoding of every ASCII character that is not unreserved (RFC 3986), as a translate
# table: urllib's quote() walks the bytes in Python, a measurable share of a loopback call.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = {c: f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED}


def _quote(value: str) -> str:
    return value.translate(_PERCENT) if value.isascii() else quote(value, safe="")


def _text(value: str | bool | int) -> str:
    # Booleans as true/false (the official bindings send True/False), ints in decimal.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _query(params: Mapping[str, str | bool | int]) -> str:
    # Percent-encoded, ":" as %3A, exactly as httpx encodes params.
    return "&".join(f"{_quote(k)}={_quote(_text(v))}" for k, v in params.items())
