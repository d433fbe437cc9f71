"""The white-label organization listing and organization info, and the data behind them."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from ei_usage.testing import (
    DEFAULT_NOW,
    DEFAULT_PAGE_SIZE,
    DEFAULT_WHITELABEL_ID,
    MAX_PAGE_SIZE,
    Credential,
    EntitlementLimits,
    FakeOrganization,
    FakeStudio,
    ListingQuirks,
    Operation,
    default_name,
    default_organizations,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    MakeClient = Callable[..., httpx.Client]

LIST = "/api/organizations/1/whitelabel/organizations"
ITEM_FIELDS = {
    "id",
    "name",
    "created",
    "whitelabelId",
    "billable",
    "privateProjectCount",
    "entitlementLimits",
}
LIMIT_FIELDS = {
    "totalStorage",
    "computeTimePerYear",
    "gpuComputeTimePerYear",
    "numberOfProjects",
    "numberOfUsers",
}
INFO_FIELDS = {
    "success",
    "cpuComputeTime",
    "gpuComputeTime",
    "totalComputeTime",
    "billable",
    "entitlementLimits",
    "computeTimeCurrentContractSince",
    "totalStorage",
    "dailyMetrics",
}
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "openapi" / "edge-impulse.yaml").read_text()
)
KEY = "organizations-key"


def info_path(inner_id: int | str, organization_id: int | str = 1) -> str:
    return f"/api/organizations/{organization_id}/whitelabel/organizations/{inner_id}"


def validator(schema_name: str) -> OAS30Validator:
    schema = {"$ref": f"#/components/schemas/{schema_name}"}
    return OAS30Validator({**schema, "components": SPEC["components"]})


def check_listing(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    validator("AdminGetOrganizationsResponse").validate(body)
    assert set(body) == {"success", "total", "organizations"}
    assert body["success"] is True
    for item in body["organizations"]:
        assert set(item) <= ITEM_FIELDS
        assert {"id", "name", "created", "privateProjectCount"} <= set(item)
        assert ISO_Z.fullmatch(item["created"]), item["created"]
        assert set(item["entitlementLimits"]) <= LIMIT_FIELDS
    return dict(body)


def check_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    for word in words:
        assert word in body["error"]
    return str(body["error"])


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["organizations"]]


@pytest.fixture(scope="module")
def big() -> Iterator[FakeStudio]:
    """A running studio whose white label has 250 inner organizations (read-only use)."""
    with FakeStudio(api_key=KEY, inner_organizations=250) as studio:
        yield studio


@pytest.fixture
def big_client(big: FakeStudio, make_client: MakeClient) -> httpx.Client:
    return make_client(big, headers={"x-api-key": KEY})


def plain(organization_id: int, **fields: Any) -> FakeOrganization:
    return FakeOrganization(organization_id, **fields)


@contextlib.contextmanager
def serve(
    make_client: MakeClient, organizations: list[FakeOrganization]
) -> Iterator[tuple[FakeStudio, httpx.Client]]:
    with FakeStudio(api_key=KEY, organizations=organizations) as studio:
        yield studio, make_client(studio, headers={"x-api-key": KEY})


@pytest.fixture
def small(make_client: MakeClient) -> Iterator[tuple[FakeStudio, httpx.Client]]:
    """A white label of five hand-made organizations, 2 to 6."""
    organizations = [
        plain(1, whitelabel_inner_ids=range(2, 7)),
        plain(2, name="Zeta Labs", created_at=datetime(2021, 1, 1, tzinfo=UTC), billable=False),
        plain(3, name="alpha Works", created_at=datetime(2020, 1, 1, tzinfo=UTC)),
        plain(4, name="Beta 37", created_at=datetime(2022, 1, 1, tzinfo=UTC), inactive_for=None),
        plain(
            5,
            name="Gamma",
            created_at=datetime(2020, 1, 1, tzinfo=UTC),
            inactive_for=timedelta(days=8),
        ),
        plain(6, name="Alpha Deleted", deleted=True, inactive_for=timedelta(days=1)),
    ]
    with serve(make_client, organizations) as running:
        yield running


# -- the listing: shape, paging ------------------------------------------------------------------


def test_default_listing_shape_and_values(studio: FakeStudio, client: httpx.Client) -> None:
    body = check_listing(client.get(LIST))
    visible = studio.inner_organizations(1)
    assert body["total"] == len(visible) == 9  # one of the ten default organizations is deleted
    assert ids(body) == [organization.id for organization in visible]
    assert body == studio.organizations_body(1)
    for item, organization in zip(body["organizations"], visible, strict=True):
        assert item["name"] == organization.name
        assert datetime.fromisoformat(item["created"]) == organization.created_at
        assert item["billable"] is organization.billable
        assert item["whitelabelId"] == DEFAULT_WHITELABEL_ID
        assert item["privateProjectCount"] == (
            organization.project_count - organization.public_project_count
        )
        assert item["entitlementLimits"] == organization.entitlements.to_json()
    record = studio.requests[-1]
    assert (record.operation, record.status) == (Operation.ORGANIZATIONS, 200)


def test_no_inner_organizations(make_client: MakeClient) -> None:
    with FakeStudio(api_key=KEY, inner_organizations=0) as studio:
        client = make_client(studio, headers={"x-api-key": KEY})
        body = check_listing(client.get(LIST))
    assert body == {"success": True, "total": 0, "organizations": []}


def test_pages_of_250_organizations_cover_everything_once(
    big: FakeStudio, big_client: httpx.Client
) -> None:
    everything = [organization.id for organization in big.inner_organizations(1)]
    deleted = [o.id for o in big.inner_organizations(1, include_deleted=True) if o.deleted]
    assert len(everything) + len(deleted) == 250
    assert len(deleted) == 25  # one profile in ten
    first = check_listing(big_client.get(LIST))
    assert len(first["organizations"]) == DEFAULT_PAGE_SIZE == 50
    seen: list[int] = []
    sizes = []
    offset = 0
    for _ in range(10):  # bounded: 225 organizations are 5 pages
        body = check_listing(big_client.get(LIST, params={"limit": 50, "offset": offset}))
        assert body["total"] == len(everything)
        if not body["organizations"]:
            break
        sizes.append(len(body["organizations"]))
        seen += ids(body)
        offset += 50
    assert sizes == [50, 50, 50, 50, 25]  # the last page is partial
    assert seen == everything
    whole = check_listing(big_client.get(LIST, params={"limit": MAX_PAGE_SIZE}))
    assert ids(whole) == everything
    with_deleted = check_listing(
        big_client.get(LIST, params={"limit": 1000, "includeDeleted": "true"})
    )
    assert with_deleted["total"] == 250
    assert ids(with_deleted) == list(range(2, 252))


def test_exactly_one_page(make_client: MakeClient) -> None:
    inner = [plain(i) for i in range(2, 2 + DEFAULT_PAGE_SIZE)]
    admin = plain(1, whitelabel_inner_ids=[o.id for o in inner])
    with serve(make_client, [admin, *inner]) as (_, client):
        first = check_listing(client.get(LIST))
        assert (first["total"], len(first["organizations"])) == (50, 50)
        second = check_listing(client.get(LIST, params={"offset": 50}))
        assert (second["total"], second["organizations"]) == (50, [])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"offset": 3}, [5]),
        ({"offset": 4}, []),
        ({"offset": 999_999_999_999}, []),
        ({"limit": 0}, []),
        ({"limit": 2}, [2, 3]),
        ({"limit": 2, "offset": 1}, [3, 4]),
        ({"limit": 1000}, [2, 3, 4, 5]),
        ({"limit": "007"}, [2, 3, 4, 5]),
    ],
)
def test_limit_and_offset(
    small: tuple[FakeStudio, httpx.Client], params: dict[str, Any], expected: list[int]
) -> None:
    _, client = small
    body = check_listing(client.get(LIST, params=params))
    assert body["total"] == 4  # never the page's size
    assert ids(body) == expected


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("limit=1001", ["limit", "1000"]),
        ("limit=-1", ["limit", "non-negative"]),
        ("limit=1.5", ["limit"]),
        ("limit=abc", ["limit"]),
        ("limit=", ["limit"]),
        ("limit=%201", ["limit"]),
        ("limit=1e3", ["limit"]),
        ("limit=10&limit=20", ["limit", "once"]),
        ("offset=-5", ["offset", "non-negative"]),
        ("offset=x", ["offset"]),
        ("active=-1", ["active"]),
        ("active=soon", ["active"]),
        ("includeDeleted=yes", ["includeDeleted"]),
        ("includeDeleted=1", ["includeDeleted"]),
        ("sort=size", ["sort", "size"]),
        ("sort=id,,name", ["sort"]),
        ("sort=name,-name", ["sort", "twice"]),
        ("sort=--name", ["sort"]),
        ("sort=Name", ["sort"]),
        ("filters=deleted:true", ["filters"]),
        ("filters=billable", ["filters"]),
        ("filters=billable:yes", ["filters", "true or false"]),
        ("filters=billable:true,billable:false", ["filters", "twice"]),
        ("filters=billable:true,", ["filters"]),
        ("search=%FF", ["query"]),
    ],
)
def test_invalid_listing_queries_are_400(
    studio: FakeStudio, http: httpx.Client, api_key: str, query: str, words: list[str]
) -> None:
    # The query is sent exactly as written (httpx would re-encode a params dict).
    response = http.get(f"{studio.base_url}{LIST}?{query}", headers={"x-api-key": api_key})
    check_error(response, 400, *words)


def test_the_truth_helper_checks_arguments_like_the_server(studio: FakeStudio) -> None:
    with pytest.raises(ValueError, match="limit"):
        studio.organizations_body(1, limit=MAX_PAGE_SIZE + 1)
    with pytest.raises(ValueError, match="offset"):
        studio.organizations_body(1, offset=-1)
    with pytest.raises(ValueError, match="limit"):
        studio.organizations_body(1, limit=True)
    with pytest.raises(ValueError, match="sort"):
        studio.organizations_body(1, sort="size")
    with pytest.raises(ValueError, match="white label"):
        studio.organizations_body(2)
    with pytest.raises(LookupError, match="99"):
        studio.organizations_body(99)
    with pytest.raises(ValueError, match="white label"):
        studio.inner_organizations(3)


# -- search, includeDeleted, active, sort, filters ----------------------------------------------


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("3", [3, 4]),  # id 3, and "Beta 37" has a 3 in its name
        ("37", [4]),  # not an id here, but in the name "Beta 37"
        ("ALPHA", [3]),  # case-insensitive; the deleted "Alpha Deleted" stays hidden
        ("  gamma ", [5]),  # trimmed
        ("a w", [3]),  # a substring across words
        ("", [2, 3, 4, 5]),  # empty: no search
        ("   ", [2, 3, 4, 5]),
        ("nothing like it", []),
        ("6", []),  # a deleted organization's id
        ("<id> <name>", []),  # the spec's example, taken literally
    ],
)
def test_search(small: tuple[FakeStudio, httpx.Client], search: str, expected: list[int]) -> None:
    studio, client = small
    body = check_listing(client.get(LIST, params={"search": search}))
    assert ids(body) == expected
    assert body["total"] == len(expected)
    assert body == studio.organizations_body(1, search=search)


def test_search_matches_an_id_and_names_containing_it(
    big: FakeStudio, big_client: httpx.Client
) -> None:
    body = check_listing(big_client.get(LIST, params={"search": "7", "limit": 1000}))
    visible = big.inner_organizations(1)
    expected = [o.id for o in visible if o.id == 7 or "7" in o.name]
    assert ids(body) == expected
    assert 7 in expected
    assert 17 in expected  # its name ends in 17
    assert body["total"] == len(expected)


def test_search_folds_case_beyond_ascii(make_client: MakeClient) -> None:
    organizations = [plain(1, whitelabel_inner_ids=[2, 3]), plain(2, name="Lumière Straße 2")]
    with serve(make_client, [*organizations, plain(3)]) as (_, client):
        assert ids(check_listing(client.get(LIST, params={"search": "LUMIÈRE"}))) == [2]
        assert ids(check_listing(client.get(LIST, params={"search": "strasse"}))) == [2]


def test_include_deleted(small: tuple[FakeStudio, httpx.Client]) -> None:
    _, client = small
    assert ids(check_listing(client.get(LIST, params={"includeDeleted": "false"}))) == [2, 3, 4, 5]
    body = check_listing(client.get(LIST, params={"includeDeleted": "true"}))
    assert (ids(body), body["total"]) == ([2, 3, 4, 5, 6], 5)
    body = check_listing(client.get(LIST, params={"includeDeleted": "true", "search": "alpha"}))
    assert ids(body) == [3, 6]


@pytest.mark.parametrize(
    ("active", "expected"),
    [
        (0, [2, 3]),  # inactive_for 0: active right now
        (7, [2, 3]),
        (8, [2, 3, 5]),  # 8 days ago is within the last 8 days
        (10**17, [2, 3, 5]),  # never-active organization 4 never matches
    ],
)
def test_active(small: tuple[FakeStudio, httpx.Client], active: int, expected: list[int]) -> None:
    studio, client = small
    assert ids(check_listing(client.get(LIST, params={"active": active}))) == expected
    # Activity is relative to now: moving now does not change who is active.
    studio.set_now(DEFAULT_NOW + timedelta(days=400))
    assert ids(check_listing(client.get(LIST, params={"active": active}))) == expected
    assert studio.last_active(5) == DEFAULT_NOW + timedelta(days=392)
    assert studio.last_active(4) is None


def test_active_on_default_data(big: FakeStudio, big_client: httpx.Client) -> None:
    body = check_listing(big_client.get(LIST, params={"active": 30, "limit": 1000}))
    expected = [
        o.id
        for o in big.inner_organizations(1)
        if o.inactive_for is not None and o.inactive_for <= timedelta(days=30)
    ]
    assert ids(body) == expected
    assert 0 < len(expected) < 225  # some are, some are not


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("id", [2, 3, 4, 5]),
        ("-id", [5, 4, 3, 2]),
        ("name", [3, 4, 5, 2]),  # case-insensitive: alpha, Beta, Gamma, Zeta
        ("-name", [2, 5, 4, 3]),
        ("created", [3, 5, 2, 4]),  # 3 and 5 were created together: id order
        ("-created", [4, 2, 3, 5]),  # ties stay in ascending id order
        ("created,-id", [5, 3, 2, 4]),
        (" -created , name ", [4, 2, 3, 5]),
        ("+name", [3, 4, 5, 2]),
        ("", [2, 3, 4, 5]),
    ],
)
def test_sort(small: tuple[FakeStudio, httpx.Client], sort: str, expected: list[int]) -> None:
    studio, client = small
    body = check_listing(client.get(LIST, params={"sort": sort}))
    assert ids(body) == expected
    assert body == studio.organizations_body(1, sort=sort)


def test_sort_pages_and_searches_together(big: FakeStudio, big_client: httpx.Client) -> None:
    visible = big.inner_organizations(1)
    by_name = sorted(visible, key=lambda o: (o.name.casefold(), o.name, o.id))
    page = check_listing(big_client.get(LIST, params={"sort": "name", "offset": 20, "limit": 10}))
    assert ids(page) == [o.id for o in by_name[20:30]]
    newest = sorted(visible, key=lambda o: (-o.created_at.timestamp(), o.id))
    page = check_listing(big_client.get(LIST, params={"sort": "-created", "limit": 5}))
    assert ids(page) == [o.id for o in newest[:5]]
    acme = [o for o in by_name if "acme" in o.name.casefold()]
    page = check_listing(
        big_client.get(LIST, params={"sort": "name", "search": "acme", "limit": 1000})
    )
    assert (ids(page), page["total"]) == ([o.id for o in acme], len(acme))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ("billable:true", [3, 4, 5]),
        ("billable:false", [2]),
        (" billable : false ", [2]),
        ("", [2, 3, 4, 5]),
    ],
)
def test_filters(small: tuple[FakeStudio, httpx.Client], filters: str, expected: list[int]) -> None:
    _, client = small
    body = check_listing(client.get(LIST, params={"filters": filters}))
    assert (ids(body), body["total"]) == (expected, len(expected))


def test_billable_filter_on_default_data(big: FakeStudio, big_client: httpx.Client) -> None:
    visible = big.inner_organizations(1)
    for value in (True, False):
        body = check_listing(
            big_client.get(
                LIST, params={"filters": f"billable:{str(value).lower()}", "limit": 1000}
            )
        )
        assert ids(body) == [o.id for o in visible if o.billable is value]
        assert body["organizations"]


# -- the listing: errors and changes between pages ----------------------------------------------


def test_listing_errors(
    studio: FakeStudio, client: httpx.Client, http: httpx.Client, api_key: str
) -> None:
    check_error(client.get("/api/organizations/2/whitelabel/organizations"), 403, "2")
    check_error(client.get("/api/organizations/99/whitelabel/organizations"), 404, "99")
    check_error(client.get("/api/organizations/x/whitelabel/organizations"), 400, "organizationId")
    check_error(client.get("/api/organizations/1/whitelabel/organizations/"), 404, "Unknown route")
    response = http.get(studio.base_url + LIST, headers={"x-api-key": "wrong"})
    check_error(response, 401)
    studio.add_organization(plain(20))
    studio.grant(Credential.api_key(api_key), 20)
    check_error(
        client.get("/api/organizations/20/whitelabel/organizations"), 403, "not a white label"
    )
    response = client.post(LIST)
    check_error(response, 405)
    assert response.headers["allow"] == "GET, HEAD"


def test_head_on_the_new_routes(client: httpx.Client) -> None:
    for path in (LIST, info_path(2)):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == get.headers["content-length"]


def test_the_organization_set_can_change_between_pages(
    small: tuple[FakeStudio, httpx.Client],
) -> None:
    studio, client = small
    first = check_listing(client.get(LIST, params={"limit": 2}))
    assert (ids(first), first["total"]) == ([2, 3], 4)
    studio.add_organization(plain(7, name="Newcomer"), whitelabel_admin_id=1)
    second = check_listing(client.get(LIST, params={"limit": 2, "offset": 2}))
    assert (ids(second), second["total"]) == ([4, 5], 5)
    studio.set_deleted(4)
    studio.set_deleted(6, deleted=False)
    third = check_listing(client.get(LIST, params={"limit": 2, "offset": 4}))
    assert (ids(third), third["total"]) == ([7], 5)
    removed = studio.remove_organization(2)
    assert removed.name == "Zeta Labs"
    assert 2 not in studio.organizations
    assert studio.organizations[1].whitelabel_inner_ids == {3, 4, 5, 6, 7}
    assert ids(check_listing(client.get(LIST))) == [3, 5, 6, 7]
    check_error(client.get(info_path(2)), 404)
    with pytest.raises(LookupError):
        studio.remove_organization(2)
    with pytest.raises(LookupError):
        studio.set_deleted(2)
    with pytest.raises(ValueError, match="white label admin"):
        studio.add_organization(plain(8), whitelabel_admin_id=3)
    with pytest.raises(ValueError, match="itself"):
        studio.add_organization(plain(1), whitelabel_admin_id=1)


def test_changes_from_another_thread_while_serving(make_client: MakeClient) -> None:
    with FakeStudio(api_key=KEY, inner_organizations=250) as studio:
        client = make_client(studio, headers={"x-api-key": KEY})
        visible = len(studio.inner_organizations(1))
        target = studio.inner_organizations(1)[0].id
        done = threading.Event()

        def toggle() -> None:
            for i in range(200):
                studio.set_deleted(target, deleted=i % 2 == 0)
            studio.set_deleted(target, deleted=False)
            done.set()

        thread = threading.Thread(target=toggle)
        thread.start()
        totals = set()
        try:
            for _ in range(100):
                body = check_listing(client.get(LIST, params={"limit": 1000, "sort": "-name"}))
                assert len(body["organizations"]) == body["total"]  # one snapshot per answer
                totals.add(body["total"])
        finally:
            thread.join(timeout=30)
        assert done.is_set()
        assert totals <= {visible, visible - 1}
        assert check_listing(client.get(LIST))["total"] == visible


def test_replacing_an_organization_changes_its_listing_item(
    small: tuple[FakeStudio, httpx.Client],
) -> None:
    studio, client = small
    studio.add_organization(
        plain(3, name="Renamed", entitlements=EntitlementLimits(number_of_users=5))
    )
    item = check_listing(client.get(LIST, params={"search": "3"}))["organizations"][0]
    assert (item["name"], item["entitlementLimits"]) == ("Renamed", {"numberOfUsers": 5})


def test_auto_added_inner_organizations_join_the_white_label(make_client: MakeClient) -> None:
    admin = plain(1, whitelabel_inner_ids=[2, 3], whitelabel_id=42)
    with serve(make_client, [admin]) as (_, client):
        body = check_listing(client.get(LIST, params={"includeDeleted": "true"}))
    assert ids(body) == [2, 3]
    assert {item["whitelabelId"] for item in body["organizations"]} == {42}


def test_an_organization_without_white_label_id_omits_it(
    small: tuple[FakeStudio, httpx.Client],
) -> None:
    _, client = small
    item = check_listing(client.get(LIST))["organizations"][0]
    assert "whitelabelId" not in item
    assert item["entitlementLimits"] == {}  # unlimited


# -- organization info --------------------------------------------------------------------------


def check_info(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    validator("AdminOrganizationInfoResponse").validate(body)
    assert set(body) == INFO_FIELDS
    assert body["success"] is True
    assert ISO_Z.fullmatch(body["computeTimeCurrentContractSince"])
    return dict(body)


def test_info_for_every_default_inner_organization(
    studio: FakeStudio, client: httpx.Client
) -> None:
    for organization in studio.inner_organizations(1):
        body = check_info(client.get(info_path(organization.id)))
        assert body == studio.organization_info_body(organization.id)
        cpu, gpu = studio.contract_usage(organization.id)
        assert cpu == studio.usage(organization.id, organization.contract_start, DEFAULT_NOW)[0]
        assert (body["cpuComputeTime"], body["gpuComputeTime"]) == (cpu / 1e6, gpu / 1e6)
        assert body["totalComputeTime"] == (cpu + gpu) / 6e7
        metrics = studio.metrics_body(organization.id)["metrics"]
        assert isinstance(metrics, dict)
        assert metrics["cpuComputeTimeCurrentContract"] == body["cpuComputeTime"]
        assert metrics["gpuComputeTimeCurrentContract"] == body["gpuComputeTime"]
        assert metrics["jobsComputeTimeCurrentYearSince"] == body["computeTimeCurrentContractSince"]
        assert datetime.fromisoformat(body["computeTimeCurrentContractSince"]) == (
            organization.contract_start
        )
        assert body["billable"] is organization.billable
        assert body["totalStorage"] == organization.total_storage_bytes
        assert body["entitlementLimits"] == organization.entitlements.to_json()
        assert body["dailyMetrics"] is None
    assert studio.requests[-1].operation is Operation.ORGANIZATION_INFO


def test_info_of_a_deleted_organization(studio: FakeStudio, client: httpx.Client) -> None:
    (deleted,) = [o for o in studio.inner_organizations(1, include_deleted=True) if o.deleted]
    check_error(client.get(info_path(deleted.id)), 404, "deleted", "includeDeleted")
    check_error(client.get(info_path(deleted.id), params={"includeDeleted": "false"}), 404)
    body = check_info(client.get(info_path(deleted.id), params={"includeDeleted": "true"}))
    assert body == studio.organization_info_body(deleted.id, include_deleted=True)
    with pytest.raises(LookupError, match="deleted"):
        studio.organization_info_body(deleted.id)
    check_error(client.get(info_path(2), params={"includeDeleted": "maybe"}), 400, "includeDeleted")


def test_info_errors(
    studio: FakeStudio, client: httpx.Client, http: httpx.Client, api_key: str
) -> None:
    check_error(client.get(info_path(99)), 404, "99")
    check_error(client.get(info_path(1)), 403, "white label")  # the admin itself
    check_error(client.get(info_path(3, organization_id=2)), 403, "2")
    check_error(client.get(info_path(2, organization_id=99)), 404, "99")
    check_error(client.get(info_path("x")), 400, "innerOrganizationId")
    check_error(client.get(info_path("-2")), 400, "innerOrganizationId")
    studio.add_organization(plain(50))
    check_error(client.get(info_path(50)), 403, "white label")
    check_error(http.get(studio.base_url + info_path(2)), 401)
    studio.grant(Credential.api_key(api_key), 50)
    check_error(client.get(info_path(2, organization_id=50)), 403, "not a white label")
    with pytest.raises(LookupError, match="99"):
        studio.organization_info_body(99)


def test_info_follows_now(studio: FakeStudio, client: httpx.Client) -> None:
    organization = studio.organizations[4]
    studio.set_now(organization.contract_start)
    body = check_info(client.get(info_path(4)))
    assert (body["cpuComputeTime"], body["gpuComputeTime"], body["totalComputeTime"]) == (0, 0, 0)
    later = organization.contract_start + timedelta(days=10)
    studio.set_now(later)
    body = check_info(client.get(info_path(4)))
    cpu, gpu = studio.usage(4, organization.contract_start, later)
    assert (cpu, gpu) == studio.contract_usage(4)
    assert body["cpuComputeTime"] == cpu / 1e6


def test_daily_metrics(make_client: MakeClient) -> None:
    with FakeStudio(api_key=KEY, daily_metrics=True) as studio:
        client = make_client(studio, headers={"x-api-key": KEY})
        body = check_info(client.get(info_path(4)))
    records = body["dailyMetrics"]
    assert body == studio.organization_info_body(4)
    assert len(records) == 365
    organization = studio.organizations[4]
    days = [datetime.fromisoformat(record["date"]) for record in records]
    assert days[-1] == DEFAULT_NOW - timedelta(days=1)  # the last whole day before now
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(days))
    contract = organization.contract_start
    for day, record in zip(days, records, strict=True):
        for name, value in record.items():
            if name not in ("date", "computeTimeCalculatedSince"):
                assert isinstance(value, int), name
                assert not isinstance(value, bool), name
                assert value >= 0, name
        since = datetime.fromisoformat(record["computeTimeCalculatedSince"])
        if contract < day + timedelta(days=1):
            assert since == contract
        else:  # a day of the previous contract year
            assert since == contract.replace(year=contract.year - 1)
        cpu, gpu = studio.usage(4, day, day + timedelta(days=1))
        assert record["cpuComputeTimeSeconds"] == cpu // 1_000_000
        assert record["computeTimeSeconds"] == (cpu + 3 * gpu) // 1_000_000
        total_cpu, total_gpu = studio.usage(4, since, day + timedelta(days=1))
        assert record["totalCurrentContractCpuComputeTimeSeconds"] == total_cpu // 1_000_000
        assert record["totalCurrentContractGpuComputeTimeSeconds"] == total_gpu // 1_000_000
        assert record["totalUsers"] == organization.user_count
        assert record["usersAdded"] == record["usersDeleted"]
    assert days[0] < contract  # the records span both contract years
    # The last record's contract totals stop at midnight, the info's at now: the same here.
    assert records[-1]["totalCurrentContractCpuComputeTimeSeconds"] == int(body["cpuComputeTime"])
    studio.daily_metrics = False
    assert studio.organization_info_body(4)["dailyMetrics"] is None
    with pytest.raises(ValueError, match="daily_metrics"):
        studio.daily_metrics = 1  # type: ignore[assignment]


def test_daily_metrics_never_count_before_creation() -> None:
    created = datetime(2024, 11, 15, 12, tzinfo=UTC)
    organization = FakeOrganization(
        2, created_at=created, contract_start=datetime(2024, 12, 1, tzinfo=UTC)
    )
    studio = FakeStudio(organizations=[organization], daily_metrics=True)
    records = studio.organization_info_body(2)["dailyMetrics"]
    assert isinstance(records, list)
    for record in records:
        assert isinstance(record, dict)
        since = datetime.fromisoformat(str(record["computeTimeCalculatedSince"]))
        assert since >= created
        if datetime.fromisoformat(str(record["date"])) < created - timedelta(days=1):
            assert record["cpuComputeTimeSeconds"] == 0
            assert record["totalCurrentContractCpuComputeTimeSeconds"] == 0


# -- the data -----------------------------------------------------------------------------------


def ratio(studio: FakeStudio, organization: FakeOrganization) -> float | None:
    limit = organization.entitlements.compute_time_per_year_seconds
    if limit is None:
        return None
    return sum(studio.contract_usage(organization.id)) / 1e6 / limit


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 12345])
def test_the_default_white_label_mixes_limits_and_usage(seed: int) -> None:
    studio = FakeStudio(seed=seed)
    inner = studio.inner_organizations(1, include_deleted=True)
    assert [o.id for o in inner] == list(range(2, 12))
    unlimited = [o for o in inner if o.entitlements.unlimited]
    partial = [
        o
        for o in inner
        if not o.entitlements.unlimited and len(o.entitlements.to_json()) < len(LIMIT_FIELDS)
    ]
    ratios = [ratio(studio, o) for o in inner]
    over = [r for r in ratios if r is not None and r > 1]
    warn = [r for r in ratios if r is not None and 0.8 <= r < 1]
    under = [r for r in ratios if r is not None and r < 0.8]
    assert len(unlimited) == 2
    assert len(partial) == 4
    assert len(over) == 2
    assert len(warn) == 2
    assert len(under) == 3
    assert [o.deleted for o in inner].count(True) == 1
    assert {o.billable for o in inner} == {True, False}
    assert len({o.name for o in inner}) == 10
    assert any(o.entitlements.gpu_compute_time_per_year_seconds is not None for o in inner)


def test_250_organizations_hold_every_profile(big: FakeStudio) -> None:
    inner = big.inner_organizations(1, include_deleted=True)
    ratios = [ratio(big, o) for o in inner]
    assert sum(1 for o in inner if o.entitlements.unlimited) == 50
    assert sum(1 for r in ratios if r is not None and r > 1) == 50
    assert sum(1 for r in ratios if r is not None and 0.8 <= r < 1) == 50
    assert 10 <= sum(1 for o in inner if o.inactive_for is None) <= 45
    assert len({o.name for o in inner}) == 250
    assert len({o.created_at for o in inner}) == 250


def test_default_data_is_deterministic() -> None:
    assert default_organizations(5) == default_organizations(5)
    assert default_organizations(5, inner_organizations=30) == default_organizations(
        5, inner_organizations=30
    )
    # An organization's data depends on the seed and its id only, not on the white label's size.
    assert default_organizations(5, inner_organizations=30)[1:11] == default_organizations(5)[1:11]
    same = [
        (o.name, o.entitlements, o.created_at) for o in FakeStudio(seed=9).organizations.values()
    ]
    again = [
        (o.name, o.entitlements, o.created_at) for o in FakeStudio(seed=9).organizations.values()
    ]
    other = [
        (o.name, o.entitlements, o.created_at) for o in FakeStudio(seed=8).organizations.values()
    ]
    assert same == again
    assert same != other
    assert default_name(7) == default_name(7, 0)
    assert default_name(7).endswith(" 7")
    assert len({default_name(7, seed) for seed in range(10)}) > 1
    assert FakeOrganization(7).name == default_name(7)


def test_inner_organization_count_is_checked() -> None:
    for bad in (-1, 10_001, True, 2.0):
        with pytest.raises(ValueError, match="inner_organizations"):
            default_organizations(inner_organizations=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        FakeStudio(organizations=[plain(1)], inner_organizations=3)
    studio = FakeStudio(inner_organizations=3)
    assert set(studio.organizations) == {1, 2, 3, 4}
    assert studio.organizations[1].whitelabel_inner_ids == {2, 3, 4}
    assert "organizations=[1, 2, 3, 4]" in repr(studio)
    assert "251 ids from 1 to 251" in repr(FakeStudio(inner_organizations=250))


def test_new_organization_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="name"):
        FakeOrganization(1, name=" ")
    with pytest.raises(ValueError, match="billable"):
        FakeOrganization(1, billable=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="deleted"):
        FakeOrganization(1, deleted="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whitelabel_id"):
        FakeOrganization(1, whitelabel_id=-1)
    with pytest.raises(ValueError, match="inactive_for"):
        FakeOrganization(1, inactive_for=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="compute_time_per_year_seconds"):
        EntitlementLimits(compute_time_per_year_seconds=-1)
    with pytest.raises(ValueError, match="number_of_users"):
        EntitlementLimits(number_of_users=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        FakeOrganization(1, entitlements={})  # type: ignore[arg-type]
    limits = EntitlementLimits(compute_time_per_year_seconds=3600, number_of_projects=0)
    assert limits.to_json() == {"computeTimePerYear": 3600, "numberOfProjects": 0}
    assert not limits.unlimited
    assert EntitlementLimits().unlimited
    assert EntitlementLimits().to_json() == {}
    assert FakeOrganization(1).private_project_count == 9


# ---- listing quirks: hostile listings on purpose ----------------------------------------------


def quirky_ids(client: httpx.Client, **params: Any) -> tuple[int, list[int]]:
    response = client.get(LIST, params=params)
    assert response.status_code == 200
    body = response.json()
    return body["total"], ids(body)


def test_listing_quirks_act_out_hostile_listings(studio: FakeStudio, client: httpx.Client) -> None:
    everyone = [o.id for o in studio.inner_organizations(1)]  # 9 visible
    studio.listing_quirks = ListingQuirks(total_extra=1)
    assert quirky_ids(client, limit=100) == (10, everyone)
    studio.listing_quirks = ListingQuirks(ignore_offset=True)
    assert quirky_ids(client, limit=3, offset=6) == (9, everyone[:3])
    studio.listing_quirks = ListingQuirks(page_cap=1)
    assert quirky_ids(client, limit=5, offset=2) == (9, everyone[2:3])
    studio.listing_quirks = ListingQuirks(keeps_removing=True)
    assert quirky_ids(client, limit=3, offset=0) == (9, everyone[:3])
    assert quirky_ids(client, limit=3, offset=2) == (9, everyone[3:6])  # one further on
    studio.listing_quirks = ListingQuirks(duplicate_id=everyone[2])
    assert quirky_ids(client, limit=100) == (10, [*everyone[:3], *everyone[2:]])
    studio.listing_quirks = None
    assert quirky_ids(client, limit=3, offset=2) == (9, everyone[2:5])


def test_organizations_body_answers_with_the_quirks(studio: FakeStudio) -> None:
    studio.listing_quirks = ListingQuirks(total_extra=2, page_cap=2)
    body = studio.organizations_body(1, limit=10)
    assert body["total"] == 11
    assert len(body["organizations"]) == 2  # type: ignore[arg-type]


def test_bad_fields_break_one_record_and_its_info(studio: FakeStudio, client: httpx.Client) -> None:
    bad = studio.inner_organizations(1)[1].id
    studio.listing_quirks = ListingQuirks(
        bad_fields={bad: {"entitlementLimits.totalStorage": "abc", "name": None}}
    )
    items = client.get(LIST).json()["organizations"]
    broken = [item for item in items if item["id"] == bad]
    assert broken[0]["entitlementLimits"]["totalStorage"] == "abc"
    assert broken[0]["name"] is None
    others = [item for item in items if item["id"] != bad]
    assert all(isinstance(item["name"], str) for item in others)
    info = client.get(info_path(bad)).json()
    assert info["entitlementLimits"]["totalStorage"] == "abc"
    assert "name" not in info  # only fields the answer has
    assert (
        client.get(info_path(everyone_but(studio, bad))).json()["entitlementLimits"]
        != info["entitlementLimits"]
    )


def everyone_but(studio: FakeStudio, excluded: int) -> int:
    return next(o.id for o in studio.inner_organizations(1) if o.id != excluded)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"page_cap": 0},
        {"page_cap": True},
        {"total_extra": 1.5},
        {"bad_fields": {"5": {"name": None}}},
        {"bad_fields": {5: {"a..b": None}}},
    ],
)
def test_bad_listing_quirks_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ListingQuirks(**kwargs)


def test_listing_quirks_must_be_listing_quirks() -> None:
    with pytest.raises(ValueError, match="listing_quirks"):
        FakeStudio(listing_quirks={"total_extra": 1})  # type: ignore[arg-type]
