"""Faults a test can inject into the fake Studio's responses."""

from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TypeAlias

import attrs

from ._model import Operation

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# Every field a fault may remove or replace, with the operations whose responses have it (the
# first one is where a fault naming it applies unless ``inject`` says otherwise; none: all).
# ``*`` in a path stands for every item of a list, or a decimal index for one item.
_METRIC_FIELDS = (
    "totalJobsComputeTime",
    "jobsComputeTimeCurrentYear",
    "jobsComputeTimeCurrentYearSince",
    "cpuComputeTimeCurrentContract",
    "gpuComputeTimeCurrentContract",
    "totalStorage",
    "projectCount",
    "userCount",
)
_ENTITLEMENT_FIELDS = (
    "entitlementLimits",
    "entitlementLimits.totalStorage",
    "entitlementLimits.computeTimePerYear",
    "entitlementLimits.gpuComputeTimePerYear",
    "entitlementLimits.numberOfProjects",
    "entitlementLimits.numberOfUsers",
)
_ITEM_FIELDS = (
    "id",
    "name",
    "created",
    "whitelabelId",
    "billable",
    "privateProjectCount",
    *_ENTITLEMENT_FIELDS,
)
_INFO_FIELDS = (
    "billable",
    *_ENTITLEMENT_FIELDS,
    "computeTimeCurrentContractSince",
    "totalStorage",
    "dailyMetrics",
)
_COMPUTE_TIME_FIELDS = ("cpuComputeTime", "gpuComputeTime", "totalComputeTime")
FIELD_OPERATIONS: Mapping[str, tuple[Operation, ...]] = {
    "success": (),
    **{
        name: (Operation.COMPUTE_TIME, Operation.ORGANIZATION_INFO) for name in _COMPUTE_TIME_FIELDS
    },
    "metrics": (Operation.METRICS,),
    **{f"metrics.{name}": (Operation.METRICS,) for name in _METRIC_FIELDS},
    "total": (Operation.ORGANIZATIONS,),
    "organizations": (Operation.ORGANIZATIONS,),
    **{f"organizations.*.{name}": (Operation.ORGANIZATIONS,) for name in _ITEM_FIELDS},
    **{name: (Operation.ORGANIZATION_INFO,) for name in _INFO_FIELDS},
}
_INDEX = re.compile(r"[0-9]{1,9}")


class FaultKind(enum.Enum):
    """What a fault does to the response of the request that consumes it."""

    RESPONSE = "response"
    """Replace the response with a fixed status, headers and body."""
    DROP_CONNECTION = "drop_connection"
    """Close the connection without sending any response."""
    MISSING_FIELD = "missing_field"
    """Serve the normal response with one field removed from its JSON body."""
    SET_FIELD = "set_field"
    """Serve the normal response with one field of its JSON body set to another value."""
    SLOW = "slow"
    """Serve the normal response after an extra delay."""


def _error_body(message: str) -> bytes:
    return json.dumps({"success": False, "error": message}, separators=(",", ":")).encode()


def _check_header_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or not value.isascii():
        raise ValueError(f"header {name} must be single-line ASCII, got {value!r}")


def format_retry_after(value: float | datetime | str) -> str:
    """Format a ``Retry-After`` value: delay-seconds, an HTTP-date, or a string sent verbatim.

    Args:
        value: Seconds (an int is sent as-is, a float as its shortest form, e.g. ``0.5``, which is
            not RFC-compliant but keeps client tests fast), an aware datetime (sent as an
            HTTP-date) or any string (sent verbatim, e.g. to test how a client copes with garbage).

    Returns:
        The header value.

    Raises:
        ValueError: For a negative or non-finite number, a naive datetime, or a multi-line string.
    """
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("a Retry-After datetime must be timezone-aware")
        return format_datetime(value.astimezone(UTC), usegmt=True)
    if isinstance(value, str):
        _check_header_value("Retry-After", value)
        return value
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Retry-After seconds must be a finite number >= 0, got {value!r}")
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(value)


def _field_pattern(field: str) -> str:
    return ".".join("*" if _INDEX.fullmatch(part) else part for part in field.split("."))


def _check_field(field: str) -> str:
    if _field_pattern(field) not in FIELD_OPERATIONS:
        known = ", ".join(FIELD_OPERATIONS)
        raise ValueError(f"unknown response field {field!r}; known fields: {known}")
    return field


