"""FakeStudio: lifecycle, routes, authentication, validation, data shapes and the request log."""

from __future__ import annotations

import logging
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ei_usage.testing import (
    DEFAULT_INNER_ORGANIZATION_IDS,
    DEFAULT_NOW,
    DEFAULT_ORGANIZATION_ID,
    Credential,
    FakeOrganization,
    FakeStudio,
    Operation,
    default_organizations,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    MakeClient = Callable[..., httpx.Client]

MAY = "2024-05-01T00:00:00.000Z"
JUNE = "2024-06-01T00:00:00.000Z"
MAY_DT = datetime(2024, 5, 1, tzinfo=UTC)
JUNE_DT = datetime(2024, 6, 1, tzinfo=UTC)
METRIC_FIELDS = {
    "totalJobsComputeTime",
    "jobsComputeTimeCurrentYear",
    "jobsComputeTimeCurrentYearSince",
    "cpuComputeTimeCurrentContract",
    "gpuComputeTimeCurrentContract",
    "totalStorage",
    "projectCount",
    "userCount",
}


def compute_path(organization_id: int | str = 1, inner_id: int | str = 2) -> str:
    return (
        f"/api/organizations/{organization_id}/whitelabel/organizations/{inner_id}"
        "/usage/computeTime"
    )


def metrics_path(organization_id: int | str = 1) -> str:
    return f"/api/organizations/{organization_id}/metrics"


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_compute_time(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "cpuComputeTime", "gpuComputeTime", "totalComputeTime"}
    assert body["success"] is True
    for name in ("cpuComputeTime", "gpuComputeTime", "totalComputeTime"):
        assert is_number(body[name]), name
        assert body[name] >= 0, name
    assert body["totalComputeTime"] == pytest.approx(
        (body["cpuComputeTime"] + body["gpuComputeTime"]) / 60, rel=1e-12
    )
    return dict(body)


def check_metrics(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "metrics"}
    assert body["success"] is True
    metrics = body["metrics"]
    assert set(metrics) == METRIC_FIELDS
    for name in METRIC_FIELDS - {"jobsComputeTimeCurrentYearSince"}:
        assert is_number(metrics[name]), name
        assert metrics[name] >= 0, name
    assert isinstance(metrics["projectCount"], int)
    assert isinstance(metrics["userCount"], int)
    since = metrics["jobsComputeTimeCurrentYearSince"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", since), since
    assert datetime.fromisoformat(since).utcoffset() == timedelta(0)
    assert metrics["totalJobsComputeTime"] >= metrics["jobsComputeTimeCurrentYear"]
    contract_minutes = (
        metrics["cpuComputeTimeCurrentContract"] + metrics["gpuComputeTimeCurrentContract"]
    ) / 60
    assert metrics["jobsComputeTimeCurrentYear"] == pytest.approx(contract_minutes, rel=1e-12)
    return dict(metrics)


def check_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    message = body["error"]
    assert isinstance(message, str)
    assert message
    for word in words:
        assert word in message
    return message


# -- lifecycle ----------------------------------------------------------------------------------


def test_context_manager_binds_loopback_and_reports_base_url() -> None:
    with FakeStudio(api_key="k") as studio:
        assert studio.running
        assert studio.host == "127.0.0.1"
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", studio.base_url)
        assert studio.base_url == f"http://127.0.0.1:{studio.port}/v1"
        assert studio.url + "/v1" == studio.base_url
        assert str(studio.port) in repr(studio)
    assert not studio.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = studio.base_url


def test_stop_is_idempotent_joins_the_thread_and_allows_restart(http: httpx.Client) -> None:
    before = set(threading.enumerate())
    studio = FakeStudio(api_key="k")
    studio.stop()  # never started: nothing to do
    assert studio.start() is studio
    with pytest.raises(RuntimeError, match="already running"):
        studio.start()
    studio.stop()
    studio.stop()
    assert set(threading.enumerate()) <= before
    with studio:
        response = http.get(studio.base_url + metrics_path(), headers={"x-api-key": "k"})
        assert response.status_code == 200
    assert set(threading.enumerate()) <= before


def test_a_port_in_use_raises_and_leaks_nothing() -> None:
    before = set(threading.enumerate())
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        studio = FakeStudio(api_key="k", port=blocker.getsockname()[1])
        with pytest.raises(OSError):  # noqa: PT011 (the errno varies by platform)
            studio.start()
    assert not studio.running
    assert set(threading.enumerate()) <= before


@pytest.mark.parametrize("host", ["0.0.0.0", "", "192.0.2.1", "example.com"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        FakeStudio(api_key="k", host=host)


def test_explicit_port_is_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeStudio(api_key="k", port=port) as studio:
        assert studio.port == port


# -- defaults and data shapes -------------------------------------------------------------------


def test_default_organizations_are_a_white_label_of_2_to_11() -> None:
    studio = FakeStudio(api_key="k")
    assert DEFAULT_ORGANIZATION_ID == 1
    assert set(DEFAULT_INNER_ORGANIZATION_IDS) == set(range(2, 12))
    assert set(studio.organizations) == set(range(1, 12))
    admin = studio.organizations[1]
    assert admin.is_whitelabel_admin
    assert admin.whitelabel_inner_ids == frozenset(range(2, 12))
    assert not any(studio.organizations[i].is_whitelabel_admin for i in range(2, 12))
    assert studio.administered_by(Credential.api_key("k")) == frozenset({1})
    assert default_organizations() == default_organizations(0)
    assert default_organizations(1) != default_organizations(0)


def test_compute_time_for_every_default_inner_organization(
    studio: FakeStudio, client: httpx.Client
) -> None:
    gpu_users = 0
    for inner_id in range(2, 12):
        response = client.get(compute_path(1, inner_id), params={"startDate": MAY, "endDate": JUNE})
        body = check_compute_time(response)
        assert body == studio.compute_time_body(inner_id, MAY_DT, JUNE_DT)
        cpu, gpu = studio.usage(inner_id, MAY_DT, JUNE_DT)
        assert body["cpuComputeTime"] == cpu / 1_000_000
        assert body["gpuComputeTime"] == gpu / 1_000_000
        assert body["totalComputeTime"] == (cpu + gpu) / 60_000_000
        assert cpu > 0
        gpu_users += gpu > 0
    # Realistic data: some inner organizations use GPUs, some do not.
    assert 0 < gpu_users < 10


def test_metrics_shape_and_values(studio: FakeStudio, client: httpx.Client) -> None:
    metrics = check_metrics(client.get(metrics_path(1)))
    organization = studio.organizations[1]
    assert metrics["projectCount"] == organization.project_count
    assert metrics["userCount"] == organization.user_count
    assert metrics["totalStorage"] == organization.total_storage_bytes
    assert datetime.fromisoformat(metrics["jobsComputeTimeCurrentYearSince"]) == (
        organization.contract_start
    )
    assert {"success": True, "metrics": metrics} == studio.metrics_body(1)
    cpu, gpu = studio.usage(1, organization.contract_start, DEFAULT_NOW)
    assert metrics["cpuComputeTimeCurrentContract"] == cpu / 1_000_000
    assert metrics["gpuComputeTimeCurrentContract"] == gpu / 1_000_000
    total_cpu, total_gpu = studio.usage(1, organization.created_at, DEFAULT_NOW)
    assert metrics["totalJobsComputeTime"] == (total_cpu + total_gpu) / 60_000_000
    assert metrics["totalJobsComputeTime"] > metrics["jobsComputeTimeCurrentYear"] > 0


@pytest.mark.parametrize(
    ("params", "projects", "users"),
    [
        ({}, 12, 25),
        ({"excludeEdgeImpulseUsers": "false"}, 12, 25),
        ({"excludeEdgeImpulseUsers": "true"}, 12, 22),
        ({"projectVisibility": "public"}, 4, 25),
        ({"projectVisibility": "private"}, 8, 25),
        ({"excludeEdgeImpulseUsers": "true", "projectVisibility": "private"}, 8, 22),
    ],
)
def test_metrics_filters(
    make_client: MakeClient, params: dict[str, str], projects: int, users: int
) -> None:
    organization = FakeOrganization(
        1, project_count=12, public_project_count=4, user_count=25, edge_impulse_user_count=3
    )
    with FakeStudio(api_key="k", organizations=[organization]) as studio:
        client = make_client(studio, headers={"x-api-key": "k"})
        metrics = check_metrics(client.get(metrics_path(1), params=params))
    assert (metrics["projectCount"], metrics["userCount"]) == (projects, users)


def test_metrics_follow_now() -> None:
    contract = datetime(2024, 3, 1, tzinfo=UTC)
    organization = FakeOrganization(1, contract_start=contract)
    studio = FakeStudio(api_key="k", organizations=[organization], now=contract)
    assert studio.now() == contract
    before = studio.metrics_body(1)["metrics"]
    assert isinstance(before, dict)
    assert before["cpuComputeTimeCurrentContract"] == 0
    assert before["jobsComputeTimeCurrentYear"] == 0
    assert isinstance(before["totalJobsComputeTime"], int | float)
    assert before["totalJobsComputeTime"] > 0
    later = contract + timedelta(days=30)
    studio.set_now(lambda: later)
    after = studio.metrics_body(1)["metrics"]
    assert isinstance(after, dict)
    cpu, gpu = studio.usage(1, contract, later)
    assert after["cpuComputeTimeCurrentContract"] == cpu / 1_000_000
    assert after["gpuComputeTimeCurrentContract"] == gpu / 1_000_000
    studio.set_now(None)
    assert studio.now() == DEFAULT_NOW
    with pytest.raises(ValueError, match="timezone-aware"):
        studio.set_now(datetime(2024, 1, 1))


def test_head_is_answered_without_a_body(client: httpx.Client) -> None:
    get = client.get(metrics_path())
    head = client.head(metrics_path())
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


# -- routes and methods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/organizations/1",
        "/api/organizations/1/metrics/",
        "/api/organizations/1/Metrics",
        "/api/organizations/1/whitelabel/organizations/2/usage",
        "/api/organizations/1/whitelabel/organizations/2/usage/computeTime/x",
        "/api/projects/1/metrics",
        "/",
    ],
)
def test_unknown_routes_are_404_json(client: httpx.Client, path: str) -> None:
    check_error(client.get(path), 404, "Unknown route")


def test_outside_v1_is_404(studio: FakeStudio, http: httpx.Client, api_key: str) -> None:
    response = http.get(f"{studio.url}/api/organizations/1/metrics", headers={"x-api-key": api_key})
    check_error(response, 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_405_with_allow(client: httpx.Client, method: str) -> None:
    response = client.request(method, metrics_path())
    check_error(response, 405, method)
    assert response.headers["allow"] == "GET, HEAD"


def test_percent_encoded_path_segments_are_decoded(client: httpx.Client) -> None:
    check_metrics(client.get("/api/organizations/%31/metrics"))


# -- authentication and authorization -----------------------------------------------------------


def carriers() -> list[tuple[str, dict[str, str], dict[str, str]]]:
    return [
        ("x-api-key", {"x-api-key": "the-key"}, {}),
        ("x-jwt-token", {"x-jwt-token": "the-jwt"}, {}),
        ("jwt cookie", {}, {"jwt": "the-jwt"}),
        ("bearer", {"Authorization": "Bearer the-token"}, {}),
        ("bearer lower-case", {"Authorization": "bearer the-token"}, {}),
    ]


@pytest.fixture
def all_carriers() -> FakeStudio:
    return FakeStudio(api_key="the-key", jwt_token="the-jwt", access_token="the-token")


@pytest.mark.parametrize(("name", "headers", "cookies"), carriers(), ids=lambda c: str(c))
def test_every_credential_carrier_is_accepted(
    all_carriers: FakeStudio,
    make_client: MakeClient,
    name: str,
    headers: dict[str, str],
    cookies: dict[str, str],
) -> None:
    with all_carriers as studio:
        c = make_client(studio, headers=headers, cookies=cookies)
        check_metrics(c.get(metrics_path(1)))
        check_compute_time(c.get(compute_path(1, 3), params={"startDate": MAY, "endDate": JUNE}))
        check_error(c.get(metrics_path(2)), 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "wrong"},
        {"x-api-key": ""},
        {"x-api-key": "the-jwt"},  # a JWT is not an API key
        {"x-jwt-token": "the-key"},  # nor is an API key a JWT
        {"Authorization": "Bearer the-key"},  # an API key is not an access token
        {"Authorization": "Bearer the-jwt"},
        {"Authorization": "Basic dGhlLWtleTo="},
        {"Authorization": "Bearer"},
        {"Authorization": "the-token"},
        {"Cookie": "session=the-jwt"},
        {"Cookie": "jwt=wrong"},
    ],
    ids=repr,
)
def test_missing_or_wrong_credentials_are_401(
    all_carriers: FakeStudio, http: httpx.Client, headers: dict[str, str]
) -> None:
    with all_carriers as studio:
        response = http.get(studio.base_url + metrics_path(1), headers=headers)
        message = check_error(response, 401)
        for secret in ("the-key", "the-jwt", "the-token", "wrong", "dGhlLWtleTo="):
            assert secret not in message
        response = http.get(
            studio.base_url + compute_path(1, 2),
            params={"startDate": MAY, "endDate": JUNE},
            headers=headers,
        )
        check_error(response, 401)


def test_the_first_credential_carrier_present_decides(
    all_carriers: FakeStudio, http: httpx.Client
) -> None:
    with all_carriers as studio:
        url = studio.base_url + metrics_path(1)
        wrong_key = {"x-api-key": "wrong", "Authorization": "Bearer the-token"}
        check_error(http.get(url, headers=wrong_key), 401, "API key")
        good_key = {"x-api-key": "the-key", "x-jwt-token": "wrong"}
        check_metrics(http.get(url, headers=good_key))


def test_forbidden_and_not_found(studio: FakeStudio, client: httpx.Client) -> None:
    dates = {"startDate": MAY, "endDate": JUNE}
    # Organization 2 exists but the key administers only organization 1.
    check_error(client.get(metrics_path(2)), 403, "2")
    check_error(client.get(compute_path(2, 3), params=dates), 403, "2")
    check_error(client.get(metrics_path(99)), 404, "99")
    check_error(client.get(compute_path(99, 2), params=dates), 404, "99")
    check_error(client.get(compute_path(1, 99), params=dates), 404, "99")
    # An organization that exists but is not in the white label.
    studio.add_organization(FakeOrganization(50))
    check_error(client.get(compute_path(1, 50), params=dates), 403, "white label")
    # The admin organization itself is not one of its inner organizations.
    check_error(client.get(compute_path(1, 1), params=dates), 403, "white label")


def test_compute_time_needs_a_white_label_admin(make_client: MakeClient, api_key: str) -> None:
    organizations = [FakeOrganization(5), FakeOrganization(6)]
    with FakeStudio(api_key, organizations=organizations) as studio:
        c = make_client(studio, headers={"x-api-key": api_key})
        studio.grant(Credential.api_key(api_key), 5)
        check_metrics(c.get(metrics_path(5)))
        response = c.get(compute_path(5, 6), params={"startDate": MAY, "endDate": JUNE})
        check_error(response, 403, "not a white label admin")
        check_error(c.get(metrics_path(1)), 404)  # not among the configured organizations


def test_organization_zero_is_valid(make_client: MakeClient, api_key: str) -> None:
    zero = FakeOrganization(0, whitelabel_inner_ids={7})
    with FakeStudio(api_key, organizations=[zero]) as studio:
        c = make_client(studio, headers={"x-api-key": api_key})
        assert set(studio.organizations) == {0, 7}  # 7 was added with default data
        check_error(c.get(metrics_path(0)), 403)
        studio.grant(Credential.api_key(api_key), 0)
        check_metrics(c.get(metrics_path(0)))
        body = check_compute_time(
            c.get(compute_path(0, 7), params={"startDate": MAY, "endDate": JUNE})
        )
        assert body == studio.compute_time_body(7, MAY_DT, JUNE_DT)
        inner_zero = FakeOrganization(8, whitelabel_inner_ids={0})
        studio.add_organization(inner_zero)
        studio.grant(Credential.api_key(api_key), 8)
        check_compute_time(c.get(compute_path(8, 0), params={"startDate": MAY, "endDate": JUNE}))
        studio.revoke(Credential.api_key(api_key), 0)
        check_error(c.get(metrics_path(0)), 403)
        studio.revoke(Credential.api_key(api_key))
        check_error(c.get(metrics_path(8)), 401)


def test_no_credentials_configured_means_everything_is_401(http: httpx.Client) -> None:
    with FakeStudio() as studio:
        response = http.get(studio.base_url + metrics_path(1), headers={"x-api-key": "k"})
        check_error(response, 401)


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "+1", " 1", "1e3", "%EF%BC%91", "0x1"])
def test_malformed_path_ids_are_400(client: httpx.Client, bad: str) -> None:
    check_error(client.get(metrics_path(bad)), 400, "organizationId")
    response = client.get(compute_path(1, bad), params={"startDate": MAY, "endDate": JUNE})
    check_error(response, 400, "innerOrganizationId")


