"""From an HTTP answer to a result or an exception: wire JSON -> generated model -> result.

The generated models trust their input: a missing field is a bare ``KeyError``, a null or a string
where a number belongs passes straight through. So every field is checked here first, against the
vendored spec's schema, and a failure names the field. Extra fields are accepted (the API may add
some). The generated model is then only a carrier; the result is ei-usage's own frozen class.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from edge_impulse_api_client.models.admin_get_organization_compute_time_usage_response import (
    AdminGetOrganizationComputeTimeUsageResponse,
)
from edge_impulse_api_client.models.admin_get_organizations_response import (
    AdminGetOrganizationsResponse,
)
from edge_impulse_api_client.models.admin_get_organizations_response_organizations_item import (
    AdminGetOrganizationsResponseOrganizationsItem,
)
from edge_impulse_api_client.models.admin_organization_info_response import (
    AdminOrganizationInfoResponse,
)
from edge_impulse_api_client.models.entitlement_limits import EntitlementLimits
from edge_impulse_api_client.models.organization_metrics_response import (
    OrganizationMetricsResponse,
)
from edge_impulse_api_client.types import UNSET, Unset

from ._dates import to_utc
from ._errors import (
    APIError,
    RateLimitError,
    RequestInfo,
    ResponseValidationError,
    ServerError,
    scrub_headers,
)
from ._errors import status_error_class as _status_error_class
from ._models import (
    ComputeTime,
    Entitlements,
    InnerOrganization,
    InnerOrganizationUsage,
    OrganizationMetrics,
    ProjectVisibility,
)
from ._retry import parse_retry_after
from ._units import minutes, seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import datetime, timedelta

    from ._dates import DateRange

_COMPUTE_TIME_OP = "whitelabelAdminGetOrganizationComputeTimeUsage"
_METRICS_OP = "getOrganizationMetrics"
_SUMMARY_LENGTH = 200
_MESSAGE_LENGTH = 300
# A summary looks at the start of a body only: an error page's title or first words are there,
# and a bound on the text keeps every step below linear in a small constant.
_SUMMARY_WINDOW = 4096
# What an exception keeps of a body: the decoded JSON when it is this small, else an excerpt.
_BODY_KEEP_BYTES = 4096
_EXCERPT_LENGTH = 1024
# A tag is "<" up to the next "<" or ">": no nesting and no backtracking, so scanning is linear.
_TAG = re.compile(r"<[^<>]*>")


def _title(text: str) -> str | None:
    """Return the text of the first ``<title>`` element, found without a regex."""
    lowered = text.lower()
    opening = lowered.find("<title")
    if opening == -1:
        return None
    start = lowered.find(">", opening)
    end = lowered.find("</title", start)
    return text[start + 1 : end] if start != -1 and end != -1 else None


def summarize(body: object, status_code: int) -> str:
    """Return a short, single-line description of a body that carried no ``error`` text.

    Linear in a bounded window of the body, whatever it holds.
    """
    if isinstance(body, str):
        window = body[:_SUMMARY_WINDOW]
        text = _title(window)
        if text is None:
            text = _TAG.sub(" ", window)
    elif body is None:
        text = ""
    else:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)[:_SUMMARY_WINDOW]
    return shorten(" ".join(text.split()), _SUMMARY_LENGTH) or _phrase(status_code)


def shorten(text: str, length: int) -> str:
    """Return ``text``, cut to ``length`` characters with an ellipsis when it is longer."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase or f"HTTP {status_code}"
    except ValueError:
        return f"HTTP {status_code}"


def _api_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error.strip():
            return shorten(" ".join(error[:_SUMMARY_WINDOW].split()), _MESSAGE_LENGTH)
    return None


def excerpt(body: object) -> object:
    """Return what an exception keeps of a decoded body: itself when small, else an excerpt."""
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    if len(text) <= _BODY_KEEP_BYTES:
        return body
    return text[:_EXCERPT_LENGTH] + "…"


