"""The whole white label against FakeStudio: listing, contract usage, entitlements, reports.

FakeStudio's truth helpers (``inner_organizations``, ``contract_usage``, the organizations'
``entitlements``) give what every answer must equal, exactly.
"""

from __future__ import annotations

import asyncio
import json
import math
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import ei_usage._client as client_module
from ei_usage import (
    AsyncClient,
    Client,
    DateRange,
    EntitlementReport,
    Entitlements,
    IncompleteListingWarning,
    InnerOrganization,
    InnerOrganizationUsage,
    NotFoundError,
    PermissionDeniedError,
    Report,
    ReportError,
    ResponseValidationError,
)
from ei_usage.testing import FakeOrganization, FakeStudio, Fault, ListingQuirks, Operation

KEY = "white-label-test-key"


@pytest.fixture
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY) as running:
        yield running


@pytest.fixture
def client(studio: FakeStudio) -> Iterator[Client]:
    with Client(KEY, base_url=studio.base_url) as c:
        yield c


def arun(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def us(delta: timedelta | None) -> int | None:
    return None if delta is None else delta // timedelta(microseconds=1)


def expected_entitlements(fake: FakeOrganization) -> Entitlements:
    limits = fake.entitlements

    def seconds(value: int | None) -> timedelta | None:
        return None if value is None else timedelta(seconds=value)

    return Entitlements(
        compute_time_per_year=seconds(limits.compute_time_per_year_seconds),
        gpu_compute_time_per_year=seconds(limits.gpu_compute_time_per_year_seconds),
        storage_bytes=limits.total_storage_bytes,
        projects=limits.number_of_projects,
        users=limits.number_of_users,
    )


def check_organization(got: InnerOrganization, fake: FakeOrganization) -> None:
    assert got.id == fake.id
    assert got.name == fake.name
    assert got.billable == fake.billable
    assert got.private_project_count == fake.private_project_count
    assert got.created == fake.created_at.astimezone(UTC).replace(
        microsecond=got.created.microsecond
    )
    assert got.created.tzinfo is UTC
    assert got.entitlements == expected_entitlements(fake)


# ---- listing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("include_deleted", [False, True])
def test_listing_matches_the_studio(
    client: Client, studio: FakeStudio, include_deleted: bool
) -> None:
    got = list(client.inner_organizations(1, include_deleted=include_deleted, page_size=3))
    want = studio.inner_organizations(1, include_deleted=include_deleted)
    assert [o.id for o in got] == [o.id for o in want]
    for organization, fake in zip(got, want, strict=True):
        check_organization(organization, fake)
    listing = [r for r in studio.requests if r.operation is Operation.ORGANIZATIONS]
    assert listing[0].param("sort") == "id"
    assert listing[0].param("limit") == "3"
    assert (listing[0].param("includeDeleted") == "true") is include_deleted


def test_unlimited_entitlements_are_none_never_zero(client: Client, studio: FakeStudio) -> None:
    listed = list(client.inner_organizations(1, include_deleted=True))
    unlimited = [o for o in listed if o.entitlements.unlimited]
    partial = [o for o in listed if not o.entitlements.unlimited and None in attrs_values(o)]
    assert unlimited, "the default white label has unlimited organizations"
    assert partial, "and some with only some limits"
    for organization in listed:
        for value in attrs_values(organization):
            assert value != 0 or value is None


def attrs_values(organization: InnerOrganization) -> list[Any]:
    e = organization.entitlements
    return [
        e.compute_time_per_year,
        e.gpu_compute_time_per_year,
        e.storage_bytes,
        e.projects,
        e.users,
    ]


def test_listing_is_lazy_and_pages_as_needed(client: Client, studio: FakeStudio) -> None:
    iterator = client.inner_organizations(1, page_size=2)
    assert studio.requests == []  # nothing sent before the first item is asked for
    first = next(iterator)
    assert len(studio.requests) == 1
    assert first.id == studio.inner_organizations(1)[0].id


def test_listing_filters_reach_the_wire(client: Client, studio: FakeStudio) -> None:
    target = studio.inner_organizations(1)[3]
    got = list(client.inner_organizations(1, search=target.name, active_within_days=30))
    assert target.id in [o.id for o in got]
    request = studio.requests[-1]
    assert request.param("search") == target.name
    assert request.param("active") == "30"


def test_an_organization_added_and_one_removed_between_pages(
    client: Client, studio: FakeStudio
) -> None:
    before = [o.id for o in studio.inner_organizations(1)]
    iterator = client.inner_organizations(1, page_size=3)
    got = [next(iterator).id for _ in range(3)]  # the first page
    # Between pages: the first organization is removed (everything shifts back by one) and
    # a new one sorts first (everything shifts forward by one).
    studio.remove_organization(before[0])
    studio.add_organization(FakeOrganization(0, name="Newcomer"), whitelabel_admin_id=1)
    got.extend(o.id for o in iterator)
    assert got == before  # every organization present throughout, once, in order


def test_async_listing_matches_the_sync_one(studio: FakeStudio) -> None:
    async def listing() -> list[InnerOrganization]:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return [o async for o in client.inner_organizations(1, page_size=4)]

    with Client(KEY, base_url=studio.base_url) as client:
        sync = list(client.inner_organizations(1, page_size=4))
    assert arun(listing()) == sync


def test_250_organizations_each_once(studio: FakeStudio) -> None:
    with (
        FakeStudio(api_key=KEY, inner_organizations=250) as big,
        Client(KEY, base_url=big.base_url) as client,
    ):
        got = [o.id for o in client.inner_organizations(1, include_deleted=True)]
    assert sorted(got) == got
    assert len(got) == len(set(got)) == 250


# ---- deleted organizations -----------------------------------------------------------------------


def test_deleted_organizations_are_marked_from_a_second_listing(
    client: Client, studio: FakeStudio
) -> None:
    truth = {o.id: o.deleted for o in studio.inner_organizations(1, include_deleted=True)}
    assert any(truth.values()), "the default white label has a deleted organization"
    got = list(client.inner_organizations(1, include_deleted=True, page_size=4))
    assert {o.id: o.deleted for o in got} == truth
    assert [o.to_dict()["deleted"] for o in got] == list(truth.values())
    # The record has no such field: the same listing again without includeDeleted tells.
    listings = [r for r in studio.requests if r.operation is Operation.ORGANIZATIONS]
    with_deleted = [r for r in listings if r.param("includeDeleted") == "true"]
    assert 0 < len(with_deleted) < len(listings)
    assert all(r.param("limit") == "4" for r in listings)
    assert not any(o.deleted for o in client.inner_organizations(1))


def test_only_what_is_listed_as_deleted_is_marked_and_filters_apply_to_both_listings(
    client: Client, studio: FakeStudio
) -> None:
    live = studio.inner_organizations(1)
    studio.set_deleted(live[0].id)
    target = live[0].name
    got = list(client.inner_organizations(1, include_deleted=True, search=target))
    assert [(o.id, o.deleted) for o in got if o.name == target] == [(live[0].id, True)]
    listings = [r for r in studio.requests if r.operation is Operation.ORGANIZATIONS]
    assert {r.param("search") for r in listings} == {target}


def test_async_listing_marks_deleted_organizations_like_the_sync_one(studio: FakeStudio) -> None:
    async def listing() -> list[InnerOrganization]:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return [o async for o in client.inner_organizations(1, include_deleted=True)]

    with Client(KEY, base_url=studio.base_url) as client:
        sync = list(client.inner_organizations(1, include_deleted=True))
    assert any(o.deleted for o in sync)
    assert arun(listing()) == sync


def test_report_rows_say_whether_their_organization_is_deleted(
    client: Client, studio: FakeStudio
) -> None:
    deleted = {o.id for o in studio.inner_organizations(1, include_deleted=True) if o.deleted}
    report = client.compute_time_report(1, "all", "2024-05")
    assert {r.inner_organization_id for r in report.rows if r.inner_organization_deleted} == (
        deleted
    )
    assert all(
        r.inner_organization_deleted is False
        for r in report.rows
        if r.inner_organization_id not in deleted
    )
    (gone,) = deleted
    named = client.compute_time_report(1, [gone, 2], "2024-05", with_names=True)
    assert [r.inner_organization_deleted for r in named.rows] == [False, True]
    plain = client.compute_time_report(1, [gone, 2], "2024-05")
    assert [r.inner_organization_deleted for r in plain.rows] == [None, None]  # not listed
    assert [row["inner_organization_deleted"] for row in named.to_rows()] == [False, True]
    assert Report.from_json(named.to_json()) == named


def test_entitlement_rows_carry_the_listed_deletion(client: Client, studio: FakeStudio) -> None:
    report = client.entitlement_report(1)  # lists live organizations only
    assert report.rows
    assert all(row.inner_organization_deleted is False for row in report.rows)
    listed = list(client.inner_organizations(1, include_deleted=True))
    gone = next(o for o in listed if o.deleted)
    studio.set_deleted(gone.id, False)  # readable again, still listed as deleted
    chosen = [gone, listed[0]]
    check = client.entitlement_report(1, chosen)
    assert {r.inner_organization_id: r.inner_organization_deleted for r in check.rows} == {
        gone.id: True,
        listed[0].id: False,
    }
    assert {r.to_dict()["inner_organization_deleted"] for r in check.rows} == {True, False}
    by_id = client.entitlement_report(1, [listed[0].id])
    assert [r.inner_organization_deleted for r in by_id.rows] == [None]


def test_bad_listing_arguments_fail_before_any_request(client: Client, studio: FakeStudio) -> None:
    for kwargs, error in [
        ({"page_size": 1}, ValueError),
        ({"page_size": 5000}, ValueError),
        ({"active_within_days": 0}, ValueError),
        ({"search": ""}, ValueError),
        ({"search": "x\n"}, ValueError),
        ({"search": "x" * 201}, ValueError),
        ({"search": 5}, TypeError),
        ({"include_deleted": "yes"}, TypeError),
    ]:
        with pytest.raises(error):
            client.inner_organizations(1, **kwargs)
    with pytest.raises(ValueError, match="organization_id"):
        client.inner_organizations(-1)
    assert studio.requests == []


# ---- hostile listings ----------------------------------------------------------------------------


def _listing_client(body: Any, status: int = 200) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return Client(KEY, transport=httpx.MockTransport(handler), max_retries=0)


ITEM = {"id": 5, "name": "Five", "created": "2024-01-01T00:00:00Z", "privateProjectCount": 2}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"success": True, "organizations": []}, "total"),
        ({"success": True, "total": -1, "organizations": []}, "total"),
        ({"success": True, "total": 1, "organizations": {}}, "organizations"),
        ({"success": True, "total": 1, "organizations": [5]}, "organizations[0]"),
        (
            {"success": True, "total": 1, "organizations": [{**ITEM, "id": -5}]},
            "organizations[0].id",
        ),
        (
            {"success": True, "total": 1, "organizations": [{**ITEM, "id": "5"}]},
            "organizations[0].id",
        ),
        (
            {
                "success": True,
                "total": 999,
                "organizations": [{**ITEM, "id": i} for i in range(101)],
            },
            "organizations",
        ),
    ],
)
def test_a_bad_page_names_the_field(body: dict[str, Any], field: str) -> None:
    with _listing_client(body) as client, pytest.raises(ResponseValidationError) as info:
        list(client.inner_organizations(1))
    assert info.value.field == field


