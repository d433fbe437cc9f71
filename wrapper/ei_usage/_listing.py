"""A white label's organization listing as the clients return it, with what went wrong.

:meth:`Client.inner_organizations` returns an :class:`OrganizationListing` (``AsyncClient``: an
:class:`AsyncOrganizationListing`): an iterator of :class:`InnerOrganization` that reads pages
as iteration needs them (:mod:`ei_usage._paging` decides which) and keeps, next to what it
yielded, the records it could not read (``errors``) and why it ended early (``stop_reason``).
When iteration ends with either, an :class:`IncompleteListingWarning` says so.

With deleted organizations, a second listing without them tells them apart (the record has no
such field): both are read before anything is yielded, and an organization only in the first is
marked ``deleted``. If that second listing ends early, only organizations below the last id it
reached are marked (of the others it cannot tell), and ``stop_reason`` says so.
"""

from __future__ import annotations

import collections
import math
import warnings
from typing import TYPE_CHECKING

import attrs

from . import _paging
from ._models import InnerOrganization

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ._plan import Listing

    Send = Callable[[Listing, _paging.Request], "Page"]
    AsyncSend = Callable[[Listing, _paging.Request], "Awaitable[Page]"]
    from ._errors import ResponseValidationError
    from ._parse import Page, Record


class IncompleteListingWarning(UserWarning):
    """An organization listing ended early, or some of its records could not be read.

    What was listed is kept; the listing's ``stop_reason`` and ``errors`` say what is missing.
    """


@attrs.frozen
class ListingFailure:
    """One organization of a listing whose record could not be read.

    Attributes:
        inner_organization_id: its id (the one field that could be read).
        error: what was wrong, naming the field.
    """

    inner_organization_id: int
    error: ResponseValidationError


_SHOWN_FAILURES = 3


class _Listing:
    """What the sync and async listings share: the pager, and what went wrong."""

    def __init__(self, listing: Listing, live: Listing | None, *, warn: bool = True) -> None:
        self._listing = listing
        self._pager = _paging.Pager(listing.page_size)
        # The second listing, without deleted organizations, that tells them apart.
        self._live = live
        self._live_pager = _paging.Pager(listing.page_size)
        self._live_ids: set[int] = set()
        self._ready: collections.deque[InnerOrganization] = collections.deque()
        self._errors: list[ListingFailure] = []
        self._warn = warn
        self._finished = False

    @property
    def organization_id(self) -> int:
        """The white label whose organizations these are."""
        return self._listing.organization_id

    @property
    def errors(self) -> tuple[ListingFailure, ...]:
        """The records read so far that could not be read as organizations, in listing order."""
        return tuple(self._errors)

    @property
    def stop_reason(self) -> str | None:
        """Why the listing ended before the server's ``total`` (what the server did), or None.

        Also set when it ended early past a ``total`` found to understate (there may be more).

        Set once iteration has ended; the organizations yielded until then are kept.
        """
        live = self._live_pager.stop_reason
        if self._pager.stop_reason is None and live is not None:
            return f"{live} (in the listing without deleted organizations, which marks them)"
        return self._pager.stop_reason

    @property
    def finished(self) -> bool:
        """Whether iteration has ended (every page read, or the listing ended early)."""
        return self._finished

    @property
    def ok(self) -> bool:
        """Whether the listing ran to its end without ending early or an unreadable record."""
        return self._finished and self.stop_reason is None and not self._errors

    @property
    def pages(self) -> int:
        """How many pages were asked for so far (both listings, with deleted organizations)."""
        return self._pager.requests + self._live_pager.requests

    def _take(self, request: _paging.Request, page: Page) -> None:
        records: list[Record] = self._pager.take(request, page)
        for record in records:
            if isinstance(record, InnerOrganization):
                self._ready.append(record)
            else:
                self._errors.append(ListingFailure(record.id, record.error))

    def _take_live(self, request: _paging.Request, page: Page) -> None:
        self._live_ids.update(record.id for record in self._live_pager.take(request, page))

    def _mark(self) -> None:
        """Mark deleted the organizations listed only with the deleted ones."""
        self._live = None
        live = self._live_ids
        # Past the last id a cut-short listing reached, whether one is deleted is unknown.
        reached = math.inf if self._live_pager.stop_reason is None else max(live, default=-1)
        self._ready = collections.deque(
            o if o.id in live or o.id > reached else attrs.evolve(o, deleted=True)
            for o in self._ready
        )

    def _finish(self) -> None:
        self._finished = True
        if self._warn and not self.ok:
            warnings.warn(IncompleteListingWarning(self.describe()), stacklevel=3)

    def describe(self) -> str:
        """Return one line on what the listing lacks (empty when nothing)."""
        parts = []
        if self.stop_reason is not None:
            parts.append(f"the listing was {self.stop_reason}")
        if self._errors:
            shown = "; ".join(
                f"{f.inner_organization_id} ({f.error.message})"
                for f in self._errors[:_SHOWN_FAILURES]
            )
            more = len(self._errors) - _SHOWN_FAILURES
            parts.append(
                f"{len(self._errors):,} organization{'s' if len(self._errors) > 1 else ''} "
                f"not read: {shown}{f'; and {more:,} more' if more > 0 else ''}"
            )
        if not parts:
            return ""
        return f"organizations of white label {self.organization_id}: " + "; ".join(parts)