@attrs.frozen
class Fault:
    """A misbehaviour of the fake Studio, consumed by one request.

    Build faults with the class methods (``Fault.rate_limited()``, ``Fault.server_error(503)``,
    ...) and hand them to ``FakeStudio.inject``. A fault is consumed by a request routed to one of
    the operations (with any credentials: faults act in front of authentication and the rate
    limit, like a gateway would); requests to unknown routes or with other methods do not consume
    faults.
    """

    kind: FaultKind
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    field: str | None = None
    value: JsonValue = None
    delay: float = 0.0

    @property
    def operation(self) -> Operation | None:
        """The operation this fault applies to by default: the first whose responses have its field.

        None if the fault names no field, or a field every response has (``success``).
        """
        operations = self.operations
        return operations[0] if operations else None

    @property
    def operations(self) -> tuple[Operation, ...]:
        """Every operation whose responses have this fault's field; empty if not restricted."""
        return () if self.field is None else FIELD_OPERATIONS[_field_pattern(self.field)]

    @classmethod
    def response(
        cls,
        status: int,
        body: bytes | str = b"",
        *,
        content_type: str | None = JSON_CONTENT_TYPE,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> Fault:
        """Replace the response with exactly this one.

        Args:
            status: The status code (100 to 599; 1xx, 204 and 304 are sent with a
                ``Content-Length`` anyway, which makes them invalid HTTP: avoid them).
            body: The body; a str is encoded as UTF-8.
            content_type: The ``Content-Type`` header, or None for none.
            headers: More headers; ``Content-Length``, ``Connection`` and ``Date`` are the
                server's own.

        Returns:
            The fault.

        Raises:
            ValueError: For a status out of range or a header that is not single-line ASCII.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"status must be from 100 to 599, got {status}")
        pairs = tuple(headers.items() if isinstance(headers, Mapping) else headers)
        for name, value in pairs:
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            _check_header_value(name, value)
            if name.lower() in {"content-length", "connection", "date", "transfer-encoding"}:
                raise ValueError(f"header {name} is set by the server")
        if content_type is not None:
            _check_header_value("Content-Type", content_type)
        return cls(
            FaultKind.RESPONSE,
            status=status,
            body=body.encode() if isinstance(body, str) else bytes(body),
            content_type=content_type,
            headers=pairs,
        )

    @classmethod
    def rate_limited(
        cls,
        retry_after: float | datetime | str | None = 1,
        *,
        message: str = "Too many requests, please try again later",
    ) -> Fault:
        """Answer 429 with a JSON error body and a ``Retry-After`` header.

        Args:
            retry_after: The ``Retry-After`` value (see ``format_retry_after``), or None to send
                no ``Retry-After`` header.
            message: The ``error`` of the JSON body.

        Returns:
            The fault.
        """
        headers = () if retry_after is None else (("Retry-After", format_retry_after(retry_after)),)
        return cls.response(429, _error_body(message), headers=headers)

    @classmethod
    def server_error(
        cls,
        status: int = 500,
        *,
        message: str = "Internal server error",
        retry_after: float | datetime | str | None = None,
    ) -> Fault:
        """Answer a 5xx status with a JSON error body.

        Args:
            status: The status, 500 to 599.
            message: The ``error`` of the JSON body.
            retry_after: An optional ``Retry-After`` value (e.g. for 503).

        Returns:
            The fault.

        Raises:
            ValueError: If ``status`` is not a 5xx status.
        """
        if not 500 <= status <= 599:
            raise ValueError(f"a server error status must be from 500 to 599, got {status}")
        headers = () if retry_after is None else (("Retry-After", format_retry_after(retry_after)),)
        return cls.response(status, _error_body(message), headers=headers)

    @classmethod
    def html_error(cls, status: int = 502) -> Fault:
        """Answer an HTML error page, as a proxy or load balancer in front of Studio would.

        Args:
            status: The status, 400 to 599.

        Returns:
            The fault.

        Raises:
            ValueError: If ``status`` is not an error status.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"an error page status must be from 400 to 599, got {status}")
        title = f"{status} Error"
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return cls.response(status, page, content_type=HTML_CONTENT_TYPE)

    @classmethod
    def malformed_json(
        cls, status: int = 200, *, body: bytes = b'{"success": true, "cpuComputeTime": 1'
    ) -> Fault:
        """Answer a body that claims to be JSON but does not parse (truncated by default).

        Args:
            status: The status.
            body: The broken body.

        Returns:
            The fault.
        """
        return cls.response(status, body)

    @classmethod
    def success_false(cls, message: str = "Something went wrong", *, status: int = 200) -> Fault:
        """Answer ``{"success": false, "error": message}`` with a 200 status, as Studio can.

        Args:
            message: The ``error``.
            status: The status.

        Returns:
            The fault.
        """
        return cls.response(status, _error_body(message))

    @classmethod
    def drop_connection(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls(FaultKind.DROP_CONNECTION)

    @classmethod
    def missing_field(cls, field: str) -> Fault:
        """Serve the normal response with a required field left out of the JSON body.

        Only a normal 200 response is altered: if the request fails (say with 401) the error is
        sent unchanged, and the fault is consumed anyway.

        Args:
            field: A dotted path. ``success``; compute time: ``cpuComputeTime``,
                ``gpuComputeTime``, ``totalComputeTime``; metrics: ``metrics`` or
                ``metrics.<name>`` for one of the eight metrics; organization listing: ``total``,
                ``organizations``, ``organizations.*.<item field>`` (every item of the page) or
                ``organizations.<index>.<item field>`` (one item), where the item fields are
                ``id``, ``name``, ``created``, ``whitelabelId``, ``billable``,
                ``privateProjectCount``, ``entitlementLimits`` and
                ``entitlementLimits.<limit>``; organization info: the three compute-time fields,
                ``billable``, ``entitlementLimits``, ``entitlementLimits.<limit>`` (limits:
                ``totalStorage``, ``computeTimePerYear``, ``gpuComputeTimePerYear``,
                ``numberOfProjects``, ``numberOfUsers``), ``computeTimeCurrentContractSince``,
                ``totalStorage`` and ``dailyMetrics``. Unless restricted explicitly, the fault
                applies to the first operation whose response has that field (compute time for
                the three compute-time fields; ``inject(..., operation=...)`` picks another).

        Returns:
            The fault.

        Raises:
            ValueError: For a field no response has.
        """
        return cls(FaultKind.MISSING_FIELD, field=_check_field(field))

    @classmethod
    def set_field(cls, field: str, value: JsonValue) -> Fault:
        """Serve the normal response with a field of the JSON body replaced (see ``missing_field``).

        Args:
            field: The field, as for ``missing_field``.
            value: Its new value: anything JSON can represent, e.g. ``"12"`` to send a string
                where a number belongs.

        Returns:
            The fault.

        Raises:
            ValueError: For an unknown field or a value JSON cannot represent.
        """
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"value must be representable as JSON: {error}") from None
        return cls(FaultKind.SET_FIELD, field=_check_field(field), value=value)

    @classmethod
    def null_field(cls, field: str) -> Fault:
        """Serve the normal response with a field set to ``null`` (see ``missing_field``)."""
        return cls.set_field(field, None)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Serve the normal response after ``seconds`` more than the studio's latency.

        Args:
            seconds: The extra delay, e.g. longer than a client's read timeout.

        Returns:
            The fault.

        Raises:
            ValueError: If ``seconds`` is negative or not finite.
        """
        if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        return cls(FaultKind.SLOW, delay=float(seconds))

    def apply(self, payload: dict[str, JsonValue]) -> None:
        """Alter a normal JSON body in place as a MISSING_FIELD or SET_FIELD fault says.

        A path through something that is not there (a missing parent, an index past the end of
        a list) leaves the body as it is.
        """
        if self.field is not None and self.kind in (FaultKind.MISSING_FIELD, FaultKind.SET_FIELD):
            self._alter(payload, self.field.split("."))

    def _alter(self, node: JsonValue, path: list[str]) -> None:
        head, rest = path[0], path[1:]
        if isinstance(node, list):
            if head == "*":
                children: list[JsonValue] = node
            elif _INDEX.fullmatch(head) and int(head) < len(node):
                children = [node[int(head)]]
            else:
                return
            for child in children:
                self._alter(child, rest)
        elif isinstance(node, dict):
            if rest:
                if head in node:
                    self._alter(node[head], rest)
            elif self.kind is FaultKind.MISSING_FIELD:
                node.pop(head, None)
            else:
                node[head] = self.value