def test_null_limits_mean_no_limit() -> None:
    limits = {"computeTimePerYear": None, "totalStorage": 1024.4, "numberOfUsers": None}
    body = {"success": True, "total": 1, "organizations": [{**ITEM, "entitlementLimits": limits}]}
    with _listing_client(body) as client:
        (organization,) = client.inner_organizations(1)
    assert organization.entitlements == Entitlements(storage_bytes=1024)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"created": "yesterday"}, "organizations[1].created"),
        ({"created": "2024-01-01T00:00:00"}, "organizations[1].created"),
        ({"name": None}, "organizations[1].name"),
        ({"entitlementLimits": {"computeTimePerYear": -1}}, "organizations[1].entitlementLimits"),
        ({"entitlementLimits": {"totalStorage": "abc"}}, "organizations[1].entitlementLimits"),
    ],
)
def test_a_bad_record_is_not_read_and_the_others_are(item: dict[str, Any], field: str) -> None:
    records = [{**ITEM, "id": 4}, {**ITEM, "id": 5, **item}, {**ITEM, "id": 6}]
    body = {"success": True, "total": 3, "organizations": records}
    with _listing_client(body) as client:
        listing = client.inner_organizations(1)
        with pytest.warns(IncompleteListingWarning, match="5 \\("):
            got = [o.id for o in listing]
    assert got == [4, 6]
    (failure,) = listing.errors
    assert failure.inner_organization_id == 5
    assert isinstance(failure.error, ResponseValidationError)
    assert failure.error.field is not None
    assert failure.error.field.startswith(field)
    assert listing.stop_reason is None
    assert not listing.ok


