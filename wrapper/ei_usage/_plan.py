"""Planning: a call's arguments validated, and the requests a report will make, before any request.

The first step of every report, and pure (no HTTP): a report reads top to bottom as

1. **plan** (here): ids, period and ``every`` checked; the organizations (given, or listed for
   ``"all"``) and the pieces of the period, in result order;
2. **store** (:mod:`ei_usage._history`): the rows of closed periods a history store already holds;
3. **send** (:mod:`ei_usage._runner`, through the client's one request path): the rest;
4. **assemble** (:mod:`ei_usage._report`): rows, failures and what was not attempted.

A listing's arguments are planned here too (:class:`Listing`), so that the request descriptions
(:mod:`ei_usage._calls`) and the listing iterators (:mod:`ei_usage._listing`) both depend on this
module, not on each other.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

import attrs

from . import _paging
from ._config import check_int
from ._dates import DateRange, format_wire
from ._models import InnerOrganization, InnerOrganizationUsage

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from ._dates import Every

# Organization id 0 is valid (the official bindings drop it). A partial: it runs twice a call.
check_id: Callable[[str, object], int] = functools.partial(check_int, minimum=0)

# DateRange is immutable, and tools ask for the same few periods again and again.
_parse_period = functools.lru_cache(maxsize=256)(DateRange.parse)


def check_period(period: DateRange | str) -> DateRange:
    """Return ``period`` as a :class:`DateRange` (a string is parsed).

    Raises:
        TypeError: neither a DateRange nor a str.
        ValueError: a string :meth:`DateRange.parse` refuses.
    """
    if isinstance(period, DateRange):
        return period
    if isinstance(period, str):
        return _parse_period(period)
    raise TypeError(f"period must be a DateRange or a str, got {type(period).__name__}")


@functools.lru_cache(maxsize=1024)
def check_piece(period: DateRange) -> DateRange:
    """Return ``period`` if the API can be asked about it.

    Raises:
        ValueError: the period is empty at the wire's millisecond resolution.
    """
    start, end = format_wire(period.start), format_wire(period.end)
    if start == end:
        raise ValueError(
            f"period {period} is shorter than the API's millisecond resolution: it would be "
            f"sent as the empty range {start}..{end}"
        )
    return period


def targets(
    value: Iterable[int | InnerOrganization] | Literal["all"],
) -> Iterable[int | InnerOrganization] | None:
    """Return the organizations a bulk call was given, or None for ``"all"``.

    Raises:
        TypeError: a string other than ``"all"`` (its characters are no ids).
    """
    if isinstance(value, str | bytes):
        if value != "all":
            raise TypeError(
                "inner organizations must be 'all' or an iterable of ints, not a string"
            )
        return None
    return value


# ---- compute-time reports ----------------------------------------------------------------------


@attrs.frozen
class Plan:
    """The validated requests of a compute-time report, in result order."""

    organization_id: int
    inner_organization_ids: tuple[int, ...]
    period: DateRange
    every: Every
    pieces: tuple[DateRange, ...]
    names: Mapping[int, str] = attrs.field(factory=dict)
    deleted: Mapping[int, bool] = attrs.field(factory=dict)  # of listed organizations
    listing_stop_reason: str | None = None

    def jobs(self) -> Sequence[tuple[int, DateRange]]:
        """Return ``(inner_organization_id, piece)`` of every request, in result order.

        Computed on access, not stored: 20,000 requests cost no more memory than 2,000.
        """
        return _Jobs(self.inner_organization_ids, self.pieces)


class _Jobs(Sequence[tuple[int, DateRange]]):
    """Every (inner organization, piece) pair of a plan, by index."""

    def __init__(self, inner: tuple[int, ...], pieces: tuple[DateRange, ...]) -> None:
        self._inner = inner
        self._pieces = pieces

    def __len__(self) -> int:
        return len(self._inner) * len(self._pieces)

    @overload
    def __getitem__(self, index: int) -> tuple[int, DateRange]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[int, DateRange]]: ...
    def __getitem__(
        self, index: int | slice
    ) -> tuple[int, DateRange] | Sequence[tuple[int, DateRange]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        inner, piece = divmod(index % len(self), len(self._pieces))
        return self._inner[inner], self._pieces[piece]


def compute_time(
    organization_id: int,
    inner_organizations: Iterable[int | InnerOrganization] | None,
    period: DateRange | str,
    every: Every,
) -> Plan:
    r"""Validate a report's arguments, every piece of its period included, before any request.

    Args:
        organization_id: the white-label organization.
        inner_organizations: ids, or listed :class:`InnerOrganization`\ s (their names go into
            the rows); None for ``"all"``: the ids come from a listing (:func:`with_listing`).
        period: the whole range.
        every: the calendar unit of each request.

    Raises:
        ValueError, TypeError: a bad id, an empty list of inner organizations, an unknown
            ``every``, a piece too short to send.
    """
    if isinstance(inner_organizations, str | bytes):
        raise TypeError("inner_organization_ids must be an iterable of ints, not a string")
    org = check_id("organization_id", organization_id)
    whole = check_period(period)
    names: dict[int, str] = {}
    deleted: dict[int, bool] = {}
    ids: set[int] = set()
    for item in inner_organizations if inner_organizations is not None else ():
        if isinstance(item, InnerOrganization):
            names[item.id] = item.name
            deleted[item.id] = item.deleted
            ids.add(item.id)
        else:
            ids.add(check_id("inner_organization_id", item))
    if inner_organizations is not None and not ids:
        raise ValueError("inner_organization_ids is empty")
    pieces = tuple(check_piece(piece) for piece in whole.split(every))
    return Plan(org, tuple(sorted(ids)), whole, every, pieces, names, deleted)


def with_listing(
    plan: Plan,
    organizations: Sequence[InnerOrganization],
    unread: Sequence[int],
    stop_reason: str | None,
    *,
    replace_ids: bool,
) -> Plan:
    """Give a plan the listed organizations' names and deletion (and, for "all", their ids).

    Args:
        plan: the plan.
        organizations: what the listing read.
        unread: ids of organizations whose listing record could not be read: for "all" they
            are in too (their id is known, and compute time needs nothing else).
        stop_reason: why the listing ended early, or None; recorded for "all".
        replace_ids: the plan is of "all": its organizations are the listed ones.
    """
    names = {organization.id: organization.name for organization in organizations}
    deleted = {organization.id: organization.deleted for organization in organizations}
    if replace_ids:
        return attrs.evolve(
            plan,
            inner_organization_ids=tuple(sorted({*names, *unread})),
            names=names,
            deleted=deleted,
            listing_stop_reason=stop_reason,
        )
    return attrs.evolve(plan, names=names, deleted=deleted)


# ---- entitlement checks ------------------------------------------------------------------------


def entitlements(
    inner_organizations: Iterable[int | InnerOrganization],
) -> tuple[list[int], dict[int, InnerOrganization]]:
    """Validate an entitlement check's organizations: ids in order, and those listed by id."""
    if isinstance(inner_organizations, str | bytes):
        raise TypeError("inner_organizations must be 'all' or an iterable of ints")
    ids: dict[int, None] = {}
    listed: dict[int, InnerOrganization] = {}
    for item in inner_organizations:
        if isinstance(item, InnerOrganization):
            ids[item.id] = None
            listed[item.id] = item
        else:
            ids[check_id("inner_organization_id", item)] = None
    return sorted(ids), listed


