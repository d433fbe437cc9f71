"""``client.with_raw_response``: the HTTP answer behind a result, not only the result.

``client.with_raw_response.compute_time(...)`` sends exactly what ``client.compute_time(...)``
sends, through the same request path (pacing, retries, caps, deadline), and returns a
:class:`RawResponse`: the status, headers, request id, timings and retries of the answer that
succeeded, and :meth:`RawResponse.parse` for the usual typed result. Failures raise the usual
exceptions, which carry the answer's headers too (``APIError.headers``).

Only single-request operations are offered (``compute_time``, ``inner_organization``,
``metrics``): a report or a listing is many answers, and each of its rows already records what
it needs (``Report.errors`` keeps each failed request's exception, headers included).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from . import _calls
from ._errors import request_id_of, scrub_headers

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from ._client import AsyncClient, Client
    from ._dates import DateRange
    from ._errors import RequestInfo
    from ._models import (
        ComputeTime,
        InnerOrganizationUsage,
        OrganizationMetrics,
        ProjectVisibility,
    )
    from ._parse import Answer

T = TypeVar("T")


@attrs.frozen
class RawResponse(Generic[T]):
    """The answer a call succeeded with, and its typed result (``parse()``).

    Attributes:
        status_code: the HTTP status (2xx).
        headers: the response headers (case-insensitive; the credential scrubbed from values).
        content: the decoded body as received, an echoed credential replaced by ``***``
            (never in ``repr``).
        request: method and URL of the request (never its headers).
        elapsed: the answering attempt, from sending the request to the body's last byte.
        total_elapsed: the whole call: every attempt, the waits between them and for the rate
            schedule.
        retries: attempts repeated after a failure (5xx, connection error, timeout), per
            ``max_retries``.
        throttles: answers of 429 absorbed on the way (retried on their own budget).
    """

    status_code: int
    headers: httpx.Headers = attrs.field(eq=False)
    content: bytes = attrs.field(repr=False)
    request: RequestInfo
    elapsed: timedelta
    total_elapsed: timedelta
    retries: int
    throttles: int
    _result: T = attrs.field(alias="result", repr=False)

    @property
    def request_id(self) -> str | None:
        """The server's id for this request, if it sent one (``x-request-id``, then others).

        The names looked at, in order: ``x-request-id``, ``request-id``, ``x-amzn-requestid``,
        ``cf-ray`` (Cloudflare's id of the request, which a support ticket can quote).
        """
        return request_id_of(self.headers)

    def parse(self) -> T:
        """Return the typed result, as the same call without ``with_raw_response`` returns it.

        The answer was checked and parsed before the call returned (a body that breaks the
        schema raised :class:`ResponseValidationError` from the call itself), so this never
        raises.
        """
        return self._result


def make(
    answer: Answer,
    result: T,
    request: RequestInfo,
    redact: Callable[[str], str],
    *,
    attempt_seconds: float,
    call_seconds: float,
    retries: int,
    throttles: int,
) -> RawResponse[T]:
    """Build the raw response of a call that succeeded with ``answer``."""
    return RawResponse(
        status_code=answer.status_code,
        headers=scrub_headers(answer.headers, redact),
        content=_scrubbed(answer.content, redact),
        request=request,
        elapsed=timedelta(seconds=max(0.0, attempt_seconds)),
        total_elapsed=timedelta(seconds=max(0.0, call_seconds)),
        retries=retries,
        throttles=throttles,
        result=result,
    )


def _scrubbed(content: bytes, redact: Callable[[str], str]) -> bytes:
    """The body with an echoed credential replaced, as parsing sees it; else the same bytes."""
    text = content.decode("utf-8", errors="surrogateescape")
    clean = redact(text)
    return content if clean == text else clean.encode("utf-8", errors="surrogateescape")


class RawCalls:
    """``Client.with_raw_response``: the single-request operations, returning raw responses."""

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    def compute_time(
        self, organization_id: int, inner_organization_id: int, period: DateRange | str
    ) -> RawResponse[ComputeTime]:
        """:meth:`Client.compute_time`, answering a :class:`RawResponse`."""
        call = _calls.compute_time_call(organization_id, inner_organization_id, period)
        return self._client._send(call, raw=True)  # type: ignore[no-any-return]

    def inner_organization(
        self, organization_id: int, inner_organization_id: int, *, include_deleted: bool = False
    ) -> RawResponse[InnerOrganizationUsage]:
        """:meth:`Client.inner_organization`, answering a :class:`RawResponse`."""
        call = _calls.organization_info_call(
            organization_id, inner_organization_id, include_deleted
        )
        return self._client._send(call, raw=True)  # type: ignore[no-any-return]

    def metrics(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool | None = None,
        project_visibility: ProjectVisibility | None = None,
    ) -> RawResponse[OrganizationMetrics]:
        """:meth:`Client.metrics`, answering a :class:`RawResponse`."""
        call = _calls.metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        return self._client._send(call, raw=True)  # type: ignore[no-any-return]


class AsyncRawCalls:
    """``AsyncClient.with_raw_response``: the single-request operations, as raw responses."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def compute_time(
        self, organization_id: int, inner_organization_id: int, period: DateRange | str
    ) -> RawResponse[ComputeTime]:
        """:meth:`AsyncClient.compute_time`, answering a :class:`RawResponse`."""
        call = _calls.compute_time_call(organization_id, inner_organization_id, period)
        return await self._client._send(call, raw=True)  # type: ignore[no-any-return]

    async def inner_organization(
        self, organization_id: int, inner_organization_id: int, *, include_deleted: bool = False
    ) -> RawResponse[InnerOrganizationUsage]:
        """:meth:`AsyncClient.inner_organization`, answering a :class:`RawResponse`."""
        call = _calls.organization_info_call(
            organization_id, inner_organization_id, include_deleted
        )
        return await self._client._send(call, raw=True)  # type: ignore[no-any-return]

    async def metrics(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool | None = None,
        project_visibility: ProjectVisibility | None = None,
    ) -> RawResponse[OrganizationMetrics]:
        """:meth:`AsyncClient.metrics`, answering a :class:`RawResponse`."""
        call = _calls.metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        return await self._client._send(call, raw=True)  # type: ignore[no-any-return]