def test_a_server_paging_without_end_is_cut_off_keeping_what_was_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module._paging, "MAX_PAGES", 5)

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        items = [{**ITEM, "id": i} for i in range(offset, offset + 3)]  # always more to come
        return httpx.Response(200, json={"success": True, "total": 10**9, "organizations": items})

    with Client(KEY, transport=httpx.MockTransport(handler)) as client:
        listing = client.inner_organizations(1, page_size=3)
        with pytest.warns(IncompleteListingWarning, match="did not end after 5 pages"):
            got = [o.id for o in listing]
    assert got == list(range(11))
    assert listing.pages == 5


# ---- hostile listings against FakeStudio: a few requests, nothing lost -------------------------

HOSTILE = {
    "total overstated by one": ListingQuirks(total_extra=1),
    "offset ignored": ListingQuirks(ignore_offset=True),
    "pages of one": ListingQuirks(page_cap=1),
    "keeps removing": ListingQuirks(keeps_removing=True),
}


@pytest.fixture
def twenty_five() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY, inner_organizations=25) as running:
        yield running


def _listing_requests(studio: FakeStudio) -> int:
    return sum(r.operation is Operation.ORGANIZATIONS for r in studio.requests)


@pytest.mark.parametrize("page_size", [10, 100])
@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hostile_listings_end_in_a_few_requests_keeping_what_was_listed(
    twenty_five: FakeStudio, case: str, page_size: int, mode: str
) -> None:
    everyone = [o.id for o in twenty_five.inner_organizations(1)]
    twenty_five.listing_quirks = HOSTILE[case]

    async def alisting() -> tuple[list[int], Any]:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            listing = client.inner_organizations(1, page_size=page_size)
            return [o.id async for o in listing], listing

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "sync":
            with Client(KEY, base_url=twenty_five.base_url) as client:
                listing = client.inner_organizations(1, page_size=page_size)
                got = [o.id for o in listing]
        else:
            got, listing = arun(alisting())
    assert _listing_requests(twenty_five) <= len(everyone) + 3
    one_page = page_size >= len(everyone)  # offset and shifts never matter then
    complete = case == "pages of one" or (case != "total overstated by one" and one_page)
    kept = everyone if complete or case == "total overstated by one" else everyone[:page_size]
    assert got == kept  # each once, in order, nothing listed lost
    assert (listing.stop_reason is None) is complete
    assert listing.ok is complete
    assert [w.category for w in caught] == ([] if complete else [IncompleteListingWarning])
    if not complete:
        n = len(got)
        assert f"cut short after {n} of the {len(everyone) + (n == len(everyone))} " in str(
            listing.stop_reason
        )


