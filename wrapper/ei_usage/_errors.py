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
    ├── APIConnectionError            no answer: refused, reset, DNS, TLS, protocol error
    │   └── APITimeoutError           no answer in time
    ├── ResponseValidationError       a 2xx answer we cannot trust: not JSON, or breaks the schema
    └── ReportError                   Report.raise_for_errors(): some requests of a report failed

Each carries ``request`` (a :class:`RequestInfo`: method and URL, never headers), so a message is
enough to find the failing call in logs. Credentials never appear in any message, ``args`` or
``repr``: the exceptions are built from the status, the body and the URL only, and the URL never
holds a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta


@attrs.frozen
class RequestInfo:
    """The request an error belongs to: method and URL, deliberately without headers."""

    method: str
    url: str

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


class EdgeImpulseError(Exception):
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
    """

    def __init__(
        self,
        message: str,
        status_code: int,
        body: object = None,
        *,
        request: RequestInfo | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.body = body

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
    ) -> None:
        super().__init__(message, status_code, body, request=request)
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
    """No usable answer: connection refused or reset, DNS or TLS failure, protocol error."""


class APITimeoutError(APIConnectionError):
    """No answer within the client's timeout."""


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


class ReportError(EdgeImpulseError):
    """Some requests of a bulk report failed (raised by ``Report.raise_for_errors``).

    Attributes:
        failures: ``(inner_organization_id, period, error)`` for each failed request.
    """

    def __init__(self, message: str, failures: Sequence[tuple[int, object, EdgeImpulseError]]):
        super().__init__(message)
        self.failures = tuple(failures)


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
