from __future__ import annotations

import inspect
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
