"""Injected faults: what each one sends, in what order they are consumed, and recovery."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest

from ei_usage.testing import FakeStudio, Fault, FaultKind, Operation, format_retry_after

METRICS = "/api/organizations/1/metrics"
COMPUTE = "/api/organizations/1/whitelabel/organizations/2/usage/computeTime"
DATES = {"startDate": "2024-05-01T00:00:00.000Z", "endDate": "2024-06-01T00:00:00.000Z"}


def get_metrics(client: httpx.Client) -> httpx.Response:
    return client.get(METRICS)


def get_compute(client: httpx.Client) -> httpx.Response:
    return client.get(COMPUTE, params=DATES)


def assert_normal(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True


def test_rate_limited_then_normal_service(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.rate_limited(retry_after=1), times=2)
    assert studio.faults_pending == 2
    for _ in range(2):
        response = get_metrics(client)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["success"] is False
        assert isinstance(body["error"], str)
    assert studio.faults_pending == 0
    assert_normal(get_metrics(client))
    assert [r.status for r in studio.requests] == [429, 429, 200]


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(0, "0"), (2.0, "2"), (0.25, "0.25"), ("soon", "soon"), (None, None)],
)
def test_retry_after_values(
    studio: FakeStudio, client: httpx.Client, retry_after: float | str | None, header: str | None
) -> None:
    studio.inject(Fault.rate_limited(retry_after=retry_after))
    response = get_compute(client)
    assert response.status_code == 429
    assert response.headers.get("retry-after") == header


def test_retry_after_http_date(studio: FakeStudio, client: httpx.Client) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    studio.inject(Fault.rate_limited(retry_after=when))
    response = get_metrics(client)
    assert response.headers["retry-after"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert parsedate_to_datetime(response.headers["retry-after"]) == when


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(studio: FakeStudio, client: httpx.Client, status: int) -> None:
    studio.inject(Fault.server_error(status, message="broken", retry_after=3), times=3)
    for _ in range(3):
        response = get_compute(client)
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["retry-after"] == "3"
        assert response.json() == {"success": False, "error": "broken"}
    assert_normal(get_compute(client))


def test_drop_connection_then_recovery(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.drop_connection())
    with pytest.raises(httpx.RemoteProtocolError):
        get_metrics(client)
    assert_normal(get_metrics(client))
    dropped, normal = studio.requests
    assert dropped.status is None
    assert normal.status == 200
    assert dropped.connection_id != normal.connection_id


def test_malformed_json(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.malformed_json())
    response = get_compute(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert_normal(get_compute(client))


def test_html_error_page(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.html_error(502))
    response = get_metrics(client)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text
    assert "502" in response.text
    assert_normal(get_metrics(client))


def test_success_false_with_200(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.success_false("Organization is being migrated"))
    response = get_compute(client)
    assert response.status_code == 200
    assert response.json() == {"success": False, "error": "Organization is being migrated"}
    assert_normal(get_compute(client))


@pytest.mark.parametrize("field", ["cpuComputeTime", "gpuComputeTime", "totalComputeTime"])
def test_missing_compute_time_field(studio: FakeStudio, client: httpx.Client, field: str) -> None:
    studio.inject(Fault.missing_field(field))
    body = get_compute(client).json()
    assert field not in body
    assert body["success"] is True
    assert len(body) == 3
    assert field in get_compute(client).json()


@pytest.mark.parametrize(
    "name",
    [
        "totalJobsComputeTime",
        "jobsComputeTimeCurrentYear",
        "jobsComputeTimeCurrentYearSince",
        "cpuComputeTimeCurrentContract",
        "gpuComputeTimeCurrentContract",
        "totalStorage",
        "projectCount",
        "userCount",
    ],
)
def test_missing_and_null_metrics(studio: FakeStudio, client: httpx.Client, name: str) -> None:
    studio.inject(Fault.missing_field(f"metrics.{name}"))
    studio.inject(Fault.null_field(f"metrics.{name}"))
    missing = get_metrics(client).json()["metrics"]
    assert name not in missing
    assert len(missing) == 7
    nulled = get_metrics(client).json()["metrics"]
    assert nulled[name] is None
    assert len(nulled) == 8
    assert get_metrics(client).json()["metrics"][name] is not None


def test_missing_metrics_object_and_success(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.missing_field("metrics"))
    studio.inject(Fault.missing_field("success"), operation=Operation.COMPUTE_TIME)
    assert get_metrics(client).json() == {"success": True}
    assert "success" not in get_compute(client).json()


def test_set_field_to_a_wrong_type(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.set_field("cpuComputeTime", "12.5"))
    studio.inject(Fault.set_field("metrics.projectCount", 1.5))
    assert get_compute(client).json()["cpuComputeTime"] == "12.5"
    assert get_metrics(client).json()["metrics"]["projectCount"] == 1.5


def test_field_faults_wait_for_their_operation(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.null_field("metrics.totalStorage"))
    assert_normal(get_compute(client))  # does not consume the metrics fault
    assert studio.faults_pending == 1
    assert get_metrics(client).json()["metrics"]["totalStorage"] is None
    assert studio.faults_pending == 0


def test_a_field_fault_does_not_alter_an_error(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.missing_field("totalComputeTime"))
    response = client.get(COMPUTE, params=DATES, headers={"x-api-key": "wrong"})
    assert response.status_code == 401
    assert response.json()["success"] is False
    assert studio.faults_pending == 0  # consumed all the same


def test_faults_act_before_authentication(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.rate_limited())
    assert client.get(METRICS, headers={"x-api-key": "wrong"}).status_code == 429
    assert client.get(METRICS, headers={"x-api-key": "wrong"}).status_code == 401


def test_operation_restriction_and_order(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.server_error(503), operation=Operation.METRICS)
    studio.inject(Fault.server_error(500), times=2)
    studio.inject(Fault.html_error(504))
    # Compute time skips the metrics-only fault and takes the next one.
    assert get_compute(client).status_code == 500
    assert get_metrics(client).status_code == 503
    assert get_metrics(client).status_code == 500
    assert get_compute(client).status_code == 504
    assert_normal(get_compute(client))
    assert_normal(get_metrics(client))


def test_unknown_routes_and_other_methods_do_not_consume_faults(
    studio: FakeStudio, client: httpx.Client
) -> None:
    studio.inject(Fault.server_error())
    assert client.get("/api/organizations/1/nothing").status_code == 404
    assert client.post(METRICS).status_code == 405
    assert studio.faults_pending == 1
    assert get_metrics(client).status_code == 500


def test_custom_response(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(
        Fault.response(401, "nope", content_type="text/plain", headers={"WWW-Authenticate": "x"})
    )
    studio.inject(Fault.response(200, b"", content_type=None))
    response = get_metrics(client)
    assert (response.status_code, response.text) == (401, "nope")
    assert response.headers["www-authenticate"] == "x"
    assert response.headers["content-type"] == "text/plain"
    response = get_metrics(client)
    assert (response.status_code, response.content) == (200, b"")
    assert "content-type" not in response.headers


def test_slow_fault_and_latency(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.slow(0.5))
    with pytest.raises(httpx.ReadTimeout):
        client.get(METRICS, timeout=0.1)
    assert_normal(get_metrics(client))
    studio.latency = 0.2
    started = time.monotonic()
    assert_normal(get_metrics(client))
    assert time.monotonic() - started >= 0.2
    studio.latency = 0
    assert_normal(get_metrics(client))


def test_reset_clears_faults_and_log(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.server_error(), times=5)
    assert get_metrics(client).status_code == 500
    studio.reset()
    assert studio.faults_pending == 0
    assert studio.requests == []
    assert_normal(get_metrics(client))


def test_concurrent_requests_consume_each_fault_exactly_once(studio: FakeStudio) -> None:
    studio.inject(Fault.rate_limited(), times=10)

    async def run() -> list[int]:
        async with httpx.AsyncClient(
            base_url=studio.base_url,
            headers={"x-api-key": "test-api-key-0123456789"},
            timeout=5,
            transport=httpx.AsyncHTTPTransport(),
            trust_env=False,
        ) as client:
            responses = await asyncio.gather(*(client.get(METRICS) for _ in range(30)))
        return [response.status_code for response in responses]

    statuses = asyncio.run(run())
    assert sorted(statuses) == [200] * 20 + [429] * 10
    assert studio.faults_pending == 0


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="unknown response field"):
        Fault.missing_field("metrics.nope")
    with pytest.raises(ValueError, match="unknown response field"):
        Fault.null_field("error")
    with pytest.raises(ValueError, match="500 to 599"):
        Fault.server_error(429)
    with pytest.raises(ValueError, match="400 to 599"):
        Fault.html_error(200)
    with pytest.raises(ValueError, match="100 to 599"):
        Fault.response(600)
    with pytest.raises(ValueError, match="set by the server"):
        Fault.response(200, headers={"Content-Length": "3"})
    with pytest.raises(ValueError, match="single-line"):
        Fault.response(200, headers={"X-A": "a\r\nb"})
    with pytest.raises(ValueError, match="Retry-After"):
        Fault.rate_limited(retry_after=-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        Fault.rate_limited(retry_after=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="JSON"):
        Fault.set_field("cpuComputeTime", float("nan"))
    with pytest.raises(ValueError, match="seconds"):
        Fault.slow(-1)
    studio = FakeStudio()
    with pytest.raises(ValueError, match="times"):
        studio.inject(Fault.server_error(), times=0)
    with pytest.raises(ValueError, match="not in"):
        studio.inject(Fault.missing_field("metrics"), operation=Operation.COMPUTE_TIME)


def test_fault_descriptions() -> None:
    assert Fault.drop_connection().kind is FaultKind.DROP_CONNECTION
    assert Fault.missing_field("metrics.userCount").operation is Operation.METRICS
    assert Fault.null_field("totalComputeTime").operation is Operation.COMPUTE_TIME
    assert Fault.null_field("success").operation is None
    assert Fault.rate_limited().operation is None
    assert format_retry_after(1.0) == "1"
    assert format_retry_after(datetime(2030, 1, 1, tzinfo=UTC)) == "Tue, 01 Jan 2030 00:00:00 GMT"


# -- faults on the organization listing and organization info -----------------------------------

LIST = "/api/organizations/1/whitelabel/organizations"
INFO = "/api/organizations/1/whitelabel/organizations/3"


def test_listing_field_faults(studio: FakeStudio, client: httpx.Client) -> None:
    normal = studio.organizations_body(1)
    studio.inject(Fault.missing_field("total"))
    studio.inject(Fault.null_field("organizations"))
    studio.inject(Fault.missing_field("organizations.*.name"))
    studio.inject(Fault.set_field("organizations.0.id", "2"))
    studio.inject(Fault.null_field("organizations.1.entitlementLimits.computeTimePerYear"))
    studio.inject(Fault.missing_field("organizations.99.id"))  # past the page: no change
    body = client.get(LIST).json()
    assert body == {"success": True, "organizations": normal["organizations"]}
    assert client.get(LIST).json() == {"success": True, "total": 9, "organizations": None}
    items = client.get(LIST).json()["organizations"]
    assert items
    assert all("name" not in item and "id" in item for item in items)
    items = client.get(LIST).json()["organizations"]
    assert items[0]["id"] == "2"
    assert [item["id"] for item in items[1:]] == [o["id"] for o in normal["organizations"][1:]]
    items = client.get(LIST).json()["organizations"]
    assert items[1]["entitlementLimits"]["computeTimePerYear"] is None
    assert items[0]["entitlementLimits"] == normal["organizations"][0]["entitlementLimits"]
    assert client.get(LIST).json() == normal
    assert studio.faults_pending == 0
    assert client.get(LIST).json() == normal  # faults never alter the cached items


def test_info_field_faults(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.missing_field("entitlementLimits.computeTimePerYear"))
    studio.inject(Fault.null_field("dailyMetrics"))
    studio.inject(Fault.set_field("computeTimeCurrentContractSince", "yesterday"))
    studio.inject(Fault.missing_field("billable"))
    normal = studio.organization_info_body(3)
    assert "computeTimePerYear" in normal["entitlementLimits"]  # type: ignore[operator]
    body = client.get(INFO).json()
    assert "computeTimePerYear" not in body["entitlementLimits"]
    assert set(body) == set(normal)
    assert client.get(INFO).json()["dailyMetrics"] is None
    assert client.get(INFO).json()["computeTimeCurrentContractSince"] == "yesterday"
    assert "billable" not in client.get(INFO).json()
    assert client.get(INFO).json() == normal


def test_compute_time_fields_default_to_compute_time_but_can_target_info(
    studio: FakeStudio, client: httpx.Client
) -> None:
    fault = Fault.null_field("cpuComputeTime")
    assert fault.operation is Operation.COMPUTE_TIME
    assert fault.operations == (Operation.COMPUTE_TIME, Operation.ORGANIZATION_INFO)
    studio.inject(fault)
    studio.inject(Fault.null_field("gpuComputeTime"), operation=Operation.ORGANIZATION_INFO)
    body = client.get(INFO).json()
    assert body["cpuComputeTime"] is not None  # the compute-time fault waits
    assert body["gpuComputeTime"] is None
    assert get_compute(client).json()["cpuComputeTime"] is None
    with pytest.raises(ValueError, match="not in"):
        studio.inject(Fault.null_field("cpuComputeTime"), operation=Operation.METRICS)
    with pytest.raises(ValueError, match="not in"):
        studio.inject(Fault.null_field("total"), operation=Operation.ORGANIZATION_INFO)


def test_field_faults_of_new_operations_wait_for_them(
    studio: FakeStudio, client: httpx.Client
) -> None:
    studio.inject(Fault.missing_field("organizations"))
    studio.inject(Fault.missing_field("dailyMetrics"))
    assert_normal(get_metrics(client))
    assert_normal(get_compute(client))
    assert studio.faults_pending == 2
    assert "dailyMetrics" not in client.get(INFO).json()
    assert "organizations" not in client.get(LIST).json()
    assert studio.faults_pending == 0


def test_response_faults_apply_to_new_operations(studio: FakeStudio, client: httpx.Client) -> None:
    studio.inject(Fault.server_error(503), operation=Operation.ORGANIZATIONS)
    studio.inject(Fault.drop_connection(), operation=Operation.ORGANIZATION_INFO)
    assert get_metrics(client).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(INFO)
    assert client.get(LIST).status_code == 503
    assert client.get(LIST).status_code == 200


@pytest.mark.parametrize(
    ("field", "operations"),
    [
        ("total", (Operation.ORGANIZATIONS,)),
        ("organizations.*.created", (Operation.ORGANIZATIONS,)),
        ("organizations.12.whitelabelId", (Operation.ORGANIZATIONS,)),
        ("organizations.*.entitlementLimits.numberOfUsers", (Operation.ORGANIZATIONS,)),
        ("entitlementLimits.gpuComputeTimePerYear", (Operation.ORGANIZATION_INFO,)),
        ("totalStorage", (Operation.ORGANIZATION_INFO,)),
        ("success", ()),
    ],
)
def test_new_fault_fields(field: str, operations: tuple[Operation, ...]) -> None:
    assert Fault.missing_field(field).operations == operations


@pytest.mark.parametrize(
    "field",
    ["organizations.*", "organizations.x.id", "organizations.*.nope", "entitlementLimits.x", "id"],
)
def test_unknown_new_fault_fields(field: str) -> None:
    with pytest.raises(ValueError, match="unknown response field"):
        Fault.missing_field(field)