@pytest.mark.parametrize("page_size", [2, 10, 100])
@pytest.mark.parametrize("understated_by", [5, 25])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_total_that_understates_loses_no_organization(
    twenty_five: FakeStudio, understated_by: int, page_size: int, mode: str
) -> None:
    # Before: pages stopped at the total, dropping the rest, with ok=True and no warning.
    everyone = [o.id for o in twenty_five.inner_organizations(1)]
    twenty_five.listing_quirks = ListingQuirks(total_extra=-understated_by)

    async def alisting() -> tuple[list[int], Any]:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            listing = client.inner_organizations(1, page_size=page_size)
            return [o.id async for o in listing], listing

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "sync":
            with Client(KEY, base_url=twenty_five.base_url) as client:
                listing = client.inner_organizations(1, page_size=page_size)
                got = [o.id for o in listing]
        else:
            got, listing = arun(alisting())
    assert got == everyone
    assert listing.ok
    assert listing.stop_reason is None
    assert caught == []
    honest_pages = 1 if page_size >= len(everyone) else -(-(len(everyone) - 1) // (page_size - 1))
    assert _listing_requests(twenty_five) <= honest_pages + 1


def test_a_check_of_all_with_a_total_that_understates_checks_every_organization() -> None:
    # 250 organizations (225 not deleted), total 125, default pages of 100: before, 199 checked.
    with FakeStudio(api_key=KEY, inner_organizations=250, record_requests=False) as studio:
        everyone = [o.id for o in studio.inner_organizations(1)]
        studio.listing_quirks = ListingQuirks(total_extra=-100)
        with Client(KEY, base_url=studio.base_url) as client:
            report = client.entitlement_report(1)
    assert sorted(row.inner_organization_id for row in report.rows) == everyone
    assert report.listing_stop_reason is None
    assert report.ok


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_organization_listed_twice_is_yielded_once(twenty_five: FakeStudio, mode: str) -> None:
    everyone = [o.id for o in twenty_five.inner_organizations(1)]
    twenty_five.listing_quirks = ListingQuirks(duplicate_id=everyone[9])

    async def alisting() -> list[int]:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            return [o.id async for o in client.inner_organizations(1, page_size=10)]

    if mode == "sync":
        with Client(KEY, base_url=twenty_five.base_url) as client:
            got = [o.id for o in client.inner_organizations(1, page_size=10)]
    else:
        got = arun(alisting())
    assert got == everyone


BAD_STORAGE = {"entitlementLimits.totalStorage": "abc"}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_one_malformed_record_costs_only_its_organization(
    twenty_five: FakeStudio, mode: str
) -> None:
    everyone = [o.id for o in twenty_five.inner_organizations(1)]
    bad = everyone[3]
    twenty_five.listing_quirks = ListingQuirks(bad_fields={bad: BAD_STORAGE})

    async def alisting() -> tuple[list[int], Any]:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            listing = client.inner_organizations(1)
            return [o.id async for o in listing], listing

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if mode == "sync":
            with Client(KEY, base_url=twenty_five.base_url) as client:
                listing = client.inner_organizations(1)
                got = [o.id for o in listing]
        else:
            got, listing = arun(alisting())
    (warning,) = caught
    assert warning.category is IncompleteListingWarning
    assert "totalStorage" in str(warning.message)
    assert got == [i for i in everyone if i != bad]
    assert [f.inner_organization_id for f in listing.errors] == [bad]
    assert listing.errors[0].error.field == "organizations[3].entitlementLimits.totalStorage"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_check_of_all_keeps_the_listed_rows_and_says_the_listing_was_cut_short(
    twenty_five: FakeStudio, mode: str
) -> None:
    twenty_five.listing_quirks = ListingQuirks(total_extra=1)

    async def acheck() -> EntitlementReport:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            return await client.entitlement_report(1)

    if mode == "sync":
        with Client(KEY, base_url=twenty_five.base_url) as client:
            report = client.entitlement_report(1)
    else:
        report = arun(acheck())
    assert len(report.rows) == len(twenty_five.inner_organizations(1)) == 23
    assert not report.errors
    assert not report.ok
    assert "23 of the 24" in str(report.listing_stop_reason)  # deleted ones left out
    assert report.to_dict()["listing_stop_reason"] == report.listing_stop_reason
    assert report.to_dict()["complete"] is False


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_check_of_all_reports_a_malformed_organization_as_not_read(
    twenty_five: FakeStudio, mode: str
) -> None:
    everyone = [o.id for o in twenty_five.inner_organizations(1)]
    bad = everyone[3]
    twenty_five.listing_quirks = ListingQuirks(bad_fields={bad: BAD_STORAGE})

    async def acheck() -> EntitlementReport:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            return await client.entitlement_report(1)

    if mode == "sync":
        with Client(KEY, base_url=twenty_five.base_url) as client:
            report = client.entitlement_report(1)
    else:
        report = arun(acheck())
    assert sorted(r.inner_organization_id for r in report.rows) == [i for i in everyone if i != bad]
    (failure,) = report.errors
    assert failure.inner_organization_id == bad
    assert getattr(failure.error, "field", None) == "entitlementLimits.totalStorage"
    assert report.listing_stop_reason is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_compute_time_report_of_all_keeps_its_rows_when_the_listing_is_cut_short(
    twenty_five: FakeStudio, mode: str
) -> None:
    everyone = [o.id for o in twenty_five.inner_organizations(1, include_deleted=True)]
    twenty_five.listing_quirks = ListingQuirks(
        total_extra=1, bad_fields={everyone[0]: {"name": None}}
    )

    async def areport() -> Any:
        async with AsyncClient(KEY, base_url=twenty_five.base_url) as client:
            return await client.compute_time_report(1, "all", "2024-05")

    if mode == "sync":
        with Client(KEY, base_url=twenty_five.base_url) as client:
            report = client.compute_time_report(1, "all", "2024-05")
    else:
        report = arun(areport())
    # The organization with a bad name is still counted: its id is all compute time needs.
    assert report.inner_organization_ids == tuple(everyone)
    assert len(report.rows) == len(everyone)
    assert not report.errors
    assert not report.ok
    assert "25 of the 26" in str(report.listing_stop_reason)
    with pytest.raises(ReportError, match="listing of the organizations was cut short"):
        report.raise_for_errors()

    assert Report.from_json(report.to_json()) == report


def test_listing_errors_are_typed(client: Client) -> None:
    with pytest.raises(NotFoundError):
        list(client.inner_organizations(99))
    with pytest.raises(PermissionDeniedError):
        list(client.inner_organizations(2))  # not a white-label admin organization


# ---- one organization's contract -----------------------------------------------------------------


def test_inner_organization_matches_the_studio(client: Client, studio: FakeStudio) -> None:
    for fake in studio.inner_organizations(1):
        usage = client.inner_organization(1, fake.id)
        cpu, gpu = studio.contract_usage(fake.id)
        assert (us(usage.cpu), us(usage.gpu)) == (cpu, gpu)
        assert us(usage.total) == cpu + gpu
        assert usage.contract_since == fake.contract_start
        assert usage.storage_bytes == fake.total_storage_bytes
        assert usage.entitlements == expected_entitlements(fake)
        limit = fake.entitlements.compute_time_per_year_seconds
        if limit is None:
            assert usage.compute_used_fraction is None
        else:
            assert usage.compute_used_fraction == pytest.approx((cpu + gpu) / 1e6 / limit)


def test_the_default_white_label_has_organizations_over_and_near_their_limit(
    client: Client, studio: FakeStudio
) -> None:
    fractions = [
        client.inner_organization(1, o.id).compute_used_fraction
        for o in studio.inner_organizations(1)
    ]
    known = [f for f in fractions if f is not None]
    assert any(f >= 1 for f in known)
    assert any(0.8 <= f < 1 for f in known)
    assert None in fractions


def test_a_deleted_organization_needs_include_deleted(client: Client, studio: FakeStudio) -> None:
    deleted = next(o for o in studio.inner_organizations(1, include_deleted=True) if o.deleted)
    with pytest.raises(NotFoundError):
        client.inner_organization(1, deleted.id)
    assert client.inner_organization(1, deleted.id, include_deleted=True).cpu is not None


def test_daily_metrics_are_not_read_but_fit_the_cap(studio: FakeStudio) -> None:
    studio.daily_metrics = True
    with Client(KEY, base_url=studio.base_url) as client:
        usage = client.inner_organization(1, 2)
    assert usage.cpu is not None


def test_fractions_of_a_zero_limit() -> None:
    usage = InnerOrganizationUsage(
        1,
        2,
        timedelta(seconds=1),
        timedelta(0),
        None,
        None,
        10,
        None,
        Entitlements(compute_time_per_year=timedelta(0), gpu_compute_time_per_year=timedelta(0)),
    )
    assert usage.compute_used_fraction == math.inf
    assert usage.gpu_used_fraction == 0.0
    assert usage.storage_used_fraction is None
    assert usage.to_dict()["compute_used_fraction"] == "infinite"
    json.dumps(usage.to_dict())  # JSON-ready, infinity included


def test_one_missing_info_field_is_none_all_three_an_error(
    client: Client, studio: FakeStudio
) -> None:
    studio.inject(Fault.missing_field("cpuComputeTime"), operation=Operation.ORGANIZATION_INFO)
    usage = client.inner_organization(1, 2)
    assert usage.cpu is None  # missing: None, never zero
    assert usage.compute is None
    assert usage.compute_used_fraction is None
    renamed = '{"success": true, "cpuSeconds": 5, "gpuSeconds": 1, "totalMinutes": 0.1}'
    studio.inject(Fault.response(200, renamed), operation=Operation.ORGANIZATION_INFO)
    with pytest.raises(ResponseValidationError, match="none of cpuComputeTime"):
        client.inner_organization(1, 2)


# ---- entitlement reports -------------------------------------------------------------------------


def test_entitlement_report_of_all(client: Client, studio: FakeStudio) -> None:
    report = client.entitlement_report(1)
    assert isinstance(report, EntitlementReport)
    assert report.ok
    listed = studio.inner_organizations(1)
    assert sorted(r.inner_organization_id for r in report.rows) == [o.id for o in listed]
    names = {o.id: o.name for o in listed}
    for row in report.rows:
        assert row.inner_organization_name == names[row.inner_organization_id]
    known = [r.highest_used_fraction for r in report.rows if r.highest_used_fraction is not None]
    assert known == sorted(known, reverse=True)
    assert all(r.highest_used_fraction is None for r in report.rows[len(known) :])
    assert report.at_or_over(1.0)
    assert all(r.highest_used_fraction >= 1.0 for r in report.at_or_over(1.0))  # type: ignore[operator]


def test_entitlement_report_records_failures(client: Client, studio: FakeStudio) -> None:
    report = client.entitlement_report(1, [2, 3, 99])
    assert [f.inner_organization_id for f in report.errors] == [99]
    assert isinstance(report.errors[0].error, NotFoundError)
    assert len(report.rows) == 2
    assert not report.ok
    assert list(report.failures_by_cause()) == ["NotFoundError 404: Organization 99 not found"]


def test_async_entitlement_report_equals_the_sync_one(studio: FakeStudio) -> None:
    async def run() -> EntitlementReport:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return await client.entitlement_report(1, concurrency=3)

    with Client(KEY, base_url=studio.base_url) as client:
        assert arun(run()) == client.entitlement_report(1)


# ---- compute-time reports over the whole white label ---------------------------------------------


def test_report_of_all_lists_first_and_names_the_rows(studio: FakeStudio) -> None:
    with Client(KEY, base_url=studio.base_url) as client:
        report = client.compute_time_report(1, "all", "2024-Q1", every="month")
    everyone = studio.inner_organizations(1, include_deleted=True)
    assert report.inner_organization_ids == tuple(o.id for o in everyone)
    assert len(report.rows) == 3 * len(everyone)
    names = {o.id: o.name for o in everyone}
    for row in report.rows:
        assert row.inner_organization_name == names[row.inner_organization_id]
        cpu, gpu = studio.usage(row.inner_organization_id, row.period.start, row.period.end)
        assert (us(row.cpu), us(row.gpu)) == (cpu, gpu)


def test_report_with_names_for_ids(client: Client, studio: FakeStudio) -> None:
    report = client.compute_time_report(1, [3, 2], "2024-05", with_names=True)
    assert [r.inner_organization_name for r in report.rows] == [
        studio.organizations[2].name,
        studio.organizations[3].name,
    ]
    plain = client.compute_time_report(1, [3, 2], "2024-05")
    assert [r.inner_organization_name for r in plain.rows] == [None, None]


def test_report_of_listed_organizations_carries_their_names(client: Client) -> None:
    chosen = list(client.inner_organizations(1))[:2]
    report = client.compute_time_report(1, chosen, "2024-05")
    assert [r.inner_organization_name for r in report.rows] == [o.name for o in chosen]


def test_report_of_all_validates_before_listing(client: Client, studio: FakeStudio) -> None:
    with pytest.raises(ValueError, match="parse"):
        client.compute_time_report(1, "all", "not a period")
    with pytest.raises(TypeError, match="'all'"):
        client.compute_time_report(1, "everyone", "2024")  # type: ignore[arg-type]
    assert studio.requests == []


def test_report_of_an_empty_white_label_is_empty() -> None:
    admin = FakeOrganization(1, whitelabel_inner_ids=())
    with (
        FakeStudio(api_key=KEY, organizations=[admin]) as empty,
        Client(KEY, base_url=empty.base_url) as client,
    ):
        report = client.compute_time_report(1, "all", "2024")
        check = client.entitlement_report(1)
    assert report.rows == report.errors == report.not_attempted == ()
    assert report.ok
    assert check.rows == ()


def test_async_report_of_all(studio: FakeStudio) -> None:
    async def run() -> Any:
        async with AsyncClient(KEY, base_url=studio.base_url) as client:
            return await client.compute_time_report(1, "all", "2024-05")

    with Client(KEY, base_url=studio.base_url) as client:
        assert arun(run()) == client.compute_time_report(1, "all", "2024-05")


def test_report_json_round_trips_names(client: Client) -> None:
    from ei_usage import Report

    report = client.compute_time_report(1, "all", DateRange.month(2024, 5))
    assert Report.from_json(report.to_json()) == report
    assert datetime(2024, 5, 1, tzinfo=UTC) == report.period.start


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpuComputeTime", -1),
        ("totalStorage", -5),
        ("computeTimeCurrentContractSince", "2024-01-01T00:00:00"),
        ("billable", "yes"),
        ("entitlementLimits", [1]),
    ],
)
def test_a_bad_info_answer_names_the_field(field: str, value: Any) -> None:
    body = {
        "success": True,
        "cpuComputeTime": 1,
        "gpuComputeTime": 1,
        "totalComputeTime": 0.1,
        field: value,
    }
    with _listing_client(body) as client, pytest.raises(ResponseValidationError) as info:
        client.inner_organization(1, 2)
    assert info.value.field == field


