"""Behaviour of ``Client`` and ``AsyncClient`` over ``httpx.MockTransport``: never a real network.

Retries are checked by patching ``ei_usage._client._sleep`` / ``_async_sleep`` with recorders, so
nothing here really waits. Async tests are plain functions that call ``asyncio.run`` under a
timeout, so a hang fails instead of blocking the suite.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ei_usage
import ei_usage._calls as calls_module
import ei_usage._client as client_module
from ei_usage import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ComputeTime,
    DateRange,
    EdgeImpulseError,
    NotFoundError,
    OrganizationMetrics,
    PermissionDeniedError,
    RateLimitError,
    RequestInfo,
    ResponseValidationError,
    ServerError,
)
from ei_usage._retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Coroutine

KEY = "test-api-key"
BASE = "https://studio.edgeimpulse.com/v1"
CT_PATH = "/v1/api/organizations/1/whitelabel/organizations/2/usage/computeTime"
METRICS_PATH = "/v1/api/organizations/7/metrics"

CT_BODY: dict[str, Any] = {
    "success": True,
    "cpuComputeTime": 90,
    "gpuComputeTime": 30,
    "totalComputeTime": 2,
}
METRICS: dict[str, Any] = {
    "totalJobsComputeTime": 10,
    "jobsComputeTimeCurrentYear": 2.5,
    "jobsComputeTimeCurrentYearSince": "2024-05-01T00:00:00.000Z",
    "cpuComputeTimeCurrentContract": 3600,
    "gpuComputeTimeCurrentContract": 90.5,
    "totalStorage": 1024,
    "projectCount": 3,
    "userCount": 12,
}
METRICS_BODY: dict[str, Any] = {"success": True, "metrics": METRICS}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def json_response(body: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def metrics_body(**changes: object) -> dict[str, Any]:
    """The metrics body with some fields replaced (``...`` removes one)."""
    metrics = {**METRICS, **changes}
    return {"success": True, "metrics": {k: v for k, v in metrics.items() if v is not ...}}


class Recorder:
    """A MockTransport handler that records requests and answers from a script.

    Each answer is a Response, an exception to raise, or a callable of the request; the last one
    repeats.
    """

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers) or [json_response(CT_BODY)]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(request)  # type: ignore[no-any-return]
        assert isinstance(answer, httpx.Response)
        # A Response can only be read once; hand out a fresh copy every time.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _with_credential(kwargs: dict[str, Any]) -> dict[str, Any]:
    if not {"api_key", "jwt_token", "access_token"} & kwargs.keys():
        kwargs["api_key"] = KEY
    return kwargs


def make_client(recorder: Recorder, **kwargs: Any) -> Client:
    return Client(transport=recorder.transport(), **_with_credential(kwargs))


def make_async_client(recorder: Recorder, **kwargs: Any) -> AsyncClient:
    return AsyncClient(transport=recorder.transport(), **_with_credential(kwargs))


def arun(coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
    """Run ``coro`` in a fresh event loop; a hang fails after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# Calls that both clients share, so each behaviour is checked on both.
def sync_call(recorder: Recorder, call: str = "compute_time", **client_kwargs: Any) -> Any:
    with make_client(recorder, **client_kwargs) as client:
        if call == "metrics":
            return client.metrics(7)
        return client.compute_time(1, 2, "2024-05")


def async_call(recorder: Recorder, call: str = "compute_time", **client_kwargs: Any) -> Any:
    async def go() -> Any:
        async with make_async_client(recorder, **client_kwargs) as client:
            if call == "metrics":
                return await client.metrics(7)
            return await client.compute_time(1, 2, "2024-05")

    return arun(go())


CALLERS = [pytest.param(sync_call, id="sync"), pytest.param(async_call, id="async")]


def catch(caller: Callable[..., Any], recorder: Recorder, *args: Any, **kwargs: Any) -> Any:
    with pytest.raises(EdgeImpulseError) as info:
        caller(recorder, *args, **kwargs)
    return info.value


# ==== construction ==============================================================================