def test_a_path_that_is_not_utf8_is_400(client: httpx.Client) -> None:
    check_error(client.get("/api/organizations/%FF/metrics"), 400)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (f"endDate={JUNE}", ["startDate", "Missing"]),
        (f"startDate={MAY}", ["endDate", "Missing"]),
        ("", ["startDate"]),
        (f"startDate=&endDate={JUNE}", ["startDate"]),
        (f"startDate=yesterday&endDate={JUNE}", ["startDate", "yesterday"]),
        (f"startDate={MAY}&endDate=2024-13-01T00:00:00Z", ["endDate"]),
        (f"startDate={MAY}&endDate=2024-06-31T00:00:00Z", ["endDate"]),
        (f"startDate={MAY}&endDate=2024-06-01T25:00:00Z", ["endDate"]),
        (f"startDate=1714521600000&endDate={JUNE}", ["startDate"]),
        (f"startDate=2024-05-01T00:00:00&endDate={JUNE}", ["startDate", "timezone"]),
        (f"startDate={MAY}&endDate=2024-06-01T00:00:00.000", ["endDate", "timezone"]),
        (f"startDate=2024-05-01 00:00&endDate={JUNE}", ["startDate", "timezone"]),
        (f"startDate=20240501T000000Z&endDate={JUNE}", ["startDate"]),
        (f"startDate={JUNE}&endDate={MAY}", ["endDate", "startDate", "before"]),
        (f"startDate={MAY}&startDate={MAY}&endDate={JUNE}", ["startDate", "once"]),
        (f"startDate={MAY}&endDate={JUNE}&endDate={JUNE}", ["endDate", "once"]),
        (f"startDate=%FF&endDate={JUNE}", ["query"]),
    ],
)
def test_invalid_compute_time_queries_are_400(
    studio: FakeStudio, http: httpx.Client, api_key: str, query: str, words: list[str]
) -> None:
    # The query is sent exactly as written (httpx would re-encode a params dict).
    url = f"{studio.base_url}{compute_path(1, 2)}?{query}"
    response = http.get(url, headers={"x-api-key": api_key})
    check_error(response, 400, *words)


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"excludeEdgeImpulseUsers": "yes"}, "excludeEdgeImpulseUsers"),
        ({"excludeEdgeImpulseUsers": "True"}, "excludeEdgeImpulseUsers"),
        ({"excludeEdgeImpulseUsers": "1"}, "excludeEdgeImpulseUsers"),
        ({"excludeEdgeImpulseUsers": ""}, "excludeEdgeImpulseUsers"),
        ({"projectVisibility": "secret"}, "projectVisibility"),
        ({"projectVisibility": "Public"}, "projectVisibility"),
        ({"projectVisibility": ""}, "projectVisibility"),
        ({"projectVisibility": ["public", "private"]}, "projectVisibility"),
    ],
)
def test_invalid_metrics_queries_are_400(
    client: httpx.Client, params: dict[str, Any], word: str
) -> None:
    check_error(client.get(metrics_path(1), params=params), 400, word)


