"""From an HTTP answer to a result or an exception: wire JSON -> generated model -> result.

The generated models trust their input: a missing field is a bare ``KeyError``, a null or a string
where a number belongs passes straight through. So every field is checked here first, against the
vendored spec's schema, and a failure names the field. Extra fields are accepted (the API may add
some). The generated model is then only a carrier; the result is ei-usage's own frozen class.
"""

from __future__ import annotations

import json
import math
import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NoReturn

from edge_impulse_api_client.models.admin_get_organization_compute_time_usage_response import (
    AdminGetOrganizationComputeTimeUsageResponse,
)
from edge_impulse_api_client.models.organization_metrics_response import (
    OrganizationMetricsResponse,
)
from edge_impulse_api_client.types import UNSET

from ._dates import to_utc
from ._errors import APIError, RateLimitError, ResponseValidationError, ServerError
from ._errors import status_error_class as _status_error_class
from ._models import ComputeTime, OrganizationMetrics, ProjectVisibility
from ._retry import parse_retry_after
from ._units import minutes, seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime, timedelta

    from ._dates import DateRange
    from ._errors import RequestInfo

_SUMMARY_LENGTH = 200
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _decode(content: bytes) -> tuple[bool, Any]:
    """Return ``(is_json, value)``: the decoded JSON, or the text when it is not JSON."""
    text = content.decode("utf-8", errors="replace")
    try:
        return True, json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return False, text


def summarize(body: object, status_code: int) -> str:
    """Return a short, single-line description of a body that carried no ``error`` text."""
    if isinstance(body, str):
        title = _TITLE.search(body)
        text = title.group(1) if title else _TAG.sub(" ", body)
    elif body is None:
        text = ""
    else:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    text = " ".join(text.split())
    if len(text) > _SUMMARY_LENGTH:
        text = text[: _SUMMARY_LENGTH - 1] + "…"
    if text:
        return text
    try:
        return HTTPStatus(status_code).phrase or f"HTTP {status_code}"
    except ValueError:
        return f"HTTP {status_code}"


def _api_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error.strip():
            return error.strip()
    return None


