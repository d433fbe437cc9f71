"""The pager on a simulated listing: edge cases of paging, and organizations changing mid-listing.

``Listing`` is an in-memory white label answering ``(offset, limit)`` the way the API does (sorted
by id, ``total`` counting everything); tests change it between pages and check that what the
pager yields is exactly what they expect, in id order, never twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ei_usage import Entitlements, InnerOrganization, _paging
from ei_usage._paging import MAX_PAGES, Pager, Request
from ei_usage._parse import Page

CREATED = datetime(2024, 1, 1, tzinfo=UTC)


def org(i: int) -> InnerOrganization:
    return InnerOrganization(i, f"org {i}", CREATED, True, 7, 0, Entitlements())


class Listing:
    """An organization listing; ``before_page(n)`` runs before the n-th answer (from 0)."""

    def __init__(
        self,
        ids: list[int],
        *,
        cap: int | None = None,
        before_page: Callable[[int, list[int]], None] | None = None,
    ) -> None:
        self.ids = sorted(ids)
        self.cap = cap
        self.before_page = before_page
        self.asked: list[Request] = []

    def answer(self, request: Request) -> Page:
        if self.before_page is not None:
            self.before_page(len(self.asked), self.ids)
            self.ids.sort()
        self.asked.append(request)
        size = request.limit if self.cap is None else min(request.limit, self.cap)
        window = self.ids[request.offset : request.offset + size]
        return Page(len(self.ids), tuple(org(i) for i in window))


def run(listing: Listing, page_size: int = 10) -> list[int]:
    pager = Pager(page_size)
    got: list[int] = []
    while (request := pager.next_request()) is not None:
        got.extend(item.id for item in pager.take(request, listing.answer(request)))
    return got


def test_no_organizations_is_one_request() -> None:
    listing = Listing([])
    assert run(listing) == []
    assert listing.asked == [Request(0, 10)]


def test_exactly_one_full_page_is_confirmed_by_one_more_request() -> None:
    # A full page of new organizations may be followed by more (a total that understates): one
    # more request, answered with the overlap alone, says there are none.
    listing = Listing(list(range(1, 11)))
    got, pager = listed(listing, 10)
    assert got == list(range(1, 11))
    assert listing.asked == [Request(0, 10), Request(9, 10)]
    assert pager.stop_reason is None


def test_pages_overlap_by_one_and_end_at_total() -> None:
    listing = Listing(list(range(100, 125)))
    assert run(listing) == list(range(100, 125))
    assert listing.asked == [Request(0, 10), Request(9, 10), Request(18, 10)]


def test_a_server_capping_pages_below_the_limit_is_followed() -> None:
    listing = Listing(list(range(50)), cap=4)
    assert run(listing, page_size=10) == list(range(50))


def test_organizations_added_before_the_offset_are_not_repeated() -> None:
    def add(page: int, ids: list[int]) -> None:
        if page == 1:
            ids.extend([-5, -4, -3])  # three new organizations sort first

    listing = Listing(list(range(30)), before_page=add)
    got = run(listing)
    assert len(got) == len(set(got))
    assert set(range(30)) <= set(got)


def test_organizations_removed_before_the_offset_are_not_a_reason_to_skip() -> None:
    def remove(page: int, ids: list[int]) -> None:
        if page == 1:
            for gone in (0, 1, 2, 3):  # already listed, now deleted: everything shifts back
                ids.remove(gone)

    listing = Listing(list(range(40)), before_page=remove)
    got = run(listing)
    assert got == list(range(40))  # nothing skipped, nothing twice, in order


def test_the_anchor_itself_removed() -> None:
    def remove(page: int, ids: list[int]) -> None:
        if page == 1:
            ids.remove(9)  # the last organization of the first page

    listing = Listing(list(range(25)), before_page=remove)
    assert run(listing) == list(range(25))


def test_the_list_shrinking_below_the_offset() -> None:
    def remove(page: int, ids: list[int]) -> None:
        if page == 2:
            del ids[:15]

    listing = Listing(list(range(40)), before_page=remove)
    got = run(listing)
    assert got == sorted(set(got))
    assert set(range(15, 40)) <= set(got)


def test_a_server_ignoring_the_sort_still_gives_no_repeats() -> None:
    class Shuffled(Listing):
        def answer(self, request: Request) -> Page:
            page = super().answer(request)
            return Page(page.total, tuple(reversed(page.items)))

    got = run(Shuffled(list(range(35))))
    assert len(got) == len(set(got))
    assert set(got) == set(range(35))


def test_a_server_paging_forever_ends_after_max_pages_keeping_what_was_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_paging, "MAX_PAGES", 50)
    pager = Pager(10)
    got = []
    while (request := pager.next_request()) is not None:
        # Always new organizations, and always "more to come".
        window = range(request.offset, request.offset + request.limit)
        got.extend(pager.take(request, Page(10**9, tuple(org(i) for i in window))))
    assert pager.requests == 50
    assert len(got) == pager.listed > 400
    assert pager.stop_reason is not None
    assert "did not end after 50 pages" in pager.stop_reason
    assert MAX_PAGES == 50_000  # the real bound, patched above to keep the test short


def test_page_size_must_allow_an_overlap() -> None:
    for bad in (0, 1, 1001):
        with pytest.raises(ValueError, match="page_size"):
            Pager(bad)


@settings(max_examples=200, deadline=None)
@given(
    initial=st.lists(st.integers(0, 500), max_size=80, unique=True),
    changes=st.lists(
        st.tuples(
            st.integers(0, 12),  # before which page
            st.booleans(),  # add (True) or remove
            st.integers(0, 500),
        ),
        max_size=12,
    ),
    page_size=st.integers(2, 15),
)
def test_organizations_present_throughout_are_listed_exactly_once_in_order(
    initial: list[int], changes: list[tuple[int, bool, int]], page_size: int
) -> None:
    removed: set[int] = set()

    def change(page: int, ids: list[int]) -> None:
        for when, add, value in changes:
            if when == page:
                if add and value not in ids:
                    ids.append(value)
                elif not add and value in ids:
                    ids.remove(value)
                    removed.add(value)

    listing = Listing(initial, before_page=change)
    got, pager = listed(listing, page_size)
    assert pager.stop_reason is None, "a consistent server's listing ended early"
    assert len(got) == len(set(got)), "an organization was listed twice"
    assert got == sorted(got), "not in id order"
    present_throughout = set(initial) - removed
    missing = present_throughout - set(got)
    assert not missing, f"skipped {sorted(missing)}"


# ---- hostile servers: end in a few requests, keep what was listed ------------------------------


class Hostile(Listing):
    """A listing that misbehaves: ``total`` off by ``extra``, ``offset`` ignored, a page cap,
    every page after the first one position further on than asked ("keeps removing")."""

    def __init__(
        self,
        ids: list[int],
        *,
        extra: int = 0,
        ignore_offset: bool = False,
        cap: int | None = None,
        shift: bool = False,
    ) -> None:
        super().__init__(ids, cap=cap)
        self.extra = extra
        self.ignore_offset = ignore_offset
        self.shift = shift

    def answer(self, request: Request) -> Page:
        offset = 0 if self.ignore_offset else request.offset + (self.shift and request.offset > 0)
        page = super().answer(Request(offset, request.limit))
        self.asked[-1] = request
        return Page(page.total + self.extra, page.items)


def listed(listing: Listing, page_size: int) -> tuple[list[int], Pager]:
    pager = Pager(page_size)
    got: list[int] = []
    while (request := pager.next_request()) is not None:
        got.extend(item.id for item in pager.take(request, listing.answer(request)))
    return got, pager


TWENTY_FIVE = list(range(100, 125))


@pytest.mark.parametrize("page_size", [2, 10, 100])
def test_a_total_overstated_by_one_ends_at_once_keeping_every_organization(
    page_size: int,
) -> None:
    honest = Listing(TWENTY_FIVE)
    run(honest, page_size)
    listing = Hostile(TWENTY_FIVE, extra=1)
    got, pager = listed(listing, page_size)
    assert got == TWENTY_FIVE
    assert len(listing.asked) <= len(honest.asked) + 3
    assert pager.stop_reason is not None
    assert "25 of the 26 organizations the server counts" in pager.stop_reason


@pytest.mark.parametrize("page_size", [2, 10])
def test_a_server_ignoring_offset_ends_in_a_few_requests(page_size: int) -> None:
    honest = Listing(TWENTY_FIVE)
    run(honest, page_size)
    listing = Hostile(TWENTY_FIVE, ignore_offset=True)
    got, pager = listed(listing, page_size)
    assert got == TWENTY_FIVE[:page_size]  # the first page, once
    assert len(listing.asked) <= len(honest.asked) + 3
    assert pager.stop_reason is not None
    assert f"{page_size} of the 25" in pager.stop_reason


@pytest.mark.parametrize("page_size", [2, 10, 100])
def test_pages_of_one_organization_are_followed_to_the_end(page_size: int) -> None:
    listing = Hostile(TWENTY_FIVE, cap=1)
    got, pager = listed(listing, page_size)
    assert got == TWENTY_FIVE
    # The last page is as full as the server's pages: one more, empty, says it was the last.
    assert len(listing.asked) == 26
    assert pager.stop_reason is None


def test_pages_of_one_with_an_overstated_total_end_at_the_empty_page() -> None:
    listing = Hostile(TWENTY_FIVE, cap=1, extra=1)
    got, pager = listed(listing, 10)
    assert got == TWENTY_FIVE
    assert len(listing.asked) == 26
    assert pager.stop_reason is not None
    assert "offset 25 is empty" in pager.stop_reason


@pytest.mark.parametrize("page_size", [2, 10])
def test_a_server_that_keeps_removing_ends_in_a_few_requests(page_size: int) -> None:
    honest = Listing(TWENTY_FIVE)
    run(honest, page_size)
    listing = Hostile(TWENTY_FIVE, shift=True)
    got, pager = listed(listing, page_size)
    assert got == sorted(set(got))
    assert set(TWENTY_FIVE[:page_size]) <= set(got)
    assert len(listing.asked) <= len(honest.asked) + 3
    assert pager.stop_reason is not None


def test_an_id_twice_in_a_page_is_yielded_once() -> None:
    class Doubled(Listing):
        def answer(self, request: Request) -> Page:
            page = super().answer(request)
            if not page.items:
                return page
            # The repeat takes a position, and total counts it, as a join gone wrong would.
            return Page(page.total + 1, (page.items[0], *page.items)[: request.limit])

    got, pager = listed(Doubled(list(range(7))), 10)
    assert got == list(range(7))
    assert pager.stop_reason is None


def test_an_id_listed_twice_in_a_row_by_the_server_is_yielded_once() -> None:
    ids = [*range(30), 12]  # a join gone wrong: 12 twice, and total counts both
    listing = Listing(ids)
    got, pager = listed(listing, 10)
    assert got == list(range(30))
    assert pager.stop_reason is None


# ---- a total that understates: keep going while full pages bring new organizations ------------


@pytest.mark.parametrize(
    ("real", "total", "page_size"),
    [
        (30, 25, 10),  # before: 3 requests, 28 listed, 2 dropped, and no stop reason
        (300, 250, 100),  # before: 298 listed
        (25, 0, 10),  # before: 10 listed
        (25, 0, 100),
        (25, 24, 2),
        (40, 10, 10),
    ],
)
def test_a_total_that_understates_loses_no_organization(
    real: int, total: int, page_size: int
) -> None:
    ids = list(range(1000, 1000 + real))
    listing = Hostile(ids, extra=total - real)
    got, pager = listed(listing, page_size)
    assert got == ids
    assert pager.stop_reason is None
    honest = Listing(ids)
    run(honest, page_size)
    assert len(listing.asked) <= len(honest.asked) + 1


def test_pages_of_one_with_a_total_that_understates_lose_no_organization() -> None:
    listing = Hostile(TWENTY_FIVE, cap=1, extra=-5)
    got, pager = listed(listing, 10)
    assert got == TWENTY_FIVE
    assert pager.stop_reason is None
    assert len(listing.asked) == 26


@pytest.mark.parametrize("page_size", [2, 10])
@pytest.mark.parametrize("quirk", ["ignore_offset", "shift"])
def test_a_broken_server_with_a_total_that_understates_is_never_complete(
    page_size: int, quirk: str
) -> None:
    # Its pages go nowhere, and its total cannot be trusted: the listing ends early and says so,
    # even having listed more than the total.
    listing = Hostile(TWENTY_FIVE, extra=-20, **{quirk: True})
    got, pager = listed(listing, page_size)
    assert got == sorted(set(got))
    assert len(listing.asked) <= 25 + 3
    assert pager.stop_reason is not None
    assert pager.stop_reason.startswith(f"cut short after {len(got)} ")
    if len(got) > 5:
        assert "the server counts (its total understates)" in pager.stop_reason


def test_a_server_with_ever_more_organizations_past_its_total_ends_at_max_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_paging, "MAX_PAGES", 20)
    pager = Pager(10)
    while (request := pager.next_request()) is not None:
        window = range(request.offset, request.offset + request.limit)
        pager.take(request, Page(5, tuple(org(i) for i in window)))  # total 5, pages never end
    assert pager.requests == 20
    assert pager.stop_reason is not None
    assert "more than the 5 the server counts" in pager.stop_reason
    assert "did not end after 20 pages" in pager.stop_reason


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(st.integers(0, 500), max_size=80, unique=True),
    understated_by=st.integers(0, 80),
    page_size=st.integers(2, 15),
    cap=st.one_of(st.none(), st.integers(1, 15)),
)
def test_any_understating_total_loses_nothing_and_costs_at_most_one_request(
    ids: list[int], understated_by: int, page_size: int, cap: int | None
) -> None:
    total = len(ids) - min(understated_by, len(ids))
    # The one case it cannot tell: a first page cut short by a cap of the server's that ends
    # exactly at the total looks like an honest listing of one page (ruling it out would cost
    # every small listing a second request).
    assume(not (cap is not None and cap < page_size and 0 < total == cap < len(ids)))
    listing = Hostile(ids, extra=total - len(ids), cap=cap)
    got, pager = listed(listing, page_size)
    assert got == sorted(ids)
    assert pager.stop_reason is None
    honest = Listing(ids, cap=cap)
    run(honest, page_size)
    assert len(listing.asked) <= len(honest.asked) + 1
