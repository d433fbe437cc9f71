"""``with_raw_response``: status, headers, request id, timings and retries of a call's answer.

Also: errors carry the answer's headers (credential scrubbed) and its request id.
"""

from __future__ import annotations

import json
import pickle
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest

from ei_usage import (
    AsyncClient,
    Client,
    ComputeTime,
    InnerOrganizationUsage,
    NotFoundError,
    OrganizationMetrics,
    RateLimitError,
    RawResponse,
    ServerError,
)

from .test_client import CT_BODY, KEY, METRICS_BODY, Recorder, arun, json_response

ORG_BODY: dict[str, Any] = {
    "success": True,
    "cpuComputeTime": 60,
    "gpuComputeTime": 0,
    "totalComputeTime": 1,
    "computeTimeCurrentContractSince": "2024-01-01T00:00:00.000Z",
}


def raw_sync(recorder: Recorder, operation: str, **kwargs: Any) -> Any:
    with Client(KEY, transport=recorder.transport(), **kwargs) as client:
        raw = client.with_raw_response
        if operation == "metrics":
            return raw.metrics(7), client.metrics(7)
        if operation == "inner_organization":
            return raw.inner_organization(1, 2), client.inner_organization(1, 2)
        return raw.compute_time(1, 2, "2024-05"), client.compute_time(1, 2, "2024-05")


def raw_async(recorder: Recorder, operation: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with AsyncClient(KEY, transport=recorder.transport(), **kwargs) as client:
            raw = client.with_raw_response
            if operation == "metrics":
                return await raw.metrics(7), await client.metrics(7)
            if operation == "inner_organization":
                return await raw.inner_organization(1, 2), await client.inner_organization(1, 2)
            return (
                await raw.compute_time(1, 2, "2024-05"),
                await client.compute_time(1, 2, "2024-05"),
            )

    return arun(go())


CALLERS = [pytest.param(raw_sync, id="sync"), pytest.param(raw_async, id="async")]
OPERATIONS = [
    ("compute_time", CT_BODY, ComputeTime),
    ("inner_organization", ORG_BODY, InnerOrganizationUsage),
    ("metrics", METRICS_BODY, OrganizationMetrics),
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("operation", "body", "kind"), OPERATIONS)
def test_every_single_request_operation(
    caller: Any, operation: str, body: dict[str, Any], kind: type
) -> None:
    recorder = Recorder(json_response(body, **{"x-request-id": "req-42", "x-other": "o"}))
    raw, plain = caller(recorder, operation)
    assert isinstance(raw, RawResponse)
    assert raw.status_code == 200
    assert raw.headers["x-other"] == "o"
    assert raw.request_id == "req-42"
    assert isinstance(raw.parse(), kind)
    assert raw.parse() == plain
    assert raw.retries == raw.throttles == 0
    assert timedelta(0) <= raw.elapsed <= raw.total_elapsed
    assert raw.request.method == "GET"
    assert raw.request.url == str(recorder.requests[0].url)
    assert raw.content == json.dumps(body).encode()
    assert recorder.calls == 2  # the same request as the plain call, once each


@pytest.mark.parametrize("caller", CALLERS)
def test_retries_and_throttles_are_counted(
    caller: Any, sleeps: list[float], paces: list[float]
) -> None:
    recorder = Recorder(
        json_response({}, 503),
        json_response({}, 429, **{"retry-after": "1"}),
        json_response({}, 502),
        json_response(CT_BODY),
    )
    raw, _ = caller(recorder, "compute_time")
    assert (raw.retries, raw.throttles) == (2, 1)
    assert len(sleeps) == 2
    assert recorder.calls == 5


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-request-id": "a", "cf-ray": "b"}, "a"),
        ({"request-id": "c"}, "c"),
        ({"x-amzn-requestid": "d", "cf-ray": "e"}, "d"),
        ({"cf-ray": "8f00-AMS"}, "8f00-AMS"),
        ({}, None),
    ],
)
def test_request_id_headers(headers: dict[str, str], expected: str | None) -> None:
    raw, _ = raw_sync(Recorder(json_response(CT_BODY, **headers)), "compute_time")
    assert raw.request_id == expected


def test_frozen_and_the_body_is_not_in_repr() -> None:
    raw, _ = raw_sync(Recorder(json_response(CT_BODY)), "compute_time")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        raw.status_code = 500
    assert "cpuComputeTime" not in repr(raw)
    assert "status_code=200" in repr(raw)


def test_an_echoed_credential_is_scrubbed_from_headers() -> None:
    recorder = Recorder(json_response(CT_BODY, **{"x-echo": f"key={KEY}"}))
    raw, _ = raw_sync(recorder, "compute_time")
    assert raw.headers["x-echo"] == "key=***"
    assert KEY not in repr(raw)


def test_derived_clients_have_raw_responses_too() -> None:
    recorder = Recorder(json_response(CT_BODY, **{"x-request-id": "r"}))
    with Client(KEY, transport=recorder.transport()) as client:
        raw = client.with_options(timeout=3).with_raw_response.compute_time(1, 2, "2024-05")
    assert raw.request_id == "r"
    assert recorder.requests[0].extensions["timeout"]["read"] == 3


# ---- errors carry the headers ------------------------------------------------------------------


def test_status_errors_carry_headers_and_request_id() -> None:
    recorder = Recorder(
        json_response(
            {"success": False, "error": "no such organization"},
            404,
            **{"x-request-id": "req-404", "x-echo": KEY},
        )
    )
    with pytest.raises(NotFoundError) as info:
        raw_sync(recorder, "compute_time")
    error = info.value
    assert error.request_id == "req-404"
    assert error.headers is not None
    assert error.headers["x-echo"] == "***"
    copy = pickle.loads(pickle.dumps(error))
    assert copy.headers["x-request-id"] == "req-404"
    assert copy.request_id == "req-404"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (json_response({}, 429, **{"retry-after": "3600", "x-request-id": "t"}), RateLimitError),
        (json_response({}, 501, **{"x-request-id": "t"}), ServerError),
        (json_response({"success": False, "error": "x"}, 200, **{"x-request-id": "t"}), None),
    ],
)
def test_other_errors_carry_headers(answer: httpx.Response, kind: type | None) -> None:
    from ei_usage import APIError

    with pytest.raises(APIError) as info:
        raw_async(Recorder(answer), "compute_time")
    if kind is not None:
        assert isinstance(info.value, kind)
    assert info.value.request_id == "t"


def test_an_error_built_by_hand_has_no_headers() -> None:
    error = NotFoundError("gone", 404)
    assert error.headers is None
    assert error.request_id is None


@pytest.mark.parametrize("caller", CALLERS)
def test_an_echoed_credential_is_scrubbed_from_the_body(caller: Any) -> None:
    body = {**CT_BODY, "echo": f"your key is {KEY}", "note": "caf\u00e9"}
    raw, _ = caller(Recorder(json_response(body)), "compute_time")
    assert KEY.encode() not in raw.content
    assert json.loads(raw.content)["echo"] == "your key is ***"
    assert json.loads(raw.content)["note"] == "caf\u00e9"  # the rest is left as it was
    plain, _ = caller(Recorder(json_response(CT_BODY)), "compute_time")
    assert json.loads(plain.content) == CT_BODY