def test_unknown_query_parameters_are_ignored(client: httpx.Client) -> None:
    check_metrics(client.get(metrics_path(1), params={"foo": "bar"}))


def test_equal_start_and_end_is_zero_usage(client: httpx.Client) -> None:
    body = check_compute_time(
        client.get(compute_path(1, 2), params={"startDate": MAY, "endDate": MAY})
    )
    assert body == {
        "success": True,
        "cpuComputeTime": 0,
        "gpuComputeTime": 0,
        "totalComputeTime": 0,
    }


START_FORMS = [
    # (as sent on the wire, unencoded except where noted, the instant it means)
    ("2024-05-01T00:00:00.000Z", MAY_DT),
    ("2024-05-01T00:00:00Z", MAY_DT),
    ("2024-05-01T00:00Z", MAY_DT),
    ("2024-05-01T00:00:00z", MAY_DT),
    ("2024-05-01T00:00:00%2B00:00", MAY_DT),  # + percent-encoded
    ("2024-05-01T00:00:00+00:00", MAY_DT),  # raw +: form-decoded to a space
    ("2024-05-01T00:00:00.000+00:00", MAY_DT),
    ("2024-05-01T00%3A00%3A00.000%2B00%3A00", MAY_DT),
    ("2024-05-01T00:00:00+0000", MAY_DT),
    ("2024-05-01T00:00:00-00:00", MAY_DT),
    ("2024-05-01T02:00:00+02:00", MAY_DT),
    ("2024-05-01T02:00:00%2B02", MAY_DT),
    ("2024-04-30T19:00:00-05:00", MAY_DT),
    ("2024-05-01", MAY_DT),
    ("2024-05-01T00:00:00.5Z", MAY_DT + timedelta(milliseconds=500)),
    ("2024-05-01T00:00:00.123Z", MAY_DT + timedelta(milliseconds=123)),
    ("2024-05-01T00:00:00.123456Z", MAY_DT + timedelta(microseconds=123456)),
    ("2024-05-01T00:00:00.123456789Z", MAY_DT + timedelta(microseconds=123456)),
    ("2024-05-01T00:00:00,25Z", MAY_DT + timedelta(milliseconds=250)),
]