def check_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    request: RequestInfo,
) -> dict[str, Any]:
    """Return the JSON object of a successful answer, or raise what the answer means.

    Raises:
        APIError: a 2xx body with ``"success": false``.
        APIStatusError: any non-2xx status (the subclass matches the status).
        ResponseValidationError: a 2xx body that is not a JSON object with a boolean ``success``.
    """
    is_json, body = _decode(content) if content else (False, None)
    if not 200 <= status_code < 300:
        message = _api_message(body) or summarize(body, status_code)
        if 300 <= status_code < 400:
            message += " (redirect not followed: check base_url)"
        cls = _status_error_class(status_code)
        if issubclass(cls, RateLimitError | ServerError):
            raise cls(
                message,
                status_code,
                body,
                request=request,
                retry_after=parse_retry_after(headers.get("retry-after")),
            )
        raise cls(message, status_code, body, request=request)
    if not is_json:
        raise ResponseValidationError(
            f"response body is not JSON: {summarize(body, status_code)}",
            status_code=status_code,
            body=body,
            request=request,
        )
    if not isinstance(body, dict):
        raise ResponseValidationError(
            f"response body is a JSON {_json_type(body)}, expected an object",
            status_code=status_code,
            body=body,
            request=request,
        )
    success = body.get("success")
    if success is False:
        raise APIError(
            _api_message(body) or "the API answered success: false without an error message",
            status_code,
            body,
            request=request,
        )
    if success is not True:
        _invalid(body, "success", "a boolean", request, status_code)
    return body


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _invalid(
    body: Mapping[str, Any],
    path: str,
    expected: str,
    request: RequestInfo,
    status_code: int = 200,
    *,
    container: Mapping[str, Any] | None = None,
) -> NoReturn:
    where = body if container is None else container
    key = path.rsplit(".", 1)[-1]
    if key not in where:
        problem = "is missing"
    else:
        value = where[key]
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
        problem = f"is {_json_type(value)} {shown}" if value is not None else "is null"
    raise ResponseValidationError(
        f"response field {path} {problem}, expected {expected}",
        field=path,
        status_code=status_code,
        body=dict(body),
        request=request,
    )


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    # An int is always finite; math.isfinite would raise OverflowError on one beyond float range.
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_integer(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _check(
    body: Mapping[str, Any],
    container: Mapping[str, Any],
    prefix: str,
    fields: Mapping[str, tuple[Callable[[object], bool], str]],
    required: frozenset[str],
    request: RequestInfo,
) -> None:
    for key, (ok, expected) in fields.items():
        if key not in container:
            if key in required:
                _invalid(body, prefix + key, expected, request, container=container)
            continue
        if not ok(container[key]):
            _invalid(body, prefix + key, expected, request, container=container)


_NUMBER = (_is_number, "a finite number")
_INTEGER = (_is_integer, "an integer")


_STRING = (lambda v: isinstance(v, str), "a date-time string")


_NONE_REQUIRED: frozenset[str] = frozenset()
_COMPUTE_TIME_FIELDS = {
    "cpuComputeTime": _NUMBER,
    "gpuComputeTime": _NUMBER,
    "totalComputeTime": _NUMBER,
}


def _schema_error(body: Mapping[str, Any], error: Exception, request: RequestInfo) -> NoReturn:
    # Reached only if the checks above missed a case the generated model trips over.
    raise ResponseValidationError(
        f"response does not match the schema: {type(error).__name__}: {error}",
        body=dict(body),
        request=request,
    ) from error


def compute_time(
    body: Mapping[str, Any],
    request: RequestInfo,
    *,
    organization_id: int,
    inner_organization_id: int,
    period: DateRange,
) -> ComputeTime:
    """Convert a checked ``AdminGetOrganizationComputeTimeUsageResponse`` body to a result.

    Raises:
        ResponseValidationError: a field is null or of the wrong type (all three are optional in
            the spec, so a missing one becomes None).
    """
    _check(body, body, "", _COMPUTE_TIME_FIELDS, _NONE_REQUIRED, request)
    try:
        model = AdminGetOrganizationComputeTimeUsageResponse.from_dict(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        _schema_error(body, error, request)
    # Each field was checked above: a number, or UNSET when the API left it out.
    cpu, gpu, total = model.cpu_compute_time, model.gpu_compute_time, model.total_compute_time
    return ComputeTime(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        period=period,
        cpu=None if cpu is UNSET else _duration(body, "cpuComputeTime", cpu, seconds, request),
        gpu=None if gpu is UNSET else _duration(body, "gpuComputeTime", gpu, seconds, request),
        total=None
        if total is UNSET
        else _duration(body, "totalComputeTime", total, minutes, request),
    )


def _duration(
    body: Mapping[str, Any],
    path: str,
    value: object,
    convert: Callable[[float], timedelta],
    request: RequestInfo,
) -> timedelta:
    try:
        return convert(value)  # type: ignore[arg-type]
    except (ValueError, OverflowError) as error:  # OverflowError: an int beyond float range
        raise ResponseValidationError(
            f"response field {path} {error}", field=path, body=dict(body), request=request
        ) from error


_METRIC_FIELDS = {
    "totalJobsComputeTime": _NUMBER,
    "jobsComputeTimeCurrentYear": _NUMBER,
    "jobsComputeTimeCurrentYearSince": _STRING,
    "cpuComputeTimeCurrentContract": _NUMBER,
    "gpuComputeTimeCurrentContract": _NUMBER,
    "totalStorage": _NUMBER,
    "projectCount": _INTEGER,
    "userCount": _INTEGER,
}


def _utc(value: datetime, body: Mapping[str, Any], request: RequestInfo) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        _invalid(
            body,
            "metrics.jobsComputeTimeCurrentYearSince",
            "a date-time with a UTC offset",
            request,
            container=body["metrics"],
        )
    try:
        return to_utc(value)
    except ValueError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        _invalid(
            body,
            "metrics.jobsComputeTimeCurrentYearSince",
            "a date-time within years 1 to 9999 in UTC",
            request,
            container=body["metrics"],
        )


def organization_metrics(
    body: Mapping[str, Any],
    request: RequestInfo,
    *,
    organization_id: int,
    exclude_edge_impulse_users: bool | None,
    project_visibility: ProjectVisibility | None,
) -> OrganizationMetrics:
    """Convert a checked ``OrganizationMetricsResponse`` body to a result.

    Raises:
        ResponseValidationError: ``metrics`` or one of its (all required) fields is missing, null,
            of the wrong type, or an unparseable date-time.
    """
    metrics = body.get("metrics")
    if not isinstance(metrics, dict):
        _invalid(body, "metrics", "an object", request)
    _check(body, metrics, "metrics.", _METRIC_FIELDS, frozenset(_METRIC_FIELDS), request)
    try:
        model = OrganizationMetricsResponse.from_dict(body)
    except ValueError:
        # isoparse is the only parser in the generated model that raises ValueError.
        _invalid(
            body,
            "metrics.jobsComputeTimeCurrentYearSince",
            "an ISO-8601 date-time",
            request,
            container=metrics,
        )
    except (KeyError, TypeError, AttributeError, OverflowError) as error:
        _schema_error(body, error, request)
    m = model.metrics
    return OrganizationMetrics(
        organization_id=organization_id,
        total_jobs_compute_time=_duration(
            body, "metrics.totalJobsComputeTime", m.total_jobs_compute_time, minutes, request
        ),
        jobs_compute_time_current_year=_duration(
            body,
            "metrics.jobsComputeTimeCurrentYear",
            m.jobs_compute_time_current_year,
            minutes,
            request,
        ),
        jobs_compute_time_current_year_since=_utc(
            m.jobs_compute_time_current_year_since, body, request
        ),
        cpu_compute_time_current_contract=_duration(
            body,
            "metrics.cpuComputeTimeCurrentContract",
            m.cpu_compute_time_current_contract,
            seconds,
            request,
        ),
        gpu_compute_time_current_contract=_duration(
            body,
            "metrics.gpuComputeTimeCurrentContract",
            m.gpu_compute_time_current_contract,
            seconds,
            request,
        ),
        total_storage_bytes=round(m.total_storage),
        project_count=int(m.project_count),
        user_count=int(m.user_count),
        exclude_edge_impulse_users=exclude_edge_impulse_users,
        project_visibility=project_visibility,
    )