def test_negative_info_limits_name_the_field() -> None:
    body = {
        "success": True,
        "cpuComputeTime": 1,
        "entitlementLimits": {"gpuComputeTimePerYear": -1},
    }
    with _listing_client(body) as client, pytest.raises(ResponseValidationError) as info:
        client.inner_organization(1, 2)
    assert info.value.field == "entitlementLimits.gpuComputeTimePerYear"


def test_an_info_answer_echoing_the_key_keeps_it_out_of_the_error() -> None:
    body = {"success": True, "cpuComputeTime": f"echo {KEY}"}
    with _listing_client(body) as client, pytest.raises(ResponseValidationError) as info:
        client.inner_organization(1, 2)
    assert KEY not in str(info.value)
    assert KEY not in json.dumps(info.value.body)


def test_a_cut_short_listing_without_deleted_ones_marks_none_past_its_reach() -> None:
    everyone, live = [1, 2, 3, 4, 5, 6], [1, 2, 4, 5]  # 3 and 6 are deleted

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        if request.url.params.get("includeDeleted") == "true":
            ids = everyone[offset : offset + limit]
            total = len(everyone)
        else:
            ids, total = live[:limit], len(live)  # ignores offset: cut short after [1, 2]
        items = [{**ITEM, "id": i} for i in ids]
        return httpx.Response(200, json={"success": True, "total": total, "organizations": items})

    with Client(KEY, transport=httpx.MockTransport(handler)) as client:
        listing = client.inner_organizations(1, include_deleted=True, page_size=2)
        with pytest.warns(IncompleteListingWarning, match="without deleted organizations"):
            got = {o.id: o.deleted for o in listing}
    # 1 and 2 are known live; past 2, whether one is deleted is unknown: not marked.
    assert got == dict.fromkeys(everyone, False)
    assert listing.stop_reason is not None
    assert "cut short after 2 of the 4" in listing.stop_reason


def test_a_listing_with_deleted_ones_marks_them() -> None:
    everyone, live = [1, 2, 3, 4, 5, 6], [1, 2, 4, 5]

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        ids = everyone if request.url.params.get("includeDeleted") == "true" else live
        items = [{**ITEM, "id": i} for i in ids[offset : offset + limit]]
        return httpx.Response(
            200, json={"success": True, "total": len(ids), "organizations": items}
        )

    with Client(KEY, transport=httpx.MockTransport(handler)) as client:
        listing = client.inner_organizations(1, include_deleted=True, page_size=2)
        got = {o.id: o.deleted for o in listing}
    assert got == {1: False, 2: False, 3: True, 4: False, 5: False, 6: True}
    assert listing.ok