@pytest.mark.parametrize(("sent", "meant"), START_FORMS)
def test_accepted_date_forms(
    studio: FakeStudio, http: httpx.Client, api_key: str, sent: str, meant: datetime
) -> None:
    url = f"{studio.base_url}{compute_path(1, 4)}?startDate={sent}&endDate={JUNE}"
    body = check_compute_time(http.get(url, headers={"x-api-key": api_key}))
    assert body == studio.compute_time_body(4, meant, JUNE_DT)
    assert studio.requests[-1].query_string == f"startDate={sent}&endDate={JUNE}"


# -- configuration ------------------------------------------------------------------------------


def test_organization_validation() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        FakeOrganization(-1)
    with pytest.raises(ValueError, match="non-negative"):
        FakeOrganization(True)
    with pytest.raises(ValueError, match="public_project_count"):
        FakeOrganization(1, project_count=2, public_project_count=3)
    with pytest.raises(ValueError, match="edge_impulse_user_count"):
        FakeOrganization(1, user_count=2, edge_impulse_user_count=3)
    with pytest.raises(ValueError, match="itself"):
        FakeOrganization(1, whitelabel_inner_ids={1, 2})
    with pytest.raises(ValueError, match="whitelabel_inner_ids"):
        FakeOrganization(1, whitelabel_inner_ids={-2})
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeOrganization(1, contract_start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="duplicate"):
        FakeStudio(organizations=[FakeOrganization(3), FakeOrganization(3)])
    assert FakeOrganization(1, whitelabel_inner_ids=[2, 3]).whitelabel_inner_ids == {2, 3}
    assert FakeOrganization(1, whitelabel_inner_ids=()).is_whitelabel_admin
    assert not FakeOrganization(1).is_whitelabel_admin