class Answer(NamedTuple):
    """An HTTP answer as read off the wire: status, headers, and the (capped) decoded body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    truncated: bool  # the body went on beyond ``content`` (only for non-2xx excerpts)


def _decode(answer: Answer, redact: Callable[..., str]) -> tuple[bool, Any]:
    """Return ``(is_json, value)``: the decoded JSON, or the text when it is not JSON.

    The credential is scrubbed from the text before anything is made of it, so no message,
    summary or excerpt cut from it later can hold even a prefix of it.
    """
    text = redact(answer.content.decode("utf-8", errors="replace"), cut=answer.truncated)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to decode
        return False, text
    if "\\u" in text:
        # \u escapes may spell the credential in a way the raw text did not show.
        dumped = json.dumps(value)
        scrubbed = redact(dumped)
        if scrubbed != dumped:
            value = json.loads(scrubbed)
    return True, value


def _identity(text: str, *, cut: bool = False) -> str:
    return text


def check_response(
    answer: Answer,
    request: RequestInfo,
    redact: Callable[..., str] = _identity,
) -> dict[str, Any]:
    """Return the JSON object of a successful answer, or raise what the answer means.

    Args:
        answer: the status, headers and (capped) body.
        request: the request, for error messages.
        redact: scrubs the credential from a text (``Credential.redact``).

    Raises:
        APIError: a 2xx body with ``"success": false``.
        APIStatusError: any non-2xx status (the subclass matches the status).
        ResponseValidationError: a 2xx body that is not a JSON object with a boolean ``success``.
    """
    status_code = answer.status_code
    is_json, body = _decode(answer, redact) if answer.content else (False, None)
    if not 200 <= status_code < 300:
        headers = scrub_headers(answer.headers, redact)
        message = _api_message(body) or summarize(body, status_code)
        if 300 <= status_code < 400:
            message += " (redirect not followed: check base_url)"
        cls = _status_error_class(status_code)
        kept = excerpt(body)
        if issubclass(cls, RateLimitError | ServerError):
            raise cls(
                message,
                status_code,
                kept,
                request=request,
                retry_after=parse_retry_after(answer.headers.get("retry-after")),
                headers=headers,
            )
        raise cls(message, status_code, kept, request=request, headers=headers)
    if not is_json:
        raise ResponseValidationError(
            f"response body is not JSON: {summarize(body, status_code)}",
            status_code=status_code,
            body=excerpt(body),
            request=request,
        )
    if not isinstance(body, dict):
        raise ResponseValidationError(
            f"response body is a JSON {_json_type(body)}, expected an object",
            status_code=status_code,
            body=excerpt(body),
            request=request,
        )
    success = body.get("success")
    if success is False:
        raise APIError(
            _api_message(body) or "the API answered success: false without an error message",
            status_code,
            excerpt(body),
            request=request,
            headers=scrub_headers(answer.headers, redact),
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
        body=excerpt(body),
        request=request,
    )


def _is_amount(value: object) -> bool:
    """A finite number >= 0: usage, sizes and counts are never negative."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        # An int is always finite; math.isfinite would overflow on one beyond float range.
        return value >= 0
    return isinstance(value, float) and math.isfinite(value) and value >= 0


def _is_count(value: object) -> bool:
    """An integer >= 0 (JavaScript may write it as 12.0)."""
    if isinstance(value, float):
        return math.isfinite(value) and value.is_integer() and value >= 0
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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


_NUMBER = (_is_amount, "a finite number >= 0")
_INTEGER = (_is_count, "an integer >= 0")


_STRING = (lambda v: isinstance(v, str), "a date-time string")


_NONE_REQUIRED: frozenset[str] = frozenset()
_COMPUTE_TIME_FIELDS = {
    "cpuComputeTime": _NUMBER,
    "gpuComputeTime": _NUMBER,
    "totalComputeTime": _NUMBER,
}


# ---- runtime schema drift -------------------------------------------------------------------

logger = logging.getLogger("ei_usage")
_MAX_WARNED = 256
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _unknown_fields(operation: str, prefix: str, fields: Iterable[str]) -> None:
    """Log, once per field and process, fields of a success answer the vendored spec lacks.

    The spec marks most fields optional, so a renamed field would otherwise read as "absent"
    without a word. The generated models collect what the spec does not know in
    ``additional_properties``; their names come from the server, so they are shown with repr
    and cut short, and at most ``_MAX_WARNED`` distinct names are remembered.
    """
    for name in fields:
        field = f"{prefix}{shorten(name, 80)!r}"
        with _warned_lock:
            key = f"{operation} {field}"
            if key in _warned or len(_warned) >= _MAX_WARNED:
                continue
            _warned.add(key)
        logger.warning(
            "ei_usage: %s answered a field the vendored spec does not know: %s; the API may have "
            "changed: compare it with `make spec-diff FROM=<new spec>` and re-vendor",
            operation,
            field,
        )