def named(
    usage: InnerOrganizationUsage, listed: Mapping[int, InnerOrganization]
) -> InnerOrganizationUsage:
    """Give a usage the name and deletion of its organization, when it was listed."""
    organization = listed.get(usage.inner_organization_id)
    if organization is None:
        return usage
    return attrs.evolve(
        usage,
        inner_organization_name=organization.name,
        inner_organization_deleted=organization.deleted,
    )


# ---- listings ----------------------------------------------------------------------------------

_MAX_SEARCH_LENGTH = 200


class Listing(NamedTuple):
    """The validated arguments of an organization listing."""

    organization_id: int
    include_deleted: bool
    active_within_days: int | None
    search: str | None
    page_size: int


def listing(
    organization_id: int,
    include_deleted: bool,
    active_within_days: int | None,
    search: str | None,
    page_size: int,
) -> Listing:
    """Validate a listing's arguments.

    Raises:
        ValueError, TypeError: a bad argument.
    """
    org = check_id("organization_id", organization_id)
    if not isinstance(include_deleted, bool):
        raise TypeError(f"include_deleted must be a bool, got {type(include_deleted).__name__}")
    days = (
        None
        if active_within_days is None
        else check_int("active_within_days", active_within_days, minimum=1)
    )
    if search is not None:
        if not isinstance(search, str):
            raise TypeError(f"search must be a str or None, got {type(search).__name__}")
        if not search.strip() or len(search) > _MAX_SEARCH_LENGTH or not search.isprintable():
            raise ValueError(
                f"search must be printable text of 1 to {_MAX_SEARCH_LENGTH} characters"
            )
    size = check_int("page_size", page_size, minimum=2)
    if size > _paging.MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be at most {_paging.MAX_PAGE_SIZE}, got {size}")
    return Listing(org, include_deleted, days, search, size)


def without_deleted(listing: Listing) -> Listing | None:
    """Return the second listing that tells deleted organizations apart, or None if not needed.

    The listing record has no "deleted" field: an organization listed with ``includeDeleted``
    but not without it is deleted. So a listing with deleted organizations costs a second one.
    """
    return listing._replace(include_deleted=False) if listing.include_deleted else None