def test_studio_argument_validation() -> None:
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="latency"):
            FakeStudio(latency=bad)
    studio = FakeStudio()
    with pytest.raises(ValueError, match="latency"):
        studio.latency = -1
    studio.latency = 0.25
    assert studio.latency == 0.25
    with pytest.raises(ValueError, match="port"):
        FakeStudio(port=70000)
    with pytest.raises(ValueError, match="seed"):
        FakeStudio(seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="api_key"):
        Credential.api_key("")
    with pytest.raises(ValueError):  # noqa: PT011
        Credential.api_key("two\nlines")


def test_replacing_an_organization_changes_its_data(
    studio: FakeStudio, client: httpx.Client
) -> None:
    studio.add_organization(FakeOrganization(3, user_count=7, edge_impulse_user_count=0))
    studio.grant(Credential.api_key(client.headers["x-api-key"]), 3)
    assert check_metrics(client.get(metrics_path(3)))["userCount"] == 7
    studio.add_organization(FakeOrganization(3, user_count=9, edge_impulse_user_count=0))
    assert check_metrics(client.get(metrics_path(3)))["userCount"] == 9


# -- the request log and secrets ----------------------------------------------------------------


def test_request_log_records_the_wire_format(studio: FakeStudio, client: httpx.Client) -> None:
    client.get(compute_path(1, 2), params={"startDate": MAY, "endDate": JUNE})
    client.get(metrics_path(1), params={"excludeEdgeImpulseUsers": "true"})
    client.post(metrics_path(1))
    client.get("/nowhere?x=1")
    compute, metrics, post, nowhere = studio.requests
    assert compute.method == "GET"
    assert compute.path == "/v1" + compute_path(1, 2)
    assert compute.query_string == (
        "startDate=2024-05-01T00%3A00%3A00.000Z&endDate=2024-06-01T00%3A00%3A00.000Z"
    )
    assert compute.target == f"{compute.path}?{compute.query_string}"
    assert compute.query == {"startDate": (MAY,), "endDate": (JUNE,)}
    assert compute.param("startDate") == MAY
    assert compute.param("missing") is None
    assert compute.operation is Operation.COMPUTE_TIME
    assert compute.status == 200
    assert compute.http_version == "HTTP/1.1"
    assert compute.headers["X-API-KEY"] == client.headers["x-api-key"]
    assert compute.headers["host"] == f"127.0.0.1:{studio.port}"
    assert metrics.operation is Operation.METRICS
    assert metrics.param("excludeEdgeImpulseUsers") == "true"
    assert (post.method, post.status, post.operation) == ("POST", 405, Operation.METRICS)
    assert (nowhere.status, nowhere.operation) == (404, None)
    # One kept-alive connection carried all four.
    assert len({r.connection_id for r in studio.requests}) == 1
    studio.reset()
    assert studio.requests == []


