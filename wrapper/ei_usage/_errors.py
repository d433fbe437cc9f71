"""The exceptions ei-usage raises.

Every failure of a call is one of these (bad arguments raise ``ValueError``/``TypeError`` before any
request is made)::

    EdgeImpulseError                  anything below
    ├── APIError                      the API answered and refused ({"success": false, ...})
    │   └── APIStatusError            ... with a non-2xx status (3xx too: redirects aren't followed)
    │       ├── BadRequestError       400
    │       ├── AuthenticationError   401
    │       ├── PermissionDeniedError 403
    │       ├── NotFoundError         404
    │       ├── RateLimitError        429 (retry_after)
    │       └── ServerError           5xx (retry_after when the server sent one)
    ├── APIConnectionError            no answer: refused, reset, DNS, TLS, protocol error, closed
    │   └── APITimeoutError           no whole answer within the attempt's deadline
    ├── ResponseValidationError       a 2xx answer we cannot trust: not JSON, or breaks the schema
    │   └── ResponseTooLargeError     ... or larger than ``max_response_bytes``
    └── ReportError                   Report.raise_for_errors(): some requests of a report failed

    KeyboardInterrupt
    └── ReportInterrupted             Ctrl-C during a sync report; ``report`` holds what finished

Each carries ``request`` (a :class:`RequestInfo`: method and URL, never headers), so a message is
enough to find the failing call in logs. Credentials never appear in any message, ``args``, ``repr``
or ``body``: the exceptions are built from the status, the (scrubbed) body and the URL only, the URL
never holds a credential, and no exception of the HTTP library (whose request carries the headers)
is chained to them as ``__cause__`` or ``__context__``.

Every exception here survives ``pickle`` (a process pool sends them between processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import timedelta

    import httpx

    from ._report import EntitlementReport, Report


REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "cf-ray")
"""Response headers that may hold the server's id of a request, in the order they are tried."""


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """Return the first of :data:`REQUEST_ID_HEADERS` present in ``headers`` (None if none)."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def scrub_headers(headers: Mapping[str, str], redact: Callable[[str], str]) -> httpx.Headers:
    """Return a copy of an answer's headers with the client's credential scrubbed from values.

    A server that echoes the credential in a header (a debugging proxy, a hostile server) must
    not put it into an exception or a result a program logs.
    """
    import httpx  # here: an answer exists, so httpx is loaded; importing _errors stays cheap

    pairs = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    return httpx.Headers([(name, redact(value)) for name, value in pairs])


def _rebuild(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Recreate an exception from its class, ``args`` and attributes (for pickle)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class _Picklable(BaseException):
    # pickle rebuilds an exception as cls(*args) by default, which fails for keyword-only
    # arguments (status_code, field...): a 404 in a process pool became BrokenProcessPool.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


@attrs.frozen
class RequestInfo:
    """The request an error belongs to: method and URL, deliberately without headers."""

    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class EdgeImpulseError(_Picklable, Exception):
    """Base class of every error ei-usage raises for a call."""

    request: RequestInfo | None

    def __init__(self, message: str, *, request: RequestInfo | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request

    def __str__(self) -> str:
        if self.request is None:
            return self.message
        return f"{self.message} ({self.request})"


class APIError(EdgeImpulseError):
    """The API answered and refused.

    Raised as itself when a 2xx body says ``{"success": false, "error": ...}``, as a subclass of
    :class:`APIStatusError` for a non-2xx status.

    Attributes:
        message: the API's ``error`` text when it sent one, else a short summary of the body.
        status_code: the HTTP status.
        body: the decoded JSON body, or the body text when it was not JSON.
        headers: the answer's headers (an ``httpx.Headers``; the credential scrubbed from
            values), or None for an error built without an answer.
    """

    def __init__(
        self,
        message: str,
        status_code: int,
        body: object = None,
        *,
        request: RequestInfo | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.body = body
        self.headers = headers

    @property
    def request_id(self) -> str | None:
        """The server's id of the request, if the answer carried one (see ``RawResponse``)."""
        return request_id_of(self.headers)

    def __str__(self) -> str:
        return f"{self.status_code}: {super().__str__()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code})"


