from __future__ import annotations

import inspect
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta

import pytest

import ei_usage
from ei_usage import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    EdgeImpulseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestInfo,
    ResponseValidationError,
    ServerError,
    _errors,
)
from ei_usage._errors import status_error_class

REQUEST = RequestInfo("GET", "https://studio.edgeimpulse.com/v1/api/organizations/1/metrics")


def test_the_tree_matches_its_drawing() -> None:
    parents = {
        APIError: EdgeImpulseError,
        APIStatusError: APIError,
        BadRequestError: APIStatusError,
        AuthenticationError: APIStatusError,
        PermissionDeniedError: APIStatusError,
        NotFoundError: APIStatusError,
        RateLimitError: APIStatusError,
        ServerError: APIStatusError,
        APIConnectionError: EdgeImpulseError,
        APITimeoutError: APIConnectionError,
        ResponseValidationError: EdgeImpulseError,
    }
    drawing = inspect.getdoc(_errors) or ""
    for cls, parent in parents.items():
        assert issubclass(cls, parent)
        assert cls.__name__ in drawing
        assert getattr(ei_usage, cls.__name__) is cls
    assert issubclass(EdgeImpulseError, Exception)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, APIStatusError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (599, ServerError),
        (302, APIStatusError),
    ],
)
def test_status_mapping(status: int, cls: type[APIStatusError]) -> None:
    assert status_error_class(status) is cls


def test_api_error_carries_status_body_and_request() -> None:
    body = {"success": False, "error": "Organization not found"}
    error = NotFoundError("Organization not found", 404, body, request=REQUEST)
    assert (error.message, error.status_code, error.body, error.request) == (
        "Organization not found",
        404,
        body,
        REQUEST,
    )
    assert str(error) == f"404: Organization not found (GET {REQUEST.url})"
    assert repr(error) == "NotFoundError(message='Organization not found', status_code=404)"
    assert error.args == ("Organization not found",)


def test_retry_after_is_kept() -> None:
    error = RateLimitError("slow down", 429, None, retry_after=timedelta(seconds=3))
    assert error.retry_after == timedelta(seconds=3)
    assert ServerError("down", 503).retry_after is None


def test_validation_error_names_the_field() -> None:
    error = ResponseValidationError("bad", field="metrics.totalStorage", request=REQUEST)
    assert error.field == "metrics.totalStorage"
    assert error.status_code == 200
    assert str(error).startswith("bad (GET ")


def test_connection_errors_without_a_request() -> None:
    assert str(APITimeoutError("no answer in time")) == "no answer in time"
    assert isinstance(APITimeoutError("x"), APIConnectionError)


# ---- pickling (a process pool sends exceptions between processes) ----------------------------

_EXAMPLES = [
    EdgeImpulseError("boom", request=REQUEST),
    APIError("refused", 200, {"success": False, "error": "refused"}, request=REQUEST),
    APIStatusError("teapot", 418, "short and stout", request=REQUEST),
    BadRequestError("bad", 400),
    AuthenticationError("who", 401),
    PermissionDeniedError("no", 403),
    NotFoundError("x", 404),
    RateLimitError("slow", 429, None, request=REQUEST, retry_after=timedelta(seconds=7)),
    ServerError("down", 503, retry_after=None),
    APIConnectionError("refused", request=REQUEST, transient=False),
    APITimeoutError("slow", request=REQUEST),
    ResponseValidationError("bad", field="metrics.userCount", status_code=200, body={"a": 1}),
    ei_usage.ResponseTooLargeError("big", limit_bytes=1024, request=REQUEST),
]


def _state(error: BaseException) -> tuple[object, ...]:
    return (type(error), error.args, str(error), repr(error), vars(error))


@pytest.mark.parametrize("error", _EXAMPLES, ids=lambda e: type(e).__name__)
def test_every_exception_survives_pickle(error: EdgeImpulseError) -> None:
    # pickle.loads(pickle.dumps(NotFoundError("x", 404))) failed: pickle called cls(*args).
    copy = pickle.loads(pickle.dumps(error))
    assert _state(copy) == _state(error)


def test_report_errors_survive_pickle() -> None:
    from ei_usage import DateRange, Report, ReportFailure, ReportInterrupted

    period = DateRange.month(2024, 5)
    failure = NotFoundError("x", 404, request=REQUEST)
    error = ei_usage.ReportError("1 of 2 failed", [(3, period, failure)])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.failures[0][:2] == (3, period)
    assert _state(copy.failures[0][2]) == _state(failure)
    report = Report(1, (3,), period, "month", (), (ReportFailure(3, period, failure),))
    interrupted = pickle.loads(pickle.dumps(ReportInterrupted(report)))
    assert isinstance(interrupted, KeyboardInterrupt)
    assert interrupted.report.errors[0].inner_organization_id == 3


def _raise_not_found() -> None:
    raise NotFoundError("Organization 5 not found", 404, request=REQUEST)


def test_a_404_in_a_process_pool_arrives_as_itself() -> None:
    # Before, the worker's exception could not be unpickled: BrokenProcessPool.
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=1, mp_context=context) as pool,
        pytest.raises(NotFoundError) as info,
    ):
        pool.submit(_raise_not_found).result(timeout=60)
    assert info.value.status_code == 404
    assert info.value.request == REQUEST


def test_the_tree_drawing_names_the_new_exceptions() -> None:
    drawing = inspect.getdoc(_errors) or ""
    assert "ResponseTooLargeError" in drawing
    assert "ReportInterrupted" in drawing
    assert issubclass(ei_usage.ResponseTooLargeError, ResponseValidationError)
    assert issubclass(ei_usage.ReportInterrupted, KeyboardInterrupt)
    assert not issubclass(ei_usage.ReportInterrupted, Exception)