def test_secrets_are_masked_in_reprs_and_logs(
    http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ei_usage.testing")
    secrets = {"api": "sekrit-api-key", "jwt": "sekrit-jwt", "token": "sekrit-token"}
    with FakeStudio(
        api_key=secrets["api"], jwt_token=secrets["jwt"], access_token=secrets["token"]
    ) as studio:
        url = studio.base_url + metrics_path(1)
        http.get(url, headers={"x-api-key": secrets["api"]})
        http.get(url, headers={"x-jwt-token": secrets["jwt"]})
        http.get(url, headers={"Cookie": f"other=x; jwt={secrets['jwt']}"})
        http.get(url, headers={"Authorization": f"Bearer {secrets['token']}"})
        http.get(url, headers={"x-api-key": "sekrit-wrong"})
        recorded = studio.requests
    assert [r.status for r in recorded] == [200, 200, 200, 200, 401]
    texts = [repr(recorded), str(recorded), repr(studio), caplog.text]
    texts += [repr(r.headers) for r in recorded] + [str(r.headers) for r in recorded]
    texts.append(repr(Credential.api_key(secrets["api"])))
    for text in texts:
        assert "sekrit" not in text
    assert "***" in repr(recorded[0])
    assert "Bearer ***" in repr(recorded[3])
    assert "jwt=***" in repr(recorded[2])
    assert "GET /v1/api/organizations/1/metrics -> 200" in caplog.text
    # The values themselves stay available to tests that check what a client sent.
    assert recorded[3].headers["authorization"] == f"Bearer {secrets['token']}"
    assert ("x-api-key", secrets["api"]) in recorded[0].headers.raw()


def test_request_log_can_be_turned_off(http: httpx.Client) -> None:
    with FakeStudio(api_key="k", record_requests=False) as studio:
        response = http.get(studio.base_url + metrics_path(1), headers={"x-api-key": "k"})
        assert response.status_code == 200
        assert studio.requests == []


def test_a_broken_now_callable_is_a_500_and_the_server_survives(
    studio: FakeStudio, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    studio.set_now(lambda: datetime(2024, 1, 1))  # naive on purpose
    with caplog.at_level(logging.ERROR, logger="ei_usage.testing"):
        check_error(client.get(metrics_path(1)), 500)
    assert "internal error" in caplog.text
    studio.set_now(None)
    check_metrics(client.get(metrics_path(1)))