class OrganizationListing(_Listing):
    """The organizations of a white label, read page by page as iteration needs them.

    An iterator of :class:`InnerOrganization` (each once, in id order). After iteration,
    ``stop_reason`` says why the listing ended early (a server whose pages go nowhere), and
    ``errors`` lists the records that could not be read; either also issues an
    :class:`IncompleteListingWarning`.
    """

    def __init__(
        self, listing: Listing, live: Listing | None, send: Send, *, warn: bool = True
    ) -> None:
        super().__init__(listing, live, warn=warn)
        self._send = send

    def __iter__(self) -> OrganizationListing:
        return self

    def __next__(self) -> InnerOrganization:
        """Return the next organization, reading the next page if needed.

        Raises:
            EdgeImpulseError: a page could not be read.
        """
        if self._live is not None:  # both listings first, then mark
            live = self._live
            while (request := self._pager.next_request()) is not None:
                self._take(request, self._send(self._listing, request))
            while (request := self._live_pager.next_request()) is not None:
                self._take_live(request, self._send(live, request))
            self._mark()
        while not self._ready:
            if self._finished:
                raise StopIteration
            request = self._pager.next_request()
            if request is None:
                self._finish()
                raise StopIteration
            self._take(request, self._send(self._listing, request))
        return self._ready.popleft()


class AsyncOrganizationListing(_Listing):
    """The organizations of a white label, for ``async for``; see :class:`OrganizationListing`."""

    def __init__(
        self, listing: Listing, live: Listing | None, send: AsyncSend, *, warn: bool = True
    ) -> None:
        super().__init__(listing, live, warn=warn)
        self._send = send

    def __aiter__(self) -> AsyncOrganizationListing:
        return self

    async def __anext__(self) -> InnerOrganization:
        """Return the next organization, reading the next page if needed.

        Raises:
            EdgeImpulseError: a page could not be read.
        """
        if self._live is not None:  # both listings first, then mark
            live = self._live
            while (request := self._pager.next_request()) is not None:
                self._take(request, await self._send(self._listing, request))
            while (request := self._live_pager.next_request()) is not None:
                self._take_live(request, await self._send(live, request))
            self._mark()
        while not self._ready:
            if self._finished:
                raise StopAsyncIteration
            request = self._pager.next_request()
            if request is None:
                self._finish()
                raise StopAsyncIteration
            self._take(request, await self._send(self._listing, request))
        return self._ready.popleft()