def _unknown(model: Any, data: Mapping[str, Any], *left_out: str) -> Iterable[str]:
    """Return the fields of ``data`` that a generated model made from it does not know.

    A model collects them in ``additional_properties``, unless its schema says
    ``additionalProperties: false``: then it has no such attribute and drops them, so they are
    the keys of ``data`` that its ``to_dict`` does not give back (``left_out``: keys the model
    was not given).
    """
    extra = getattr(model, "additional_properties", None)
    if isinstance(extra, dict):
        return extra
    known = model.to_dict()
    return [key for key in data if key not in known and key not in left_out]


def _schema_error(body: Mapping[str, Any], error: Exception, request: RequestInfo) -> NoReturn:
    # Reached only if the checks above missed a case the generated model trips over.
    raise ResponseValidationError(
        f"response does not match the schema: {type(error).__name__}: {shorten(str(error), 200)}",
        body=excerpt(body),
        request=request,
    ) from error


def _some_compute_time(body: Mapping[str, Any], request: RequestInfo) -> None:
    """Refuse an answer with none of the three compute times.

    All three are optional in the spec, but an answer without any of them says nothing: most
    likely the API renamed them, and every one would silently read as absent.
    """
    if not _COMPUTE_TIME_FIELDS.keys() & body.keys():
        raise ResponseValidationError(
            "response has none of cpuComputeTime, gpuComputeTime and totalComputeTime",
            field="cpuComputeTime",
            body=excerpt(body),
            request=request,
        )


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
        ResponseValidationError: a field is null, negative or of the wrong type, or all three are
            missing (each is optional in the spec, so one missing becomes None).
    """
    _check(body, body, "", _COMPUTE_TIME_FIELDS, _NONE_REQUIRED, request)
    try:
        model = AdminGetOrganizationComputeTimeUsageResponse.from_dict(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        _schema_error(body, error, request)
    _unknown_fields(_COMPUTE_TIME_OP, "", _unknown(model, body))
    _some_compute_time(body, request)
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
        wire=_wire(body, _COMPUTE_TIME_FIELDS),
    )


def _wire(body: Mapping[str, Any], names: Iterable[str]) -> Mapping[str, Any]:
    """The read fields of a checked answer, as sent.

    A plain dict, not a read-only proxy: results travel in pickled exceptions
    (``ReportInterrupted``), and a proxy does not pickle.
    """
    return {name: body[name] for name in names if name in body}


def compute_time_from_wire(
    wire: Mapping[str, Any],
    *,
    organization_id: int,
    inner_organization_id: int,
    period: DateRange,
    source: str,
) -> ComputeTime:
    """Rebuild a result from :attr:`ComputeTime.wire`, as kept by the history store.

    The same checks and unit rules as an answer from the network, so a stored row equals the
    row the API gave.

    Args:
        wire: the numbers as the API sent them.
        organization_id: the white label.
        inner_organization_id: the organization.
        period: the period asked for.
        source: where the numbers were kept (a store's name), for error messages.

    Raises:
        ResponseValidationError: the kept numbers are not what an answer may hold.
    """
    return compute_time(
        {"success": True, **wire},
        RequestInfo("STORED", source),
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        period=period,
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
            f"response field {path} {error}", field=path, body=excerpt(body), request=request
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


def _utc(
    value: datetime,
    body: Mapping[str, Any],
    path: str,
    container: Mapping[str, Any],
    request: RequestInfo,
) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        _invalid(body, path, "a date-time with a UTC offset", request, container=container)
    try:
        return to_utc(value)
    except ValueError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        _invalid(
            body, path, "a date-time within years 1 to 9999 in UTC", request, container=container
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
    _unknown_fields(_METRICS_OP, "", _unknown(model, body))
    _unknown_fields(_METRICS_OP, "metrics.", _unknown(m, metrics))
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
            m.jobs_compute_time_current_year_since,
            body,
            "metrics.jobsComputeTimeCurrentYearSince",
            metrics,
            request,
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


# ---- the white label's organizations -------------------------------------------------------------

_ORGANIZATIONS_OP = "whitelabelAdminGetOrganizations"
_ORGANIZATION_INFO_OP = "whitelabelAdminGetOrganizationInfo"
_BOOLEAN = (lambda v: isinstance(v, bool), "a boolean")
_TEXT = (lambda v: isinstance(v, str), "a string")
_OBJECT = (lambda v: isinstance(v, dict), "an object")
# Entitlement limits: a number, or null, which like an absent limit means "no limit".
_LIMIT_AMOUNT = (lambda v: v is None or _is_amount(v), "a finite number >= 0 or null")
_LIMIT_COUNT = (lambda v: v is None or _is_count(v), "an integer >= 0 or null")
_LIMIT_FIELDS = {
    "computeTimePerYear": _LIMIT_AMOUNT,
    "gpuComputeTimePerYear": _LIMIT_AMOUNT,
    "totalStorage": _LIMIT_AMOUNT,
    "numberOfProjects": _LIMIT_COUNT,
    "numberOfUsers": _LIMIT_COUNT,
}
_ITEM_FIELDS = {
    "id": _INTEGER,
    "name": _TEXT,
    "created": _STRING,
    "privateProjectCount": _INTEGER,
    "billable": _BOOLEAN,
    "whitelabelId": _INTEGER,
    "entitlementLimits": _OBJECT,
}
_ITEM_REQUIRED = frozenset({"id", "name", "created", "privateProjectCount"})
_INFO_FIELDS = {
    **_COMPUTE_TIME_FIELDS,
    "billable": _BOOLEAN,
    "entitlementLimits": _OBJECT,
    "computeTimeCurrentContractSince": _STRING,
    "totalStorage": _NUMBER,
}


class Unread(NamedTuple):
    """A listing record whose id is readable but some other field is not."""

    id: int
    error: ResponseValidationError


Record = InnerOrganization | Unread
"""One record of a listing page: an organization, or one that could not be read."""


class Page(NamedTuple):
    """One page of the white label's organization listing."""

    total: int
    items: tuple[Record, ...]


def _entitlements(
    body: Mapping[str, Any], limits: Mapping[str, Any], prefix: str, request: RequestInfo
) -> Entitlements:
    _check(body, limits, prefix, _LIMIT_FIELDS, _NONE_REQUIRED, request)

    def seconds_of(key: str) -> timedelta | None:
        value = limits.get(key)
        return None if value is None else _duration(body, prefix + key, value, seconds, request)

    def count_of(key: str) -> int | None:
        value = limits.get(key)
        return None if value is None else int(value)

    storage = limits.get("totalStorage")
    return Entitlements(
        compute_time_per_year=seconds_of("computeTimePerYear"),
        gpu_compute_time_per_year=seconds_of("gpuComputeTimePerYear"),
        storage_bytes=None if storage is None else round(storage),
        projects=count_of("numberOfProjects"),
        users=count_of("numberOfUsers"),
    )


def _limits_drift(operation: str, prefix: str, limits: Mapping[str, Any]) -> None:
    model = EntitlementLimits.from_dict(limits)
    _unknown_fields(operation, prefix, _unknown(model, limits))


def _organization(
    body: Mapping[str, Any], item: object, index: int, request: RequestInfo
) -> InnerOrganization:
    prefix = f"organizations[{index}]."
    if not isinstance(item, dict):
        _invalid(body, prefix.rstrip("."), "an object", request, container={})
    _check(body, item, prefix, _ITEM_FIELDS, _ITEM_REQUIRED, request)
    try:
        model = AdminGetOrganizationsResponseOrganizationsItem.from_dict(
            {k: v for k, v in item.items() if k != "entitlementLimits"}
        )
    except ValueError:  # fromisoformat, the only parser here that raises ValueError
        _invalid(body, prefix + "created", "an ISO-8601 date-time", request, container=item)
    except (KeyError, TypeError, AttributeError, OverflowError) as error:
        _schema_error(body, error, request)
    _unknown_fields(
        _ORGANIZATIONS_OP, "organizations[].", _unknown(model, item, "entitlementLimits")
    )
    limits = item.get("entitlementLimits") or {}
    if limits:
        _limits_drift(_ORGANIZATIONS_OP, "organizations[].entitlementLimits.", limits)
    return InnerOrganization(
        id=int(item["id"]),
        name=model.name,
        created=_utc(model.created, body, prefix + "created", item, request),
        billable=None if isinstance(model.billable, Unset) else model.billable,
        whitelabel_id=None if isinstance(model.whitelabel_id, Unset) else int(model.whitelabel_id),
        private_project_count=int(item["privateProjectCount"]),
        entitlements=_entitlements(body, limits, prefix + "entitlementLimits.", request),
    )


def organizations_page(body: Mapping[str, Any], request: RequestInfo, *, limit: int) -> Page:
    """Convert a checked ``AdminGetOrganizationsResponse`` body to a page.

    An item with a readable id but another field missing or of the wrong type is kept as
    :class:`Unread`, with the error naming the field (and the item's index).

    Raises:
        ResponseValidationError: ``total`` or ``organizations`` is missing or of the wrong type,
            an item is not an object or has no usable id, or the page holds more items than
            were asked for.
    """
    _check(
        body,
        body,
        "",
        {"total": _INTEGER, "organizations": (lambda v: isinstance(v, list), "an array")},
        frozenset({"total", "organizations"}),
        request,
    )
    items = body["organizations"]
    if len(items) > limit:
        raise ResponseValidationError(
            f"response field organizations holds {len(items)} items, more than the {limit} asked "
            "for",
            field="organizations",
            body=excerpt(body),
            request=request,
        )
    # The top level's unknown fields, without building every item twice.
    top = AdminGetOrganizationsResponse.from_dict({**body, "organizations": []})
    _unknown_fields(_ORGANIZATIONS_OP, "", _unknown(top, body))
    return Page(
        total=int(body["total"]),
        items=tuple(_record(body, item, i, request) for i, item in enumerate(items)),
    )


def _record(body: Mapping[str, Any], item: object, index: int, request: RequestInfo) -> Record:
    """Read one listing record; one with a readable id but a bad field is :class:`Unread`.

    One organization's bad record (say a limit of ``"abc"``) must not cost the listing of every
    other one, so only a record without a usable id breaks the page.
    """
    if not isinstance(item, dict) or not _is_count(item.get("id")):
        return _organization(body, item, index, request)  # raises, naming the field
    try:
        return _organization(body, item, index, request)
    except ResponseValidationError as error:
        return Unread(int(item["id"]), error)


def organization_info(
    body: Mapping[str, Any],
    request: RequestInfo,
    *,
    organization_id: int,
    inner_organization_id: int,
) -> InnerOrganizationUsage:
    """Convert a checked ``AdminOrganizationInfoResponse`` body to a result.

    ``dailyMetrics`` (up to a year of records) is not read: ei-usage reports no daily figures.

    Raises:
        ResponseValidationError: a field is null, negative or of the wrong type, the contract
            date is not a date-time, or none of the three compute times is there.
    """
    _check(body, body, "", _INFO_FIELDS, _NONE_REQUIRED, request)
    try:
        # dailyMetrics as an empty list, not left out: the model accepts that however the spec
        # marks it (optional or required, nullable or not), and it builds no records.
        model = AdminOrganizationInfoResponse.from_dict(
            {**{k: v for k, v in body.items() if k != "entitlementLimits"}, "dailyMetrics": []}
        )
    except ValueError:
        _invalid(body, "computeTimeCurrentContractSince", "an ISO-8601 date-time", request)
    except (KeyError, TypeError, AttributeError, OverflowError) as error:
        _schema_error(body, error, request)
    _unknown_fields(_ORGANIZATION_INFO_OP, "", _unknown(model, body, "entitlementLimits"))
    _some_compute_time(body, request)
    limits = body.get("entitlementLimits") or {}
    if limits:
        _limits_drift(_ORGANIZATION_INFO_OP, "entitlementLimits.", limits)
    cpu, gpu, total = model.cpu_compute_time, model.gpu_compute_time, model.total_compute_time
    since = model.compute_time_current_contract_since
    storage = model.total_storage
    return InnerOrganizationUsage(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        cpu=None if cpu is UNSET else _duration(body, "cpuComputeTime", cpu, seconds, request),
        gpu=None if gpu is UNSET else _duration(body, "gpuComputeTime", gpu, seconds, request),
        total=None
        if total is UNSET
        else _duration(body, "totalComputeTime", total, minutes, request),
        contract_since=None
        if isinstance(since, Unset)
        else _utc(since, body, "computeTimeCurrentContractSince", body, request),
        storage_bytes=None if isinstance(storage, Unset) else round(storage),
        billable=None if isinstance(model.billable, Unset) else model.billable,
        entitlements=_entitlements(body, limits, "entitlementLimits.", request),
        wire=_wire(body, (name for name in body if name != "dailyMetrics")),
    )


def organization_info_from_wire(
    wire: Mapping[str, Any], *, organization_id: int, inner_organization_id: int, source: str
) -> InnerOrganizationUsage:
    """Rebuild a result from :attr:`InnerOrganizationUsage.wire`, as kept by the history store.

    Args:
        wire: the answer's fields as the API sent them.
        organization_id: the white label.
        inner_organization_id: the organization.
        source: where the fields were kept (a store's name), for error messages.

    Raises:
        ResponseValidationError: the kept fields are not what an answer may hold.
    """
    return organization_info(
        {"success": True, **wire},
        RequestInfo("STORED", source),
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
    )