class TestConstruction:
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    @pytest.mark.parametrize(
        "credentials",
        [
            {},
            {"api_key": "a", "jwt_token": "j"},
            {"api_key": "a", "access_token": "t"},
            {"jwt_token": "j", "access_token": "t"},
            {"api_key": "a", "jwt_token": "j", "access_token": "t"},
        ],
    )
    def test_exactly_one_credential(self, cls: type[Client], credentials: dict[str, str]) -> None:
        with pytest.raises(ValueError, match="exactly one") as info:
            cls(**credentials)
        for option in ("api_key", "jwt_token", "access_token"):
            assert option in str(info.value)

    @pytest.mark.parametrize(
        ("credentials", "header", "value"),
        [
            ({"api_key": "the-key"}, "x-api-key", "the-key"),
            ({"jwt_token": "the-jwt"}, "x-jwt-token", "the-jwt"),
            ({"access_token": "the-token"}, "authorization", "Bearer the-token"),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_credential_header(
        self, caller: Callable[..., Any], credentials: dict[str, str], header: str, value: str
    ) -> None:
        recorder = Recorder()
        caller(recorder, **credentials)
        headers = recorder.requests[0].headers
        assert headers[header] == value
        others = {"x-api-key", "x-jwt-token", "authorization"} - {header}
        assert not others & set(headers.keys())

    def test_api_key_is_positional(self) -> None:
        recorder = Recorder()
        with Client("positional-key", transport=recorder.transport()) as client:
            client.compute_time(1, 2, "2024-05")
        assert recorder.requests[0].headers["x-api-key"] == "positional-key"

    @pytest.mark.parametrize(
        ("timeout", "seconds"),
        [(30.0, 30.0), (2.5, 2.5), (7, 7.0), (timedelta(seconds=4, milliseconds=500), 4.5)],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_timeout_reaches_the_request(
        self, caller: Callable[..., Any], timeout: float | timedelta, seconds: float
    ) -> None:
        recorder = Recorder()
        caller(recorder, timeout=timeout)
        assert recorder.requests[0].extensions["timeout"] == {
            "connect": seconds,
            "read": seconds,
            "write": seconds,
            "pool": seconds,
        }

    def test_default_timeout_is_30_seconds(self) -> None:
        recorder = Recorder()
        with Client(KEY, transport=recorder.transport()) as client:
            client.compute_time(1, 2, "2024-05")
        assert recorder.requests[0].extensions["timeout"]["read"] == 30.0

    @pytest.mark.parametrize(
        "base_url",
        [
            "https://studio.acme-whitelabel.example/v1",
            "https://studio.acme-whitelabel.example/v1/",
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_white_label_base_url(self, caller: Callable[..., Any], base_url: str) -> None:
        recorder = Recorder()
        caller(recorder, base_url=base_url)
        url = recorder.requests[0].url
        assert url.scheme == "https"
        assert url.host == "studio.acme-whitelabel.example"
        assert url.path == CT_PATH

    def test_default_base_url(self) -> None:
        recorder = Recorder(json_response(METRICS_BODY))
        with Client(KEY, transport=recorder.transport()) as client:
            assert client.base_url == BASE
            client.metrics(7)
        assert str(recorder.requests[0].url) == f"https://studio.edgeimpulse.com{METRICS_PATH}"

    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"timeout": 0}, ValueError),
            ({"timeout": -1.0}, ValueError),
            ({"timeout": math.inf}, ValueError),
            ({"timeout": "30"}, TypeError),
            ({"max_retries": -1}, ValueError),
            ({"max_retries": 1.5}, TypeError),
            ({"max_connections": 0}, ValueError),
            ({"base_url": "studio.edgeimpulse.com/v1"}, ValueError),
            ({"base_url": "ftp://studio.edgeimpulse.com/v1"}, ValueError),
        ],
    )
    def test_bad_constructor_arguments(
        self, cls: type[Client], kwargs: dict[str, Any], error: type[Exception]
    ) -> None:
        with pytest.raises(error):
            cls(KEY, **kwargs)


class TestFromEnv:
    @pytest.mark.parametrize(
        ("variable", "header", "value"),
        [
            ("EI_API_KEY", "x-api-key", "env-key"),
            ("EI_JWT_TOKEN", "x-jwt-token", "env-jwt"),
            ("EI_ACCESS_TOKEN", "authorization", "Bearer env-token"),
        ],
    )
    def test_reads_os_environ(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, header: str, value: str
    ) -> None:
        for name in ("EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN", "EI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv(variable, value.removeprefix("Bearer "))
        monkeypatch.setenv("EI_BASE_URL", "https://studio.acme-whitelabel.example/v1/")
        recorder = Recorder()
        with Client.from_env(transport=recorder.transport(), max_retries=0) as client:
            assert client.base_url == "https://studio.acme-whitelabel.example/v1"
            client.compute_time(1, 2, "2024-05")
        request = recorder.requests[0]
        assert request.headers[header] == value
        assert request.url.host == "studio.acme-whitelabel.example"

    def test_default_base_url_without_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("EI_BASE_URL", raising=False)
        client = Client.from_env({"EI_API_KEY": "k"})
        assert client.base_url == BASE

    def test_environ_argument_replaces_os_environ(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EI_API_KEY", "from-os-environ")
        monkeypatch.setenv("EI_BASE_URL", "https://os.example/v1")
        recorder = Recorder()
        environ = {"EI_JWT_TOKEN": "from-argument"}
        with Client.from_env(environ, transport=recorder.transport()) as client:
            assert client.base_url == BASE
            client.compute_time(1, 2, "2024-05")
        headers = recorder.requests[0].headers
        assert headers["x-jwt-token"] == "from-argument"
        assert "x-api-key" not in headers

    def test_async_client_from_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("EI_ACCESS_TOKEN", "async-env-token")
        monkeypatch.delenv("EI_API_KEY", raising=False)
        monkeypatch.delenv("EI_JWT_TOKEN", raising=False)
        monkeypatch.setenv("EI_BASE_URL", "https://studio.acme-whitelabel.example/v1")
        recorder = Recorder()

        async def go() -> ComputeTime:
            client = AsyncClient.from_env(transport=recorder.transport())
            assert isinstance(client, AsyncClient)
            async with client:
                return await client.compute_time(1, 2, "2024-05")

        assert isinstance(arun(go()), ComputeTime)
        assert recorder.requests[0].headers["authorization"] == "Bearer async-env-token"
        assert recorder.requests[0].url.host == "studio.acme-whitelabel.example"

    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    @pytest.mark.parametrize(
        "environ",
        [
            {},
            {"EI_API_KEY": "", "EI_BASE_URL": BASE},
            {"EI_API_KEY": "a", "EI_JWT_TOKEN": "j"},
            {"EI_API_KEY": "a", "EI_JWT_TOKEN": "j", "EI_ACCESS_TOKEN": "t"},
        ],
    )
    def test_needs_exactly_one_credential_variable(
        self, cls: type[Client], environ: dict[str, str]
    ) -> None:
        with pytest.raises(ValueError, match="exactly one") as info:
            cls.from_env(environ)
        for name in ("EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN"):
            assert name in str(info.value)

    def test_kwargs_are_passed_on(self) -> None:
        recorder = Recorder(json_response({}, 503))
        client = Client.from_env(
            {"EI_API_KEY": "k"}, transport=recorder.transport(), max_retries=0, timeout=3
        )
        with client, pytest.raises(ServerError):
            client.compute_time(1, 2, "2024-05")
        assert recorder.calls == 1
        assert recorder.requests[0].extensions["timeout"]["read"] == 3.0


# ==== lifecycle =================================================================================


class _SpyHttpxClient(httpx.Client):
    made: list[httpx.Client]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = kwargs
        type(self).made.append(self)


class _SpyHttpxAsyncClient(httpx.AsyncClient):
    made: list[httpx.AsyncClient]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = kwargs
        type(self).made.append(self)


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Count the httpx clients (connection pools) the wrapper opens."""
    made: dict[str, list[Any]] = {"sync": [], "async": []}
    monkeypatch.setattr(_SpyHttpxClient, "made", made["sync"], raising=False)
    monkeypatch.setattr(_SpyHttpxAsyncClient, "made", made["async"], raising=False)
    monkeypatch.setattr(client_module.httpx, "Client", _SpyHttpxClient)
    monkeypatch.setattr(client_module.httpx, "AsyncClient", _SpyHttpxAsyncClient)
    return made


class TestLifecycle:
    def test_pool_opens_lazily_and_reopens_after_close(self, pools: dict[str, list[Any]]) -> None:
        recorder = Recorder()
        client = make_client(recorder)
        assert pools["sync"] == []  # construction opens nothing
        client.compute_time(1, 2, "2024-05")
        client.compute_time(1, 2, "2024-06")
        assert len(pools["sync"]) == 1  # one pool serves every call
        first = pools["sync"][0]
        assert not first.is_closed
        client.close()
        assert first.is_closed
        client.close()  # closing twice is harmless
        result = client.compute_time(1, 2, "2024-07")  # a later call opens a new pool
        assert result.period == DateRange.parse("2024-07")
        assert len(pools["sync"]) == 2
        assert not pools["sync"][1].is_closed
        client.close()
        assert pools["sync"][1].is_closed
        assert recorder.calls == 3

    def test_context_manager_returns_client_and_closes(self, pools: dict[str, list[Any]]) -> None:
        recorder = Recorder()
        client = make_client(recorder)
        with client as entered:
            assert entered is client
            client.compute_time(1, 2, "2024-05")
        assert len(pools["sync"]) == 1
        assert pools["sync"][0].is_closed

    def test_context_manager_closes_on_error(self, pools: dict[str, list[Any]]) -> None:
        recorder = Recorder(json_response({"success": False, "error": "nope"}, 404))
        with pytest.raises(NotFoundError), make_client(recorder) as client:
            client.compute_time(1, 2, "2024-05")
        assert pools["sync"][0].is_closed

    @pytest.mark.parametrize("caller", CALLERS)
    def test_pool_options(self, caller: Callable[..., Any], pools: dict[str, list[Any]]) -> None:
        caller(Recorder(), max_connections=5)
        [pool] = pools["sync"] + pools["async"]
        assert pool.options["limits"] == httpx.Limits(
            max_connections=5, max_keepalive_connections=5
        )
        assert pool.options["follow_redirects"] is False
        assert pool.is_closed

    def test_default_pool_size_is_64(self, pools: dict[str, list[Any]]) -> None:
        sync_call(Recorder())
        assert pools["sync"][0].options["limits"].max_connections == 64

    def test_close_without_use_opens_nothing(self, pools: dict[str, list[Any]]) -> None:
        with make_client(Recorder()):
            pass
        assert pools["sync"] == []

    def test_async_pool_lifecycle(self, pools: dict[str, list[Any]]) -> None:
        recorder = Recorder()
        client = make_async_client(recorder)
        assert pools["async"] == []

        async def go() -> None:
            async with client as entered:
                assert entered is client
                await client.compute_time(1, 2, "2024-05")
                await client.compute_time(1, 2, "2024-06")
            assert len(pools["async"]) == 1
            assert pools["async"][0].is_closed
            await client.compute_time(1, 2, "2024-07")
            assert len(pools["async"]) == 2
            await client.aclose()
            await client.aclose()
            assert pools["async"][1].is_closed

        arun(go())
        assert recorder.calls == 3

    def test_async_client_across_runs_with_async_with(self) -> None:
        recorder = Recorder()
        client = make_async_client(recorder)

        async def use() -> ComputeTime:
            async with client:
                return await client.compute_time(1, 2, "2024-05")

        first = arun(use(), timeout=5)
        second = arun(use(), timeout=5)
        assert first == second
        assert first.cpu == timedelta(seconds=90)
        assert recorder.calls == 2

    def test_async_client_left_open_fails_clearly_in_another_run(self) -> None:
        recorder = Recorder()
        client = make_async_client(recorder)
        arun(client.compute_time(1, 2, "2024-05"), timeout=5)  # not closed
        with pytest.raises(RuntimeError) as info:
            arun(client.compute_time(1, 2, "2024-05"), timeout=5)
        message = str(info.value)
        assert "event loop" in message
        assert "async with" in message
        assert "Event loop is closed" not in message
        assert recorder.calls == 1  # the second run sent nothing
        arun(client.aclose(), timeout=5)
        # Once closed, the client works again in yet another loop.
        assert arun(client.compute_time(1, 2, "2024-05"), timeout=5).total == timedelta(minutes=2)
        arun(client.aclose(), timeout=5)
        assert recorder.calls == 2

    def test_repr_names_base_url_and_kind(self) -> None:
        client = Client(jwt_token="jwt-value", base_url="https://studio.acme-whitelabel.example/v1")
        text = repr(client)
        assert text.startswith("Client(")
        assert "https://studio.acme-whitelabel.example/v1" in text
        assert "jwt_token" in text
        assert repr(AsyncClient(KEY)).startswith("AsyncClient(")


# ==== results ===================================================================================


class TestComputeTime:
    @pytest.mark.parametrize("caller", CALLERS)
    def test_units(self, caller: Callable[..., Any]) -> None:
        result = caller(Recorder())
        assert isinstance(result, ComputeTime)
        assert result.organization_id == 1
        assert result.inner_organization_id == 2
        assert result.period == DateRange(utc(2024, 5, 1), utc(2024, 6, 1))
        assert result.cpu == timedelta(seconds=90)
        assert result.gpu == timedelta(seconds=30)
        assert result.total == timedelta(seconds=120)
        assert result.discrepancy == timedelta(0)

    def test_discrepancy(self) -> None:
        body = {"success": True, "cpuComputeTime": 60, "gpuComputeTime": 0, "totalComputeTime": 2}
        result = sync_call(Recorder(json_response(body)))
        assert result.discrepancy == timedelta(seconds=60)

    def test_fractional_values(self) -> None:
        body = {
            "success": True,
            "cpuComputeTime": 1.5,
            "gpuComputeTime": 0.25,
            "totalComputeTime": 0.5,
        }
        result = sync_call(Recorder(json_response(body)))
        assert result.cpu == timedelta(seconds=1.5)
        assert result.gpu == timedelta(milliseconds=250)
        assert result.total == timedelta(seconds=30)

    @pytest.mark.parametrize("missing", ["cpuComputeTime", "gpuComputeTime", "totalComputeTime"])
    def test_omitted_field_is_none(self, missing: str) -> None:
        body = {k: v for k, v in CT_BODY.items() if k != missing}
        result = sync_call(Recorder(json_response(body)))
        attribute = {"cpuComputeTime": "cpu", "gpuComputeTime": "gpu", "totalComputeTime": "total"}
        assert getattr(result, attribute[missing]) is None
        for other in set(attribute.values()) - {attribute[missing]}:
            assert getattr(result, other) is not None
        assert result.discrepancy is None
        assert result.to_dict()[attribute[missing]] is None
        assert result.to_dict()["discrepancy"] is None

    def test_all_omitted_is_a_validation_error(self) -> None:
        # All three are optional in the spec, but an answer with none of them is what a renamed
        # field looks like: it must not read as "no usage".
        error = catch(sync_call, Recorder(json_response({"success": True})))
        assert type(error) is ResponseValidationError
        assert error.field == "cpuComputeTime"
        assert "none of cpuComputeTime, gpuComputeTime and totalComputeTime" in error.message

    @pytest.mark.parametrize(
        ("unit", "cpu", "gpu", "total"),
        [
            ("seconds", 90.0, 30.0, 120.0),
            ("minutes", 1.5, 0.5, 2.0),
            ("hours", 0.025, 30 / 3600, 2 / 60),
        ],
    )
    def test_to_dict(self, unit: str, cpu: float, gpu: float, total: float) -> None:
        result = sync_call(Recorder())
        data = result.to_dict(unit)
        assert data == {
            "organization_id": 1,
            "inner_organization_id": 2,
            "inner_organization_name": None,
            "inner_organization_deleted": None,
            "start": "2024-05-01T00:00:00Z",
            "end": "2024-06-01T00:00:00Z",
            "unit": unit,
            "cpu": pytest.approx(cpu),
            "gpu": pytest.approx(gpu),
            "total": pytest.approx(total),
            "discrepancy": 0.0,
        }
        json.dumps(data)  # JSON-ready

    def test_to_dict_defaults_to_minutes_and_rejects_unknown_units(self) -> None:
        result = sync_call(Recorder())
        assert result.to_dict()["unit"] == "minutes"
        assert result.to_dict()["total"] == 2.0
        with pytest.raises(ValueError, match="unit"):
            result.to_dict("days")

    @pytest.mark.parametrize("caller", CALLERS)
    def test_period_as_date_range_or_string(self, caller: Callable[..., Any]) -> None:
        for period in ("2024-Q2", DateRange(utc(2024, 4, 1), utc(2024, 7, 1))):
            recorder = Recorder()

            def call(rec: Recorder, period: object = period) -> Any:
                if caller is sync_call:
                    with make_client(rec) as client:
                        return client.compute_time(1, 2, period)  # type: ignore[arg-type]

                async def go() -> Any:
                    async with make_async_client(rec) as client:
                        return await client.compute_time(1, 2, period)  # type: ignore[arg-type]

                return arun(go())

            result = call(recorder)
            assert result.period == DateRange(utc(2024, 4, 1), utc(2024, 7, 1))
            assert recorder.requests[0].url.params["startDate"] == "2024-04-01T00:00:00.000Z"
            assert recorder.requests[0].url.params["endDate"] == "2024-07-01T00:00:00.000Z"


class TestMetrics:
    @pytest.mark.parametrize("caller", CALLERS)
    def test_conversions(self, caller: Callable[..., Any]) -> None:
        result = caller(Recorder(json_response(METRICS_BODY)), "metrics")
        assert isinstance(result, OrganizationMetrics)
        assert result.organization_id == 7
        assert result.total_jobs_compute_time == timedelta(minutes=10)
        assert result.jobs_compute_time_current_year == timedelta(minutes=2.5)
        assert result.jobs_compute_time_current_year_since == utc(2024, 5, 1)
        assert result.cpu_compute_time_current_contract == timedelta(hours=1)
        assert result.gpu_compute_time_current_contract == timedelta(seconds=90.5)
        assert result.total_storage_bytes == 1024
        assert type(result.total_storage_bytes) is int
        assert result.project_count == 3
        assert result.user_count == 12
        assert result.exclude_edge_impulse_users is None
        assert result.project_visibility is None

    def test_storage_and_counts_as_floats(self) -> None:
        body = metrics_body(totalStorage=2048.0, projectCount=3.0, userCount=0.0)
        result = sync_call(Recorder(json_response(body)), "metrics")
        assert (result.total_storage_bytes, result.project_count, result.user_count) == (2048, 3, 0)
        for value in (result.total_storage_bytes, result.project_count, result.user_count):
            assert type(value) is int

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2024-05-01T00:00:00Z", utc(2024, 5, 1)),
            ("2024-05-01T00:00:00.000Z", utc(2024, 5, 1)),
            ("2024-05-01T00:00:00.123Z", datetime(2024, 5, 1, 0, 0, 0, 123000, UTC)),
            ("2024-05-01T00:00:00+00:00", utc(2024, 5, 1)),
            ("2024-05-01T02:00:00+02:00", utc(2024, 5, 1)),
            ("2024-05-01T02:00:00.5+02:00", datetime(2024, 5, 1, 0, 0, 0, 500000, UTC)),
            ("2024-05-01T01:30:00.123456+02:00", datetime(2024, 4, 30, 23, 30, 0, 123456, UTC)),
            ("2024-04-30T19:00:00-05:00", utc(2024, 5, 1)),
        ],
    )
    def test_date_time_becomes_aware_utc(self, text: str, expected: datetime) -> None:
        body = metrics_body(jobsComputeTimeCurrentYearSince=text)
        result = sync_call(Recorder(json_response(body)), "metrics")
        since = result.jobs_compute_time_current_year_since
        assert since == expected
        assert since.tzinfo is timezone.utc  # noqa: UP017 - the contract names timezone.utc
        assert since.utcoffset() == timedelta(0)

    def test_filters_are_recorded_on_the_result(self) -> None:
        recorder = Recorder(json_response(METRICS_BODY))
        with make_client(recorder) as client:
            result = client.metrics(
                7, exclude_edge_impulse_users=True, project_visibility="private"
            )
        assert result.exclude_edge_impulse_users is True
        assert result.project_visibility == "private"

    def test_to_dict(self) -> None:
        result = sync_call(Recorder(json_response(METRICS_BODY)), "metrics")
        assert result.to_dict("seconds") == {
            "organization_id": 7,
            "unit": "seconds",
            "total_jobs_compute_time": 600.0,
            "jobs_compute_time_current_year": 150.0,
            "jobs_compute_time_current_year_since": "2024-05-01T00:00:00Z",
            "cpu_compute_time_current_contract": 3600.0,
            "gpu_compute_time_current_contract": 90.5,
            "total_storage_bytes": 1024,
            "project_count": 3,
            "user_count": 12,
            "exclude_edge_impulse_users": None,
            "project_visibility": None,
        }
        assert result.to_dict("hours")["cpu_compute_time_current_contract"] == 1.0
        assert result.to_dict()["total_jobs_compute_time"] == 10.0

    def test_unknown_extra_fields_are_accepted(self) -> None:
        body = {
            "success": True,
            "somethingNew": {"nested": [1, 2]},
            "metrics": {**METRICS, "futureMetric": "x", "another": None},
        }
        result = sync_call(Recorder(json_response(body)), "metrics")
        assert result.user_count == 12
        ct = sync_call(Recorder(json_response({**CT_BODY, "error": "", "newField": 1})))
        assert ct.cpu == timedelta(seconds=90)


# ==== bulk ======================================================================================


def _start_of(request: httpx.Request) -> str:
    return request.url.params["startDate"]


class TestComputeTimeByPeriod:
    def test_sync_one_request_per_piece_in_time_order(self) -> None:
        recorder = Recorder()
        with make_client(recorder) as client:
            results = client.compute_time_by_period(1, 2, "2024-01-15..2024-03")
        expected = [
            DateRange(utc(2024, 1, 15), utc(2024, 2, 1)),
            DateRange(utc(2024, 2, 1), utc(2024, 3, 1)),
            DateRange(utc(2024, 3, 1), utc(2024, 4, 1)),
        ]
        assert [r.period for r in results] == expected
        assert recorder.calls == 3
        assert [(_start_of(r), r.url.params["endDate"]) for r in recorder.requests] == [
            ("2024-01-15T00:00:00.000Z", "2024-02-01T00:00:00.000Z"),
            ("2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"),
            ("2024-03-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"),
        ]
        assert all(r.url.path == CT_PATH for r in recorder.requests)
        assert all(r.cpu == timedelta(seconds=90) for r in results)

    @pytest.mark.parametrize(
        ("every", "count"), [("day", 31), ("week", 5), ("month", 1), ("quarter", 1), ("year", 1)]
    )
    def test_every(self, every: Any, count: int) -> None:
        recorder = Recorder()
        with make_client(recorder) as client:
            results = client.compute_time_by_period(1, 2, "2024-05", every=every)
        assert len(results) == count == recorder.calls
        assert results[0].period.start == utc(2024, 5, 1)
        assert results[-1].period.end == utc(2024, 6, 1)
        starts = [r.period.start for r in results]
        assert starts == sorted(starts)

    def test_sync_failure_raises_the_error(self) -> None:
        recorder = Recorder(
            json_response(CT_BODY), json_response({"success": False, "error": "gone"}, 404)
        )
        with make_client(recorder) as client, pytest.raises(NotFoundError, match="gone"):
            client.compute_time_by_period(1, 2, "2024-Q1")
        assert recorder.calls == 2

    def test_async_results_in_time_order_when_answers_arrive_out_of_order(self) -> None:
        finished: list[str] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            month = int(_start_of(request)[5:7])
            await asyncio.sleep((13 - month) * 0.005)  # later months answer first
            finished.append(_start_of(request))
            body = {"success": True, "cpuComputeTime": month, "gpuComputeTime": 0}
            return json_response(body)

        async def go() -> list[ComputeTime]:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                return await client.compute_time_by_period(1, 2, "2024", concurrency=12)

        results = arun(go())
        assert [r.cpu for r in results] == [timedelta(seconds=m) for m in range(1, 13)]
        assert [r.period for r in results] == DateRange.parse("2024").split("month")
        assert finished != sorted(finished)  # the answers really did arrive out of order

    @pytest.mark.parametrize(("concurrency", "expected_max"), [(1, 1), (3, 3), (8, 8), (20, 12)])
    def test_async_concurrency_is_bounded(self, concurrency: int, expected_max: int) -> None:
        in_flight = 0
        peak = 0
        seen: list[str] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            seen.append(_start_of(request))
            try:
                await asyncio.sleep(0.01)
            finally:
                in_flight -= 1
            return json_response(CT_BODY)

        async def go() -> list[ComputeTime]:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                return await client.compute_time_by_period(
                    1, 2, "2024", every="month", concurrency=concurrency
                )

        results = arun(go())
        assert len(results) == 12
        assert len(seen) == 12
        assert peak == expected_max

    def test_async_default_concurrency_is_8(self) -> None:
        in_flight = 0
        peak = 0

        async def handler(request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return json_response(CT_BODY)

        async def go() -> list[ComputeTime]:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                return await client.compute_time_by_period(1, 2, "2024-01..2024-01-20", every="day")

        assert len(arun(go())) == 20
        assert peak == 8

    def test_async_failure_cancels_the_others_and_raises_the_error_itself(self) -> None:
        cancelled: list[str] = []
        completed: list[str] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            start = _start_of(request)
            if start.startswith("2024-03"):
                await asyncio.sleep(0.01)
                return json_response({"success": False, "error": "no such org"}, 404)
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(start)
                raise
            completed.append(start)
            return json_response(CT_BODY)

        async def go() -> None:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                await client.compute_time_by_period(1, 2, "2024-01..2024-06", concurrency=8)

        began = time.monotonic()
        with pytest.raises(NotFoundError) as info:
            arun(go(), timeout=10)
        assert time.monotonic() - began < 5
        assert type(info.value) is NotFoundError
        assert not isinstance(info.value, BaseExceptionGroup)
        assert info.value.message == "no such org"
        assert len(cancelled) == 5
        assert completed == []

    def test_async_failure_while_others_wait_for_a_slot(self) -> None:
        started: list[str] = []

        async def handler(request: httpx.Request) -> httpx.Response:
            started.append(_start_of(request))
            if _start_of(request).startswith("2024-01"):
                return json_response({"success": False, "error": "denied"}, 403)
            await asyncio.sleep(30)
            return json_response(CT_BODY)

        async def go() -> None:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                await client.compute_time_by_period(1, 2, "2024", concurrency=2)

        with pytest.raises(PermissionDeniedError, match="denied"):
            arun(go(), timeout=10)
        # The queued months never started once the first one had failed.
        assert len(started) <= 3


# ==== arguments =================================================================================


def _bad_sync_calls() -> list[Any]:
    def ct(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        return lambda c: c.compute_time(*args, **kwargs)

    def bulk(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        return lambda c: c.compute_time_by_period(*args, **kwargs)

    def metrics(*args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        return lambda c: c.metrics(*args, **kwargs)

    return [
        pytest.param(ct(-1, 2, "2024-05"), ValueError, id="negative-org"),
        pytest.param(ct(1, -2, "2024-05"), ValueError, id="negative-inner"),
        pytest.param(ct("1", 2, "2024-05"), TypeError, id="str-org"),
        pytest.param(ct(1.0, 2, "2024-05"), TypeError, id="float-org"),
        pytest.param(ct(1, None, "2024-05"), TypeError, id="none-inner"),
        pytest.param(ct(True, 2, "2024-05"), TypeError, id="bool-org"),
        pytest.param(ct(1, False, "2024-05"), TypeError, id="bool-inner"),
        pytest.param(ct(1, 2, "May 2024"), ValueError, id="bad-period"),
        pytest.param(ct(1, 2, "2024-06..2024-05"), ValueError, id="backwards-period"),
        pytest.param(ct(1, 2, "2024-05-17T10:00:00Z"), ValueError, id="instant-period"),
        pytest.param(ct(1, 2, 2024), TypeError, id="int-period"),
        pytest.param(bulk(1, 2, "2024", every="fortnight"), ValueError, id="bad-every"),
        pytest.param(bulk(-1, 2, "2024"), ValueError, id="bulk-negative-org"),
        pytest.param(bulk(1, 2, "nope"), ValueError, id="bulk-bad-period"),
        pytest.param(metrics(-1), ValueError, id="metrics-negative-org"),
        pytest.param(metrics("7"), TypeError, id="metrics-str-org"),
        pytest.param(metrics(True), TypeError, id="metrics-bool-org"),
        pytest.param(metrics(7, project_visibility="secret"), ValueError, id="bad-visibility"),
        pytest.param(metrics(7, project_visibility="PUBLIC"), ValueError, id="visibility-case"),
        pytest.param(metrics(7, exclude_edge_impulse_users=1), TypeError, id="int-exclude"),
        pytest.param(metrics(7, exclude_edge_impulse_users="true"), TypeError, id="str-exclude"),
    ]


BAD_CALLS = _bad_sync_calls()


class TestArguments:
    @pytest.mark.parametrize(("call", "error"), BAD_CALLS)
    def test_sync_rejects_before_any_request(
        self, call: Callable[[Client], Any], error: type[Exception]
    ) -> None:
        recorder = Recorder()
        with make_client(recorder) as client, pytest.raises(error):
            call(client)
        assert recorder.calls == 0

    @pytest.mark.parametrize(("call", "error"), BAD_CALLS)
    def test_async_rejects_before_any_request(
        self, call: Callable[[AsyncClient], Awaitable[Any]], error: type[Exception]
    ) -> None:
        recorder = Recorder()

        async def go() -> None:
            async with make_async_client(recorder) as client:
                await call(client)

        with pytest.raises(error):
            arun(go())
        assert recorder.calls == 0

    @pytest.mark.parametrize(
        ("concurrency", "error"), [(0, ValueError), (-1, ValueError), (True, TypeError)]
    )
    def test_async_bad_concurrency(self, concurrency: Any, error: type[Exception]) -> None:
        recorder = Recorder()

        async def go() -> None:
            async with make_async_client(recorder) as client:
                await client.compute_time_by_period(1, 2, "2024", concurrency=concurrency)

        with pytest.raises(error, match="concurrency"):
            arun(go())
        assert recorder.calls == 0

    def test_bulk_rejects_before_any_request(self) -> None:
        recorder = Recorder()
        with make_client(recorder) as client, pytest.raises(ValueError, match="inner_organization"):
            client.compute_time_by_period(1, -2, "2024")
        assert recorder.calls == 0

    @pytest.mark.parametrize("caller", CALLERS)
    def test_organization_zero_is_valid(self, caller: Callable[..., Any]) -> None:
        recorder = Recorder()
        if caller is sync_call:
            with make_client(recorder) as client:
                result = client.compute_time(0, 0, "2024-05")
        else:

            async def go() -> ComputeTime:
                async with make_async_client(recorder) as client:
                    return await client.compute_time(0, 0, "2024-05")

            result = arun(go())
        assert result.organization_id == 0
        assert result.inner_organization_id == 0
        path = recorder.requests[0].url.path
        assert path == "/v1/api/organizations/0/whitelabel/organizations/0/usage/computeTime"

    def test_metrics_for_organization_zero(self) -> None:
        recorder = Recorder(json_response(METRICS_BODY))
        with make_client(recorder) as client:
            assert client.metrics(0).organization_id == 0
        assert recorder.requests[0].url.path == "/v1/api/organizations/0/metrics"


# ==== wire format ===============================================================================


class TestWire:
    @pytest.mark.parametrize("caller", CALLERS)
    def test_dates_are_milliseconds_z_with_encoded_colons(self, caller: Callable[..., Any]) -> None:
        recorder = Recorder()
        caller(recorder)
        request = recorder.requests[0]
        assert request.method == "GET"
        assert request.url.path == CT_PATH
        assert request.url.query == (
            b"startDate=2024-05-01T00%3A00%3A00.000Z&endDate=2024-06-01T00%3A00%3A00.000Z"
        )

    def test_every_request_carries_its_own_ids_and_dates(self) -> None:
        # Routes are memoized per id pair and queries per period (4,096 and 1,024 entries):
        # more of each than the caches hold, and every request must still be its own.
        recorder = Recorder()
        first = datetime(2020, 1, 1, tzinfo=UTC)
        with make_client(recorder) as client:
            for i in range(4200):
                start = first + timedelta(days=i % 1100)
                client.compute_time(i % 7, 4200 - i, DateRange(start, start + timedelta(days=1)))
        for i, request in enumerate(recorder.requests):
            start = first + timedelta(days=i % 1100)
            end = start + timedelta(days=1)
            assert request.url.path == (
                f"/v1/api/organizations/{i % 7}/whitelabel/organizations/{4200 - i}"
                "/usage/computeTime"
            )
            assert request.url.params["startDate"] == start.strftime("%Y-%m-%dT00:00:00.000Z")
            assert request.url.params["endDate"] == end.strftime("%Y-%m-%dT00:00:00.000Z")

    def test_a_generated_operation_with_other_parameters_sends_only_the_dates(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A new spec slice adding an optional query parameter is compatible (issue 21): the new
        # parameter takes its server-side default. One without the dates is refused.
        def get_kwargs(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"method": "get", "url": "/x", "params": {"startDate": 1, "endDate": 2, "n": 3}}

        monkeypatch.setattr(calls_module._compute_time_op, "_get_kwargs", get_kwargs)
        assert calls_module.compute_time_route.__wrapped__(1, 2) == ("GET", "/x")

        def without_dates(*args: Any, **kwargs: Any) -> dict[str, Any]:
            return {"method": "get", "url": "/x", "params": {"from": 1, "n": 3}}

        monkeypatch.setattr(calls_module._compute_time_op, "_get_kwargs", without_dates)
        with pytest.raises(RuntimeError, match=r"\['from', 'n'\]"):
            calls_module.compute_time_route.__wrapped__(1, 2)

    def test_microseconds_are_truncated_to_milliseconds(self) -> None:
        recorder = Recorder()
        period = DateRange(
            datetime(2024, 5, 1, 12, 30, 15, 123999, UTC),
            datetime(2024, 5, 2, 0, 0, 0, 999, UTC),
        )
        with make_client(recorder) as client:
            result = client.compute_time(1, 2, period)
        assert result.period == period  # the result keeps the period asked for
        assert recorder.requests[0].url.query == (
            b"startDate=2024-05-01T12%3A30%3A15.123Z&endDate=2024-05-02T00%3A00%3A00.000Z"
        )

    def test_offset_datetimes_go_out_in_utc(self) -> None:
        recorder = Recorder()
        with make_client(recorder) as client:
            client.compute_time(1, 2, "2024-05-01T02:00:00.5+02:00..2024-05-01T03:00:00+02:00")
        assert recorder.requests[0].url.query == (
            b"startDate=2024-05-01T00%3A00%3A00.500Z&endDate=2024-05-01T01%3A00%3A00.000Z"
        )

    @pytest.mark.parametrize(
        ("kwargs", "query"),
        [
            ({}, b""),
            ({"exclude_edge_impulse_users": None, "project_visibility": None}, b""),
            ({"exclude_edge_impulse_users": True}, b"excludeEdgeImpulseUsers=true"),
            ({"exclude_edge_impulse_users": False}, b"excludeEdgeImpulseUsers=false"),
            ({"project_visibility": "public"}, b"projectVisibility=public"),
            ({"project_visibility": "private"}, b"projectVisibility=private"),
            (
                {"exclude_edge_impulse_users": True, "project_visibility": "public"},
                b"excludeEdgeImpulseUsers=true&projectVisibility=public",
            ),
        ],
    )
    @pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
    def test_metrics_query(self, kwargs: dict[str, Any], query: bytes, asynchronous: bool) -> None:
        recorder = Recorder(json_response(METRICS_BODY))
        if asynchronous:

            async def go() -> OrganizationMetrics:
                async with make_async_client(recorder) as client:
                    return await client.metrics(7, **kwargs)

            arun(go())
        else:
            with make_client(recorder) as client:
                client.metrics(7, **kwargs)
        request = recorder.requests[0]
        assert request.url.path == METRICS_PATH
        assert request.url.query == query
        assert ("?" in str(request.url)) == bool(query)

    @pytest.mark.parametrize("caller", CALLERS)
    def test_user_agent(self, caller: Callable[..., Any]) -> None:
        recorder = Recorder()
        caller(recorder)
        assert recorder.requests[0].headers["user-agent"] == f"ei-usage/{ei_usage.__version__}"
        assert ei_usage.__version__  # not empty

    def test_no_body_is_sent(self) -> None:
        recorder = Recorder()
        sync_call(recorder)
        assert recorder.requests[0].content == b""


# ==== errors ====================================================================================


STATUS_CLASSES = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (429, RateLimitError),
    (500, ServerError),
    (501, ServerError),
    (502, ServerError),
    (503, ServerError),
    (504, ServerError),
    (505, ServerError),
    (409, APIStatusError),
    (410, APIStatusError),
    (418, APIStatusError),
    (422, APIStatusError),
    (499, APIStatusError),
]


class TestErrors:
    @pytest.mark.parametrize("caller", CALLERS)
    @pytest.mark.parametrize("call", ["compute_time", "metrics"])
    def test_success_false_on_200_is_plain_api_error(
        self, caller: Callable[..., Any], call: str
    ) -> None:
        body = {"success": False, "error": "Organization is not a white label"}
        recorder = Recorder(json_response(body))
        error = catch(caller, recorder, call, max_retries=3)
        assert type(error) is APIError
        assert not isinstance(error, APIStatusError)
        assert error.message == "Organization is not a white label"
        assert "Organization is not a white label" in str(error)
        assert error.status_code == 200
        assert error.body == body
        assert recorder.calls == 1  # never retried
        assert error.request == RequestInfo(method="GET", url=str(recorder.requests[0].url))

    def test_success_false_without_message(self) -> None:
        error = catch(sync_call, Recorder(json_response({"success": False})))
        assert type(error) is APIError
        assert error.message  # a useful default, never empty

    @pytest.mark.parametrize("caller", CALLERS)
    def test_403_with_api_body(self, caller: Callable[..., Any]) -> None:
        body = {"success": False, "error": "msg"}
        error = catch(caller, Recorder(json_response(body, 403)))
        assert type(error) is PermissionDeniedError
        assert error.message == "msg"
        assert error.status_code == 403
        assert error.body == body

    @pytest.mark.parametrize(("status", "cls"), STATUS_CLASSES)
    @pytest.mark.parametrize("caller", CALLERS)
    def test_status_classes(
        self, caller: Callable[..., Any], status: int, cls: type[APIStatusError]
    ) -> None:
        body = {"success": False, "error": f"failed with {status}"}
        recorder = Recorder(json_response(body, status))
        error = catch(caller, recorder, max_retries=0)
        assert type(error) is cls
        assert isinstance(error, APIStatusError)
        assert isinstance(error, APIError)
        assert error.status_code == status
        assert error.message == f"failed with {status}"
        assert error.body == body
        assert error.request is not None
        assert error.request.method == "GET"
        assert error.request.url == f"https://studio.edgeimpulse.com{CT_PATH}?" + (
            "startDate=2024-05-01T00%3A00%3A00.000Z&endDate=2024-06-01T00%3A00%3A00.000Z"
        )
        assert str(error.request) in str(error)
        assert str(status) in str(error)
        assert recorder.calls == 1

    @pytest.mark.parametrize("caller", CALLERS)
    def test_redirect_is_not_followed(self, caller: Callable[..., Any]) -> None:
        recorder = Recorder(
            httpx.Response(302, headers={"location": "https://studio.edgeimpulse.com/v2/x"})
        )
        error = catch(caller, recorder, max_retries=3)
        assert type(error) is APIStatusError
        assert error.status_code == 302
        assert "redirect" in str(error)
        assert recorder.calls == 1

    @pytest.mark.parametrize("status", [301, 303, 307, 308])
    def test_other_redirects(self, status: int) -> None:
        recorder = Recorder(httpx.Response(status, headers={"location": "/elsewhere"}))
        error = catch(sync_call, recorder)
        assert type(error) is APIStatusError
        assert error.status_code == status
        assert recorder.calls == 1

    def test_request_info_has_method_and_url_only(self) -> None:
        assert [f.name for f in attrs.fields(RequestInfo)] == ["method", "url"]
        error = catch(sync_call, Recorder(json_response({}, 404)))
        assert error.request == RequestInfo(
            "GET",
            f"https://studio.edgeimpulse.com{CT_PATH}"
            "?startDate=2024-05-01T00%3A00%3A00.000Z&endDate=2024-06-01T00%3A00%3A00.000Z",
        )

    @pytest.mark.parametrize(
        ("response", "message"),
        [
            (json_response({"success": False, "error": "  padded  "}, 400), "padded"),
            (json_response({"error": "only error"}, 400), "only error"),
            (
                json_response({"success": False, "detail": "x"}, 400),
                '{"success":false,"detail":"x"}',
            ),
            (json_response({"success": False, "error": ""}, 400), '{"success":false,"error":""}'),
            (json_response({"success": False, "error": 5}, 400), '{"success":false,"error":5}'),
            (json_response([1, 2], 400), "[1,2]"),
            (
                httpx.Response(
                    502,
                    content=b"<html><head><title>502 Bad\n  Gateway</title></head>"
                    b"<body><h1>oops</h1></body></html>",
                ),
                "502 Bad Gateway",
            ),
            (
                httpx.Response(503, content=b"<html><body><h1>Down</h1> <p>for  maintenance</p>"),
                "Down for maintenance",
            ),
            (httpx.Response(500, content=b"plain text failure"), "plain text failure"),
            (httpx.Response(400, content=b""), "Bad Request"),
            (httpx.Response(404, content=b""), "Not Found"),
            (httpx.Response(503, content=b""), "Service Unavailable"),
            (httpx.Response(599, content=b""), "HTTP 599"),
        ],
    )
    def test_message(self, response: httpx.Response, message: str) -> None:
        error = catch(sync_call, Recorder(response), max_retries=0)
        assert error.message == message

    def test_long_html_is_truncated(self) -> None:
        page = "<html><body>" + "word " * 500 + "</body></html>"
        error = catch(
            sync_call, Recorder(httpx.Response(500, content=page.encode())), max_retries=0
        )
        assert error.message.startswith("word word")
        assert len(error.message) <= 200
        assert error.message.endswith("…")
        assert error.body == page

    def test_non_json_body_is_kept_as_text(self) -> None:
        error = catch(sync_call, Recorder(httpx.Response(400, content=b"nope")))
        assert error.body == "nope"

    @pytest.mark.parametrize(
        "exception",
        [
            httpx.ConnectError("connection refused"),
            httpx.ReadError("connection reset"),
            httpx.RemoteProtocolError("bad framing"),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_connection_errors(
        self, caller: Callable[..., Any], exception: httpx.RequestError
    ) -> None:
        recorder = Recorder(exception)
        error = catch(caller, recorder, max_retries=0)
        assert type(error) is APIConnectionError
        assert str(exception) in str(error)
        # httpx's exception holds the request, headers and credential included: never chained.
        assert error.__cause__ is None
        assert error.__context__ is None
        assert error.request is not None
        assert error.request.url == str(recorder.requests[0].url)
        assert recorder.calls == 1

    @pytest.mark.parametrize(
        "exception",
        [
            httpx.ReadTimeout("read timed out"),
            httpx.ConnectTimeout("connect timed out"),
            httpx.PoolTimeout("pool"),
            httpx.WriteTimeout("write"),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_timeouts(self, caller: Callable[..., Any], exception: httpx.TimeoutException) -> None:
        error = catch(caller, Recorder(exception), max_retries=0)
        assert type(error) is APITimeoutError
        assert isinstance(error, APIConnectionError)
        assert error.request is not None

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("120", timedelta(seconds=120)),
            ("0", timedelta(0)),
            (" 5 ", timedelta(seconds=5)),
            (None, None),
            ("soon", None),
            ("-5", None),
        ],
    )
    def test_rate_limit_retry_after(self, value: str | None, expected: timedelta | None) -> None:
        headers = {} if value is None else {"retry-after": value}
        response = json_response({"success": False, "error": "slow down"}, 429, **headers)
        error = catch(sync_call, Recorder(response), max_retries=0)
        assert type(error) is RateLimitError
        assert error.retry_after == expected
        assert error.message == "slow down"

    def test_rate_limit_retry_after_http_date(self) -> None:
        when = datetime.now(UTC) + timedelta(minutes=5)
        header = email.utils.format_datetime(when, usegmt=True)
        error = catch(sync_call, Recorder(json_response({}, 429, **{"retry-after": header})))
        assert type(error) is RateLimitError
        assert error.retry_after is not None
        assert timedelta(minutes=4) < error.retry_after <= timedelta(minutes=5)

    def test_rate_limit_retry_after_past_http_date_is_zero(self) -> None:
        header = "Wed, 21 Oct 2015 07:28:00 GMT"
        error = catch(
            sync_call, Recorder(json_response({}, 429, **{"retry-after": header})), max_retries=0
        )
        assert error.retry_after == timedelta(0)

    def test_server_error_carries_retry_after(self) -> None:
        response = json_response({}, 503, **{"retry-after": "90"})
        error = catch(sync_call, Recorder(response), max_retries=0)
        assert type(error) is ServerError
        assert error.retry_after == timedelta(seconds=90)


# ==== validation ================================================================================


def _raw(text: str) -> httpx.Response:
    return httpx.Response(200, content=text.encode())


def _metrics_raw(field: str, raw_value: str) -> httpx.Response:
    """A metrics body whose ``field`` holds ``raw_value`` verbatim (for NaN, Infinity...)."""
    metrics = {k: v for k, v in METRICS.items() if k != field}
    inner = json.dumps(metrics)[1:-1]
    return _raw(f'{{"success": true, "metrics": {{{inner}, "{field}": {raw_value}}}}}')


class TestValidation:
    @pytest.mark.parametrize(
        ("response", "field"),
        [
            (_raw("<html><title>Login</title></html>"), None),
            (_raw(""), None),
            (_raw("not json"), None),
            (_raw('{"success": true'), None),
            (_raw("[1, 2, 3]"), None),
            (_raw('"a string"'), None),
            (_raw("null"), None),
            (_raw("42"), None),
            (_raw("{}"), "success"),
            (_raw('{"success": "true"}'), "success"),
            (_raw('{"success": 1}'), "success"),
            (_raw('{"success": null}'), "success"),
        ],
    )
    @pytest.mark.parametrize("call", ["compute_time", "metrics"])
    def test_body_as_a_whole(self, response: httpx.Response, field: str | None, call: str) -> None:
        recorder = Recorder(response)
        error = catch(sync_call, recorder, call)
        assert type(error) is ResponseValidationError
        assert error.field == field
        assert error.status_code == 200
        if field is not None:
            assert field in str(error)
        assert recorder.calls == 1  # not retried

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (metrics_body(totalStorage=...), "metrics.totalStorage"),
            (metrics_body(totalStorage=None), "metrics.totalStorage"),
            (metrics_body(totalStorage="12"), "metrics.totalStorage"),
            (metrics_body(totalStorage=True), "metrics.totalStorage"),
            (metrics_body(totalStorage=[12]), "metrics.totalStorage"),
            (metrics_body(totalJobsComputeTime=...), "metrics.totalJobsComputeTime"),
            (metrics_body(totalJobsComputeTime=False), "metrics.totalJobsComputeTime"),
            (metrics_body(jobsComputeTimeCurrentYear="1"), "metrics.jobsComputeTimeCurrentYear"),
            (
                metrics_body(cpuComputeTimeCurrentContract=None),
                "metrics.cpuComputeTimeCurrentContract",
            ),
            (
                metrics_body(gpuComputeTimeCurrentContract={}),
                "metrics.gpuComputeTimeCurrentContract",
            ),
            (metrics_body(projectCount=1.5), "metrics.projectCount"),
            (metrics_body(projectCount="3"), "metrics.projectCount"),
            (metrics_body(projectCount=True), "metrics.projectCount"),
            (metrics_body(projectCount=...), "metrics.projectCount"),
            (metrics_body(userCount=None), "metrics.userCount"),
            (metrics_body(userCount=2.25), "metrics.userCount"),
            (
                metrics_body(jobsComputeTimeCurrentYearSince=...),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince=None),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince=1714521600),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="yesterday"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="2024-13-45T00:00:00Z"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="2024-05-01T00:00:00"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="2024-05-01"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="0001-01-01T00:00:00+01:00"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (
                metrics_body(jobsComputeTimeCurrentYearSince="9999-12-31T23:59:59-01:00"),
                "metrics.jobsComputeTimeCurrentYearSince",
            ),
            (metrics_body(totalJobsComputeTime=10**400), "metrics.totalJobsComputeTime"),
            (
                metrics_body(cpuComputeTimeCurrentContract=1e300),
                "metrics.cpuComputeTimeCurrentContract",
            ),
            ({"success": True}, "metrics"),
            ({"success": True, "metrics": None}, "metrics"),
            ({"success": True, "metrics": [METRICS]}, "metrics"),
            ({"success": True, "metrics": "{}"}, "metrics"),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_metrics_schema(
        self, caller: Callable[..., Any], body: dict[str, Any], field: str
    ) -> None:
        recorder = Recorder(json_response(body))
        error = catch(caller, recorder, "metrics", max_retries=3)
        assert type(error) is ResponseValidationError
        assert error.field == field
        assert field in str(error)
        assert error.body == body
        assert error.request is not None
        assert recorder.calls == 1  # not retried

    @pytest.mark.parametrize("field", list(METRICS))
    @pytest.mark.parametrize("raw_value", ["NaN", "Infinity", "-Infinity"])
    def test_metrics_non_finite(self, field: str, raw_value: str) -> None:
        error = catch(sync_call, Recorder(_metrics_raw(field, raw_value)), "metrics")
        assert type(error) is ResponseValidationError
        assert error.field == f"metrics.{field}"
        assert f"metrics.{field}" in str(error)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({**CT_BODY, "cpuComputeTime": "90"}, "cpuComputeTime"),
            ({**CT_BODY, "gpuComputeTime": None}, "gpuComputeTime"),
            ({**CT_BODY, "totalComputeTime": True}, "totalComputeTime"),
            ({**CT_BODY, "totalComputeTime": [2]}, "totalComputeTime"),
            ({**CT_BODY, "totalComputeTime": 1e300}, "totalComputeTime"),
            ({**CT_BODY, "cpuComputeTime": 10**400}, "cpuComputeTime"),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_compute_time_schema(
        self, caller: Callable[..., Any], body: dict[str, Any], field: str
    ) -> None:
        error = catch(caller, Recorder(json_response(body)))
        assert type(error) is ResponseValidationError
        assert error.field == field
        assert field in str(error)

    @pytest.mark.parametrize("raw_value", ["NaN", "Infinity", "-Infinity"])
    def test_compute_time_non_finite(self, raw_value: str) -> None:
        response = _raw(f'{{"success": true, "cpuComputeTime": {raw_value}}}')
        error = catch(sync_call, Recorder(response))
        assert type(error) is ResponseValidationError
        assert error.field == "cpuComputeTime"

    def test_deeply_nested_json(self) -> None:
        error = catch(sync_call, Recorder(_raw("[" * 100_000 + "]" * 100_000)), "metrics")
        assert type(error) is ResponseValidationError

    def test_huge_integers_are_accepted_where_they_fit(self) -> None:
        body = metrics_body(totalStorage=10**30, projectCount=10**400)
        result = sync_call(Recorder(json_response(body)), "metrics")
        assert result.total_storage_bytes == 10**30
        assert result.project_count == 10**400


# ---- property: a 200 answer is a result or an EdgeImpulseError, never anything else -----------

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
_json = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# Near the ends of datetime's range an offset can push the instant out of it in UTC.
_edge_datetimes = st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(
    min_value=datetime(9999, 12, 31)
)
_date_texts = st.one_of(
    st.datetimes(timezones=st.none() | _offsets).map(lambda d: d.isoformat()),
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), _edge_datetimes, _offsets),
    st.datetimes(timezones=_offsets).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.text(max_size=30),
)
_field_values = st.one_of(_json, _date_texts, st.sampled_from([0, 1, 2.5, -1, 1e308, 10**20]))


def _maybe_fields(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, _field_values))


_ct_shaped = st.builds(
    lambda success, fields: {"success": success, **fields},
    st.sampled_from([True, True, True, False, None, "true", 1]),
    _maybe_fields(["cpuComputeTime", "gpuComputeTime", "totalComputeTime", "error"]),
)
_metrics_shaped = st.builds(
    lambda success, metrics: {"success": success, "metrics": metrics},
    st.sampled_from([True, True, True, False, None]),
    _maybe_fields(list(METRICS)) | st.just(METRICS) | _json,
)
_bodies = st.one_of(
    _json.map(lambda v: json.dumps(v).encode()),
    st.one_of(_ct_shaped, _metrics_shaped).map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda changes: json.dumps(metrics_body(**changes)).encode(),
        st.dictionaries(st.sampled_from(list(METRICS)), _field_values, max_size=3),
    ),
    st.builds(
        lambda since: json.dumps(metrics_body(jobsComputeTimeCurrentYearSince=since)).encode(),
        _date_texts,
    ),
    st.binary(max_size=64),
)


class TestNeverAnythingElse:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=_bodies, call=st.sampled_from(["compute_time", "metrics"]))
    def test_sync(self, body: bytes, call: str) -> None:
        recorder = Recorder(httpx.Response(200, content=body))
        with make_client(recorder) as client:
            outcome: object
            try:
                if call == "metrics":
                    outcome = client.metrics(7)
                else:
                    outcome = client.compute_time(1, 2, "2024-05")
            except EdgeImpulseError as error:
                outcome = error
        assert recorder.calls == 1
        if isinstance(outcome, EdgeImpulseError):
            assert isinstance(outcome, APIError | ResponseValidationError)
            assert not isinstance(outcome, APIStatusError)
            assert str(outcome)
            assert repr(outcome)
        elif call == "metrics":
            assert isinstance(outcome, OrganizationMetrics)
            assert outcome.jobs_compute_time_current_year_since.tzinfo is UTC
            for count in (outcome.total_storage_bytes, outcome.project_count):
                assert type(count) is int
        else:
            assert isinstance(outcome, ComputeTime)
            assert outcome.to_dict("seconds")["unit"] == "seconds"

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=_bodies)
    def test_async(self, body: bytes) -> None:
        recorder = Recorder(httpx.Response(200, content=body))

        async def go() -> None:
            async with make_async_client(recorder) as client:
                for call in (client.metrics(7), client.compute_time(1, 2, "2024-05")):
                    outcome: object
                    try:
                        outcome = await call
                    except EdgeImpulseError as error:
                        outcome = error
                    assert isinstance(
                        outcome,
                        OrganizationMetrics | ComputeTime | APIError | ResponseValidationError,
                    )
                    assert not isinstance(outcome, APIStatusError)

        arun(go())


# ==== retries ===================================================================================

RETRIED_STATUSES = [500, 502, 503, 504]  # 429: TestThrottles
RETRIED_EXCEPTIONS = [
    httpx.ConnectError("refused"),
    httpx.ReadError("reset"),
    httpx.ReadTimeout("slow"),
    httpx.ConnectTimeout("slow connect"),
]
DEFAULT_BOUNDS = [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (4.0, 8.0)]


def _within(waits: list[float], bounds: list[tuple[float, float]]) -> bool:
    return len(waits) == len(bounds) and all(
        lo <= w <= hi for w, (lo, hi) in zip(waits, bounds, strict=True)
    )


class TestRetries:
    @pytest.mark.parametrize("status", RETRIED_STATUSES)
    @pytest.mark.parametrize("caller", CALLERS)
    def test_retryable_status_is_tried_max_retries_more_times(
        self, caller: Callable[..., Any], status: int, sleeps: list[float]
    ) -> None:
        body = {"success": False, "error": f"status {status}"}
        recorder = Recorder(json_response(body, status))
        error = catch(caller, recorder)  # default max_retries=3
        assert recorder.calls == 4
        assert error.status_code == status
        assert error.message == f"status {status}"
        assert _within(sleeps, DEFAULT_BOUNDS[:3]), sleeps

    @pytest.mark.parametrize("exception", RETRIED_EXCEPTIONS)
    @pytest.mark.parametrize("caller", CALLERS)
    def test_connection_errors_and_timeouts_are_retried(
        self, caller: Callable[..., Any], exception: httpx.RequestError, sleeps: list[float]
    ) -> None:
        recorder = Recorder(exception)
        error = catch(caller, recorder, max_retries=2)
        assert recorder.calls == 3
        expected = (
            APITimeoutError
            if isinstance(exception, httpx.TimeoutException)
            else (APIConnectionError)
        )
        assert type(error) is expected
        assert _within(sleeps, DEFAULT_BOUNDS[:2]), sleeps

    @pytest.mark.parametrize("caller", CALLERS)
    def test_last_error_is_raised(self, caller: Callable[..., Any], sleeps: list[float]) -> None:
        recorder = Recorder(
            json_response({"success": False, "error": "first"}, 503),
            httpx.ConnectError("second"),
            json_response({"success": False, "error": "third"}, 502),
        )
        error = catch(caller, recorder, max_retries=2)
        assert type(error) is ServerError
        assert error.status_code == 502
        assert error.message == "third"
        assert len(sleeps) == 2

    @pytest.mark.parametrize("max_retries", [0, 1, 5])
    @pytest.mark.parametrize("caller", CALLERS)
    def test_max_retries(
        self, caller: Callable[..., Any], max_retries: int, sleeps: list[float]
    ) -> None:
        recorder = Recorder(json_response({}, 503))
        catch(caller, recorder, max_retries=max_retries)
        assert recorder.calls == max_retries + 1
        assert len(sleeps) == max_retries
        assert _within(sleeps, DEFAULT_BOUNDS[:max_retries])

    def test_backoff_is_capped_near_8_seconds(self, sleeps: list[float]) -> None:
        recorder = Recorder(json_response({}, 500))
        catch(sync_call, recorder, max_retries=8)
        assert recorder.calls == 9
        assert len(sleeps) == 8
        assert all(w <= 8.0 for w in sleeps)
        assert _within(sleeps, [*DEFAULT_BOUNDS[:5], (4.0, 8.0), (4.0, 8.0), (4.0, 8.0)]), sleeps

    def test_waits_are_jittered(self, sleeps: list[float]) -> None:
        for _ in range(5):
            catch(sync_call, Recorder(json_response({}, 503)), max_retries=1)
        assert len(sleeps) == 5
        assert len(set(sleeps)) > 1

    def test_retry_after_on_503_is_honoured(self, sleeps: list[float]) -> None:
        recorder = Recorder(json_response({}, 503, **{"retry-after": "12"}), json_response(CT_BODY))
        assert isinstance(sync_call(recorder), ComputeTime)
        assert sleeps == [12.0]

    @pytest.mark.parametrize("header", ["61", "3600"])
    @pytest.mark.parametrize("caller", CALLERS)
    def test_retry_after_over_60_seconds_raises_at_once(
        self, caller: Callable[..., Any], header: str, sleeps: list[float]
    ) -> None:
        recorder = Recorder(
            json_response({"success": False, "error": "later"}, 429, **{"retry-after": header})
        )
        error = catch(caller, recorder, max_retries=3)
        assert type(error) is RateLimitError
        assert error.retry_after == timedelta(seconds=int(header))
        assert recorder.calls == 1
        assert sleeps == []

    def test_retry_after_http_date_far_ahead_raises_at_once(self, sleeps: list[float]) -> None:
        when = datetime.now(UTC) + timedelta(minutes=10)
        header = email.utils.format_datetime(when, usegmt=True)
        recorder = Recorder(json_response({}, 429, **{"retry-after": header}))
        error = catch(sync_call, recorder)
        assert type(error) is RateLimitError
        assert error.retry_after is not None
        assert timedelta(minutes=9) < error.retry_after <= timedelta(minutes=10)
        assert recorder.calls == 1
        assert sleeps == []

    @pytest.mark.parametrize(
        "response",
        [
            json_response({"success": False, "error": "bad"}, 400),
            json_response({"success": False, "error": "who"}, 401),
            json_response({"success": False, "error": "no"}, 403),
            json_response({"success": False, "error": "gone"}, 404),
            json_response({"success": False, "error": "conflict"}, 409),
            json_response({"success": False, "error": "not implemented"}, 501),
            json_response({"success": False, "error": "version"}, 505),
            json_response({"success": False, "error": "refused"}, 200),
            httpx.Response(200, content=b"<html>not json</html>"),
            json_response({"success": True, "metrics": None}),
            httpx.Response(302, headers={"location": "https://studio.edgeimpulse.com/"}),
        ],
    )
    @pytest.mark.parametrize("caller", CALLERS)
    def test_not_retried(
        self, caller: Callable[..., Any], response: httpx.Response, sleeps: list[float]
    ) -> None:
        recorder = Recorder(response, json_response(METRICS_BODY))
        catch(caller, recorder, "metrics", max_retries=3)
        assert recorder.calls == 1
        assert sleeps == []

    def test_retry_reuses_the_same_request(self, sleeps: list[float]) -> None:
        recorder = Recorder(httpx.ConnectError("x"), json_response(CT_BODY))
        sync_call(recorder)
        first, second = recorder.requests
        assert first.url == second.url
        assert first.headers["x-api-key"] == second.headers["x-api-key"] == KEY

    @pytest.mark.parametrize("caller", CALLERS)
    def test_retries_are_logged(
        self, caller: Callable[..., Any], sleeps: list[float], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        recorder = Recorder(json_response({"success": False, "error": "busy"}, 503))
        catch(caller, recorder, max_retries=2)
        records = [r for r in caplog.records if r.name == "ei_usage"]
        assert len(records) == 2
        assert all(r.levelno == logging.WARNING for r in records)
        assert "busy" in records[0].getMessage()
        assert "1/2" in records[0].getMessage()
        assert "2/2" in records[1].getMessage()

    def test_no_retry_no_warning(
        self, sleeps: list[float], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        sync_call(Recorder())
        catch(sync_call, Recorder(json_response({}, 404)))
        records = [r for r in caplog.records if r.name == "ei_usage"]
        # Only the DEBUG timing of the success: no warning, and no credential.
        assert [r.levelno for r in records] == [logging.DEBUG]
        assert re.fullmatch(
            r"GET https://\S+/usage/computeTime\?\S+ -> 200 in [0-9.]+ ms", records[0].getMessage()
        )


class TestThrottles:
    """429s: retried on their own budget, paced by the client-wide rate control, no backoff."""

    @pytest.mark.parametrize("caller", CALLERS)
    def test_429_is_retried_on_its_own_budget(
        self, caller: Callable[..., Any], sleeps: list[float], paces: list[float]
    ) -> None:
        recorder = Recorder(json_response({"success": False, "error": "slow down"}, 429))
        error = catch(caller, recorder)  # default max_retries=3
        assert type(error) is RateLimitError
        assert recorder.calls == 1 + client_module.THROTTLE_RETRIES
        assert sleeps == []  # no backoff: the rate control spaces the retries

    @pytest.mark.parametrize("caller", CALLERS)
    def test_no_retries_means_no_429_retries_either(
        self, caller: Callable[..., Any], paces: list[float]
    ) -> None:
        recorder = Recorder(json_response({}, 429), json_response(CT_BODY))
        catch(caller, recorder, max_retries=0)
        assert recorder.calls == 1

    @pytest.mark.parametrize("caller", CALLERS)
    def test_429_then_200_returns_the_result(
        self, caller: Callable[..., Any], sleeps: list[float], paces: list[float]
    ) -> None:
        recorder = Recorder(json_response({"success": False}, 429), json_response(CT_BODY))
        result = caller(recorder)
        assert isinstance(result, ComputeTime)
        assert result.total == timedelta(minutes=2)
        assert recorder.calls == 2
        assert sleeps == []

    @pytest.mark.parametrize(("header", "wait"), [("7", 7.0), ("0", 0.0), ("60", 60.0)])
    @pytest.mark.parametrize("caller", CALLERS)
    def test_retry_after_pauses_the_client(
        self,
        caller: Callable[..., Any],
        header: str,
        wait: float,
        sleeps: list[float],
        paces: list[float],
    ) -> None:
        recorder = Recorder(
            json_response({}, 429, **{"retry-after": header}), json_response(CT_BODY)
        )
        assert isinstance(caller(recorder), ComputeTime)
        assert sleeps == []
        assert recorder.calls == 2
        assert sum(paces) == pytest.approx(wait, abs=0.01)
        assert all(p <= 0.5 for p in paces)  # in short steps: a stopping report notices

    @pytest.mark.parametrize("caller", CALLERS)
    def test_retry_after_http_date_pauses_the_client(
        self, caller: Callable[..., Any], paces: list[float]
    ) -> None:
        when = datetime.now(UTC) + timedelta(seconds=30)
        header = email.utils.format_datetime(when, usegmt=True)
        recorder = Recorder(
            json_response({}, 429, **{"retry-after": header}), json_response(CT_BODY)
        )
        assert isinstance(caller(recorder), ComputeTime)
        assert 27.0 <= sum(paces) <= 30.5

    def test_a_pause_holds_every_request_of_the_client(self, paces: list[float]) -> None:
        # One 429 with Retry-After: 5, then the other requests of the same client wait too.
        answers = [json_response({}, 429, **{"retry-after": "5"})]
        answers += [json_response(CT_BODY)] * 4
        recorder = Recorder(*answers)
        with make_client(recorder) as client:
            client.compute_time(1, 2, "2024-05")
            waited_first = sum(paces)
            client.compute_time(1, 2, "2024-06")
        assert waited_first == pytest.approx(5.0, abs=0.01)
        stats = client.rate_stats()
        assert stats.throttles == 1
        # A 429 before any other answer measured no rate: the pause, and no lasting pace (before
        # issue 22, the 0.1 req/s floor, then a slow start).
        assert stats.rate_per_second is None

    def test_without_429_there_is_no_pacing(self, paces: list[float]) -> None:
        with make_client(Recorder(json_response(CT_BODY))) as client:
            for month in range(1, 13):
                client.compute_time(1, 2, f"2024-{month:02d}")
            assert client.rate_stats().rate_per_second is None
        assert paces == []

    def test_max_rate_paces_from_the_start(self, paces: list[float]) -> None:
        with make_client(Recorder(json_response(CT_BODY)), max_rate=2.0) as client:
            for month in range(1, 7):
                client.compute_time(1, 2, f"2024-{month:02d}")
            assert client.rate_stats().rate_per_second == 2.0
        assert sum(paces) >= 2.0  # six requests at 2 per second, the first ones free

    def test_bad_rate_arguments(self) -> None:
        with pytest.raises(ValueError, match="max_rate"):
            Client(KEY, max_rate=0)
        with pytest.raises(TypeError, match="adaptive_rate"):
            Client(KEY, adaptive_rate="yes")  # type: ignore[arg-type]

    def test_bulk_retries_each_piece(self, sleeps: list[float], paces: list[float]) -> None:
        answers: dict[str, int] = {}

        async def handler(request: httpx.Request) -> httpx.Response:
            start = _start_of(request)
            answers[start] = answers.get(start, 0) + 1
            if answers[start] == 1:
                return json_response({}, 429)
            return json_response(CT_BODY)

        async def go() -> list[ComputeTime]:
            async with AsyncClient(KEY, transport=httpx.MockTransport(handler)) as client:
                return await client.compute_time_by_period(1, 2, "2024-Q1")

        assert len(arun(go())) == 3
        assert sorted(answers.values()) == [2, 2, 2]
        assert sleeps == []

    def test_throttles_are_logged_once_per_rate_cut(
        self, paces: list[float], caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.INFO, logger="ei_usage")
        recorder = Recorder(
            json_response({"success": False, "error": "slow"}, 429), json_response(CT_BODY)
        )
        sync_call(recorder)
        messages = [r.getMessage() for r in caplog.records if r.name == "ei_usage"]
        assert any("the server is rate limiting" in m for m in messages)
        assert any("retrying when the rate allows" in m for m in messages)
        assert not any(KEY in m for m in messages)


class TestRetryPolicy:
    @staticmethod
    def server_error(status: int = 503, retry_after: float | None = None) -> ServerError:
        wait = None if retry_after is None else timedelta(seconds=retry_after)
        return ServerError("x", status, retry_after=wait)

    @pytest.mark.parametrize(
        ("jitter", "expected"),
        [
            (0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]),
            (0.5, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0, 6.0]),
            (0.999, [0.49975, 0.9995, 1.999, 3.998, 7.996, 7.996, 7.996]),
        ],
    )
    def test_exponential_backoff_with_equal_jitter(
        self, jitter: float, expected: list[float]
    ) -> None:
        policy = RetryPolicy(max_retries=10, jitter=lambda: jitter)
        waits = [policy.delay(n, self.server_error()) for n in range(7)]
        assert waits == pytest.approx(expected)

    def test_defaults(self) -> None:
        policy = RetryPolicy()
        assert (policy.max_retries, policy.initial, policy.maximum) == (3, 0.5, 8.0)
        assert policy.max_retry_after == 60.0
        for n, (lo, hi) in enumerate(DEFAULT_BOUNDS[:3]):
            for _ in range(20):
                wait = policy.delay(n, APIConnectionError("x"))
                assert wait is not None
                assert lo <= wait <= hi
        assert policy.delay(3, APIConnectionError("x")) is None

    def test_custom_initial_and_maximum(self) -> None:
        policy = RetryPolicy(max_retries=5, initial=1.0, maximum=3.0, jitter=lambda: 0.0)
        waits = [policy.delay(n, APIConnectionError("x")) for n in range(5)]
        assert waits == [0.5, 1.0, 1.5, 1.5, 1.5]

    @pytest.mark.parametrize("max_retries", [0, 1, 3])
    def test_gives_up_after_max_retries(self, max_retries: int) -> None:
        policy = RetryPolicy(max_retries=max_retries, jitter=lambda: 0.0)
        for n in range(max_retries):
            assert policy.delay(n, self.server_error()) is not None
        assert policy.delay(max_retries, self.server_error()) is None
        assert policy.delay(max_retries + 1, self.server_error()) is None

    @pytest.mark.parametrize(
        ("retry_after", "expected"), [(0, 0.0), (1.5, 1.5), (59, 59.0), (60, 60.0), (60.5, None)]
    )
    def test_retry_after(self, retry_after: float, expected: float | None) -> None:
        policy = RetryPolicy(jitter=lambda: 0.0)
        limited = RateLimitError("x", 429, retry_after=timedelta(seconds=retry_after))
        assert policy.delay(0, limited) == expected
        assert policy.delay(2, self.server_error(503, retry_after)) == expected
        assert policy.delay(3, limited) is None  # out of retries anyway

    def test_retry_after_limit_is_configurable(self) -> None:
        policy = RetryPolicy(max_retry_after=5.0, jitter=lambda: 0.0)
        assert policy.delay(0, RateLimitError("x", 429, retry_after=timedelta(seconds=5))) == 5.0
        assert policy.delay(0, RateLimitError("x", 429, retry_after=timedelta(seconds=6))) is None

    @pytest.mark.parametrize(
        ("error", "retryable"),
        [
            (RateLimitError("x", 429), True),
            (ServerError("x", 500), True),
            (ServerError("x", 502), True),
            (ServerError("x", 503), True),
            (ServerError("x", 504), True),
            (ServerError("x", 501), False),
            (ServerError("x", 505), False),
            (APIConnectionError("x"), True),
            (APITimeoutError("x"), True),
            (BadRequestError("x", 400), False),
            (AuthenticationError("x", 401), False),
            (PermissionDeniedError("x", 403), False),
            (NotFoundError("x", 404), False),
            (APIStatusError("x", 302), False),
            (APIError("x", 200), False),
            (ResponseValidationError("x"), False),
        ],
    )
    def test_retryable(self, error: EdgeImpulseError, retryable: bool) -> None:
        policy = RetryPolicy(jitter=lambda: 0.0)
        assert RetryPolicy.retryable(error) is retryable
        assert (policy.delay(0, error) is not None) is retryable


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.booleans(), st.text(max_size=30)),
        max_size=4,
    )
)
def test_query_encoding_matches_the_standard_library(params: dict[str, str | bool]) -> None:
    from urllib.parse import quote, urlencode

    from ei_usage._calls import _query

    as_text = {
        k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in params.items()
    }
    assert _query(params) == urlencode(as_text, quote_via=quote, safe="")
