"""Paging through the white label's organizations without skipping or repeating one.

The listing is paged by offset (``limit``/``offset``, with ``total`` counting every match), so an
organization added or removed before the page being read shifts every later one: a naive reader
then repeats one organization, or skips one. :class:`Pager` avoids both:

* it asks for pages sorted by id, and reads each page starting at the last organization it
  already yielded (one organization of overlap);
* if that overlap is where it should be, nothing before it changed; if an earlier id shows up
  there, organizations were added before it (they are dropped as already seen); if a later id
  shows up, some were removed before it, and it steps back a page at a time until it finds its
  place again, so none that moved back past it is missed;
* ids it already yielded are never yielded again, whatever the server does, and an id a page
  holds twice is taken once.

So an organization present during the whole listing is listed exactly once, in id order; one added
or removed while the listing runs may or may not be. Paging ends when a page reaches ``total``,
unless that page is full (as long as asked, or as the server's own pages) and brings new
organizations, or the page goes past ``total``: then ``total`` may understate (a server that counts
only some organizations) and paging goes on until a page that is not full, under the same bounds as
below. An honest listing whose last page is exactly full so costs one more request. One case cannot
be told from an honest listing of one page: a first page cut short by a cap of the server's that
ends exactly at an understated ``total``. A server that returns shorter pages than asked (a cap of
its own) is followed page by page. Pages of one organization cannot overlap, so they are read one
after the other (an organization removed meanwhile may then be missed). A server that does not sort
by id still gets no repeats.

A broken server must not make the listing run forever, nor lose what was listed: a page makes
progress when it yields an organization, shows an id never seen before, changes ``total`` (the
data is really changing, and is followed), or, walking forward to the anchor after additions
before it, ends further on than the page before. The listing ends early, keeping what it yielded
and saying why in :attr:`Pager.stop_reason`, when

* a page inside ``total`` is empty, or is shorter than the server's pages so far without making
  progress (``total`` overstates, or the server lost its place);
* :data:`MAX_STALLS` pages in a row make no progress (it repeats pages: it ignores ``offset``,
  or keeps moving organizations around);
* it reaches ``total`` on a page that made no progress, having yielded fewer organizations than
  ``total`` (it repeated pages up to the end);
* it reaches :data:`MAX_PAGES` requests or :data:`MAX_ORGANIZATIONS` organizations.

A listing that ends early while having yielded at least ``total`` organizations is complete,
unless ``total`` was found to understate: then it ends early all the same (there may be more).

The pager only decides what to ask next; the clients send the requests (sync or async).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ._parse import Page, Record

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGES = 50_000
MAX_ORGANIZATIONS = 1_000_000
MAX_STALLS = 3
"""Pages in a row that make no progress before the listing ends early."""


class Request(NamedTuple):
    """The next page to ask for."""

    offset: int
    limit: int


def _organizations(count: int) -> str:
    return f"{count:,} organization{'' if count == 1 else 's'}"


class Pager:
    """Decides which page to ask for next and which organizations of a page are new."""

    def __init__(self, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if not 2 <= page_size <= MAX_PAGE_SIZE:
            # One organization of overlap needs pages of at least two.
            raise ValueError(f"page_size must be from 2 to {MAX_PAGE_SIZE}, got {page_size}")
        self._limit = page_size
        self._offset = 0
        self._anchor: int | None = None  # the last id yielded
        self._overlap = False  # whether the next page should start at the anchor (or before)
        self._seen: set[int] = set()  # ids yielded
        self._observed: set[int] = set()  # ids any page showed
        self._total: int | None = None  # the last page's total
        self._largest = 0  # the most organizations a page held: the server's own cap, if any
        self._stalls = 0
        self._walked_to: int | None = None  # the last id of the last page before the anchor
        self._past_total = False  # a full page of new organizations reached total: it understates
        self._done = False
        self.requests = 0
        self.stop_reason: str | None = None
        """Why the listing ended before it was complete, or None."""

    @property
    def listed(self) -> int:
        """How many organizations were yielded."""
        return len(self._seen)

    def next_request(self) -> Request | None:
        """Return the page to ask for next, or None when the listing is over."""
        if self._done:
            return None
        if self.requests >= MAX_PAGES:
            self._end(f"the listing did not end after {MAX_PAGES:,} pages")
            return None
        self.requests += 1
        return Request(self._offset, self._limit)

    def _end(self, reason: str | None = None) -> None:
        self._done = True
        total = self._total or 0
        if reason is None:
            return
        if len(self._seen) < total:
            self.stop_reason = (
                f"cut short after {len(self._seen):,} of the {_organizations(total)} the server "
                f"counts: {reason}"
            )
        elif self._past_total:
            # Its total understates, so reaching it proves nothing: there may be more.
            self.stop_reason = (
                f"cut short after {_organizations(len(self._seen))}, more than the {total:,} the "
                f"server counts (its total understates): {reason}"
            )

    def _stalled(self, request: Request, count: int, *, short: bool) -> None:
        """Count a page without progress; end the listing if it is one too many."""
        self._stalls += 1
        if short:
            listed = "already listed" if count == 1 else "all already listed"
            self._end(
                f"its page at offset {request.offset:,} holds {_organizations(count)}, {listed}"
            )
        elif self._stalls >= MAX_STALLS:
            self._end(
                f"{MAX_STALLS} pages in a row brought no new organization (its pages repeat or "
                "keep shifting: it may ignore offset)"
            )

    def take(self, request: Request, page: Page) -> list[Record]:
        """Take the answer to ``request``; return the organizations not yielded before."""
        unique: dict[int, Record] = {}
        for item in page.items:
            unique.setdefault(item.id, item)  # an id held twice is taken once
        items = list(unique.values())
        ids = list(unique)
        in_order = all(a <= b for a, b in itertools.pairwise(item.id for item in page.items))
        count = len(page.items)  # the positions the page covers, repeats included
        total = page.total
        new_ids = [i for i in ids if i not in self._observed]
        progress = bool(new_ids) or (self._total is not None and total != self._total)
        self._total = total
        if len(self._observed) + len(new_ids) > MAX_ORGANIZATIONS:
            self._end(f"the listing holds more than {MAX_ORGANIZATIONS:,} organizations")
            return []
        self._observed.update(new_ids)
        if progress:
            self._stalls = 0
        largest, self._largest = self._largest, max(self._largest, count)
        end = request.offset + count
        short = count < min(request.limit, largest) and end < total
        anchor = self._anchor
        if not items:
            if request.offset < total:
                self._end(f"its page at offset {request.offset:,} is empty")
            elif anchor is not None and request.offset > 0 and self._overlap:
                # The list shrank below the offset: some may have moved back past it.
                self._offset = max(0, request.offset - (self._limit - 1))
                if not progress:
                    self._stalled(request, count, short=False)
            else:
                self._end()
            return []
        gone = self._overlap and in_order and request.offset > 0
        if gone and anchor is not None and ids[0] > anchor:
            # The overlap is gone: organizations before it were removed, and some after it may
            # have moved back past this offset. Step back and look again.
            self._offset = max(0, request.offset - (self._limit - 1))
            if not progress:
                self._stalled(request, count, short=short)
            return []
        fresh = [item for item in items if item.id not in self._seen]
        if anchor is not None and in_order:
            fresh = [item for item in fresh if item.id > anchor]
        self._seen.update(item.id for item in fresh)
        # A sorted page of organizations before the anchor only: organizations were added
        # before it, and the pages walk forward to it. Each such page must end further on than
        # the last one did, or the server is repeating itself.
        walking = in_order and anchor is not None and not fresh and ids[-1] <= anchor
        if walking and self._walked_to is not None and ids[-1] > self._walked_to:
            progress = True
        self._walked_to = ids[-1] if walking else None
        if fresh:
            progress = True
            self._stalls = 0
            if in_order:
                self._anchor = fresh[-1].id
        if end >= total:
            # New organizations on a full page at total, or on any page past it: total may
            # understate (a server that counts only some of them), so keep going; a page that
            # is not full ends the listing. Full: as long as asked, or as the server's own
            # pages so far (a cap). An honest server whose last page is exactly full costs one
            # more request, answered with the overlap alone.
            full = count >= request.limit or 0 < largest <= count
            if fresh and (full or end > total):
                self._past_total = True
            elif not self._past_total or not full or not progress:
                # Past an understating total, a page that is not full is the real end.
                repeated = full if self._past_total else not progress
                self._end("its pages repeated organizations already listed" if repeated else None)
                return fresh
            # Else, past total, a full page walking forward to the anchor: go on.
        # Overlap by one (the anchor) when the page is sorted and has room for it.
        self._overlap = in_order and len(items) >= 2
        self._offset = end - 1 if self._overlap else end
        if not progress:
            self._stalled(request, count, short=short)
        return fresh