class APIStatusError(APIError):
    """The API answered with a status outside 2xx."""


class BadRequestError(APIStatusError):
    """400: the API rejected the request's parameters."""


class AuthenticationError(APIStatusError):
    """401: the credential is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the credential may not read this organization (not a (white-label) admin of it)."""


class NotFoundError(APIStatusError):
    """404: no such organization, inner organization or route."""


class _RetryAfterError(APIStatusError):
    def __init__(
        self,
        message: str,
        status_code: int,
        body: object = None,
        *,
        request: RequestInfo | None = None,
        retry_after: timedelta | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, status_code, body, request=request, headers=headers)
        self.retry_after = retry_after


class RateLimitError(_RetryAfterError):
    """429: too many requests.

    Attributes:
        retry_after: how long the API asked us to wait (``Retry-After``), if it said.
    """


class ServerError(_RetryAfterError):
    """5xx: the API failed.

    Attributes:
        retry_after: how long the API asked us to wait (``Retry-After``), if it said.
    """


class APIConnectionError(EdgeImpulseError):
    """No usable answer: connection refused or reset, DNS or TLS failure, protocol error.

    Attributes:
        transient: whether trying again could help (a refused or reset connection, a timeout).
            False for a failed certificate check, a malformed HTTP answer, or a closed client:
            those are not retried.
    """

    def __init__(
        self, message: str, *, request: RequestInfo | None = None, transient: bool = True
    ) -> None:
        super().__init__(message, request=request)
        self.transient = transient


class APITimeoutError(APIConnectionError):
    """No whole answer within the attempt's deadline (the client's ``timeout``)."""


class ResponseValidationError(EdgeImpulseError):
    """A 2xx answer that is not JSON, not an object, or breaks the response schema.

    Attributes:
        field: the dotted path of the offending field (``metrics.totalStorage``), or None when the
            body as a whole is wrong.
        status_code: the HTTP status of the answer.
        body: the decoded JSON body, or the body text when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status_code: int = 200,
        body: object = None,
        request: RequestInfo | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.field = field
        self.status_code = status_code
        self.body = body


class ResponseTooLargeError(ResponseValidationError):
    """A 2xx answer larger than the client's ``max_response_bytes`` (counted decompressed).

    It is not retried: the same request would get the same answer.

    Attributes:
        limit_bytes: the cap that was exceeded.
    """

    def __init__(
        self,
        message: str,
        *,
        limit_bytes: int,
        status_code: int = 200,
        body: object = None,
        request: RequestInfo | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, body=body, request=request)
        self.limit_bytes = limit_bytes


class ReportError(EdgeImpulseError):
    """Some requests of a bulk report failed (raised by ``Report.raise_for_errors``).

    Attributes:
        failures: ``(inner_organization_id, period, error)`` for each failed request.
    """

    def __init__(self, message: str, failures: Sequence[tuple[int, object, EdgeImpulseError]]):
        super().__init__(message)
        self.failures = tuple(failures)


class ReportInterrupted(_Picklable, KeyboardInterrupt):
    """Ctrl-C stopped a sync report or entitlement check; ``report`` holds what had finished.

    It is a :class:`KeyboardInterrupt`, so a program that does not look for it still stops; one
    that does can keep what was fetched::

        try:
            report = client.compute_time_report(1, ids, "2024")
        except ReportInterrupted as interrupted:
            report = interrupted.report  # report.not_attempted lists what is missing

    Attributes:
        report: the partial :class:`~ei_usage.Report` (or :class:`~ei_usage.EntitlementReport`
            for ``entitlement_report``); its ``stop_reason`` says it was interrupted.
    """

    def __init__(self, report: Report | EntitlementReport) -> None:
        super().__init__("report interrupted")
        self.report = report


def status_error_class(status_code: int) -> type[APIStatusError]:
    """Map a non-2xx HTTP status to the exception class that reports it."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}
