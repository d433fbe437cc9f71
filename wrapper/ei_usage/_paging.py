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
* ids it already yielded are never yielded again, whatever the server does.

So an organization present during the whole listing is listed exactly once, in id order; one
added or removed while the listing runs may or may not be. Paging ends when a page reaches
``total`` (or an empty page at the start); a server that returns shorter pages than asked (a cap
of its own) is followed page by page. A server that does not sort by id still gets no repeats.

Everything is bounded: at most :data:`MAX_PAGES` requests and :data:`MAX_ORGANIZATIONS`
organizations, so a server that pages forever ends in an error, not a hang.

The pager only decides what to ask next; the clients send the requests (sync or async).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ._models import InnerOrganization
    from ._parse import Page

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_PAGES = 50_000
MAX_ORGANIZATIONS = 1_000_000


class PagingError(Exception):
    """The server's pages cannot be followed (too many, or going nowhere)."""


class Request(NamedTuple):
    """The next page to ask for."""

    offset: int
    limit: int


class Pager:
    """Decides which page to ask for next and which organizations of a page are new."""

    def __init__(self, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        if not 2 <= page_size <= MAX_PAGE_SIZE:
            # One organization of overlap needs pages of at least two.
            raise ValueError(f"page_size must be from 2 to {MAX_PAGE_SIZE}, got {page_size}")
        self._limit = page_size
        self._offset = 0
        self._anchor: int | None = None  # the last id yielded
        self._seen: set[int] = set()
        self._done = False
        self.requests = 0

    def next_request(self) -> Request | None:
        """Return the page to ask for next, or None when the listing is complete.

        Raises:
            PagingError: more than :data:`MAX_PAGES` pages.
        """
        if self._done:
            return None
        if self.requests >= MAX_PAGES:
            raise PagingError(f"the listing did not end after {MAX_PAGES:,} pages")
        self.requests += 1
        return Request(self._offset, self._limit)

    def take(self, request: Request, page: Page) -> list[InnerOrganization]:
        """Take the answer to ``request``; return the organizations not yielded before.

        Raises:
            PagingError: more than :data:`MAX_ORGANIZATIONS` organizations.
        """
        items = page.items
        ids = [item.id for item in items]
        in_order = all(a < b for a, b in itertools.pairwise(ids))
        anchor = self._anchor
        if (
            anchor is not None
            and in_order
            and request.offset > 0
            and (not items or ids[0] > anchor)
        ):
            # The overlap is gone: organizations before it were removed, and some after it may
            # have moved back past this offset. Step back and look again.
            self._offset = max(0, request.offset - (self._limit - 1))
            return []
        fresh = [item for item in items if item.id not in self._seen]
        if anchor is not None and in_order:
            fresh = [item for item in fresh if item.id > anchor]
        if len(self._seen) + len(fresh) > MAX_ORGANIZATIONS:
            raise PagingError(f"the listing has more than {MAX_ORGANIZATIONS:,} organizations")
        self._seen.update(item.id for item in fresh)
        if fresh and in_order:
            self._anchor = fresh[-1].id
        end = request.offset + len(items)
        if not items or end >= page.total:
            self._done = True
        else:
            # Overlap by one (the anchor) when the page is sorted and has room for it.
            self._offset = end - 1 if in_order and len(items) >= 2 else end
        return fresh
