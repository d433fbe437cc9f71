"""``Client`` and ``AsyncClient``: auth, configuration, retries, and the two operations.

Requests are described by the generated client (``_get_kwargs`` of each operation: method, path,
query) and sent through one pooled httpx client per ``Client``. Two things are deliberately done
here rather than by the generated code:

* dates go out as ``YYYY-MM-DDTHH:MM:SS.mmmZ``, as the Edge Impulse web client sends them (the
  generator would send ``isoformat()``, with ``+00:00`` and microseconds);
* the answer is checked and converted by :mod:`ei_usage._parse`, so failures are typed
  exceptions that name the field, never a bare ``KeyError`` from a generated model.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
import warnings
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Self, TypeVar
from urllib.parse import quote

import httpx

from edge_impulse_api_client.api.organizations import (
    get_organization_metrics as _metrics_op,
)
from edge_impulse_api_client.api.organizations import (
    whitelabel_admin_get_organization_compute_time_usage as _compute_time_op,
)
from edge_impulse_api_client.models.project_visibility import (
    ProjectVisibility as _GeneratedVisibility,
)
from edge_impulse_api_client.types import UNSET

from . import _parse, _report
from ._config import (
    DEFAULT_BASE_URL,
    ENV_ACCESS_TOKEN,
    ENV_API_KEY,
    ENV_JWT_TOKEN,
    ClientConfig,
    Credential,
    check_int,
    env_arguments,
)
from ._dates import DateRange, format_wire
from ._errors import APIConnectionError, APITimeoutError, EdgeImpulseError, RequestInfo
from ._retry import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
    from datetime import timedelta
    from types import TracebackType

    from ._dates import Every
    from ._models import ComputeTime, OrganizationMetrics, ProjectVisibility
    from ._report import ProgressCallback, Report

logger = logging.getLogger("ei_usage")
# A library speaks only when the application configures logging: without this, Python's
# last-resort handler would print every retry warning on stderr.
logger.addHandler(logging.NullHandler())
T = TypeVar("T")

USER_AGENT = f"ei-usage/{__version__}"
_VISIBILITIES = ("public", "private")


# ---- arguments -------------------------------------------------------------------------------


# Organization id 0 is valid (the official bindings drop it). A partial: it runs twice a call.
_check_id: Callable[[str, object], int] = functools.partial(check_int, minimum=0)


# DateRange is immutable, and tools ask for the same few periods again and again.
_parse_period = functools.lru_cache(maxsize=256)(DateRange.parse)


def _check_period(period: DateRange | str) -> DateRange:
    if isinstance(period, DateRange):
        return period
    if isinstance(period, str):
        return _parse_period(period)
    raise TypeError(f"period must be a DateRange or a str, got {type(period).__name__}")


class _Call(NamedTuple):
    """One prepared request, relative to the base URL, and how to read its answer."""

    method: str
    target: str  # path and percent-encoded query
    parse: Callable[[dict[str, Any], RequestInfo], Any]


# Any instant will do: the route of the generated operation depends only on the ids, and the
# dates it formats (with isoformat) are replaced by ours.
_ANY_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
_COMPUTE_TIME_PARAMS = frozenset({"startDate", "endDate"})


@functools.lru_cache(maxsize=4096)
def _compute_time_route(organization_id: int, inner_organization_id: int) -> tuple[str, str]:
    """Return the method and path the generated operation gives an id pair.

    Described once per pair: tools ask about the same organizations again and again, and the
    generated description (path quoting, isoformat of both dates) was a measurable share of a
    loopback call (bench/RESULTS.md).
    """
    kwargs = _compute_time_op._get_kwargs(
        organization_id, inner_organization_id, start_date=_ANY_INSTANT, end_date=_ANY_INSTANT
    )
    if set(kwargs["params"]) != _COMPUTE_TIME_PARAMS:  # the spec slice changed
        raise RuntimeError(
            "the generated compute-time operation takes query parameters "
            f"{sorted(kwargs['params'])}, ei_usage formats {sorted(_COMPUTE_TIME_PARAMS)}"
        )
    return kwargs["method"].upper(), kwargs["url"]


@functools.lru_cache(maxsize=1024)
def _period_query(period: DateRange) -> str:
    """Return the encoded ``startDate``/``endDate`` query of a period, as the web client sends."""
    return _query({"startDate": format_wire(period.start), "endDate": format_wire(period.end)})


def _compute_time_call(
    organization_id: int, inner_organization_id: int, period: DateRange | str
) -> _Call:
    org = _check_id("organization_id", organization_id)
    inner = _check_id("inner_organization_id", inner_organization_id)
    dr = _check_period(period)
    method, path = _compute_time_route(org, inner)

    def parse(body: dict[str, Any], request: RequestInfo) -> ComputeTime:
        return _parse.compute_time(
            body, request, organization_id=org, inner_organization_id=inner, period=dr
        )

    return _Call(method, f"{path}?{_period_query(dr)}", parse)


def _metrics_call(
    organization_id: int,
    exclude_edge_impulse_users: bool | None,
    project_visibility: ProjectVisibility | None,
) -> _Call:
    org = _check_id("organization_id", organization_id)
    if exclude_edge_impulse_users is not None and not isinstance(exclude_edge_impulse_users, bool):
        raise TypeError(
            "exclude_edge_impulse_users must be a bool or None, "
            f"got {type(exclude_edge_impulse_users).__name__}"
        )
    if project_visibility is not None and project_visibility not in _VISIBILITIES:
        raise ValueError(
            f"project_visibility must be 'public', 'private' or None, got {project_visibility!r}"
        )
    kwargs = _metrics_op._get_kwargs(
        org,
        exclude_edge_impulse_users=UNSET
        if exclude_edge_impulse_users is None
        else exclude_edge_impulse_users,
        project_visibility=UNSET
        if project_visibility is None
        else _GeneratedVisibility(project_visibility),
    )

    def parse(body: dict[str, Any], request: RequestInfo) -> OrganizationMetrics:
        return _parse.organization_metrics(
            body,
            request,
            organization_id=org,
            exclude_edge_impulse_users=exclude_edge_impulse_users,
            project_visibility=project_visibility,
        )

    query = _query(kwargs["params"])
    return _Call(
        kwargs["method"].upper(), f"{kwargs['url']}?{query}" if query else kwargs["url"], parse
    )


# ---- transport errors --------------------------------------------------------------------------


def _connection_error(error: httpx.RequestError, request: RequestInfo) -> APIConnectionError:
    # httpx's messages describe the socket, never the headers, so they are safe to keep.
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"no answer in time ({type(error).__name__})", request=request)
    detail = str(error) or type(error).__name__
    return APIConnectionError(f"connection failed: {detail}", request=request)


# Percent-encoding of every ASCII character that is not unreserved (RFC 3986), as a translate
# table: urllib's quote() walks the bytes in Python, a measurable share of a loopback call.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = {c: f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED}


def _quote(value: str) -> str:
    return value.translate(_PERCENT) if value.isascii() else quote(value, safe="")


def _query(params: Mapping[str, str | bool]) -> str:
    # Booleans as true/false (the official bindings send True/False); everything else
    # percent-encoded, ":" as %3A, exactly as httpx encodes params.
    return "&".join(
        f"{_quote(k)}={_quote(('true' if v else 'false') if isinstance(v, bool) else v)}"
        for k, v in params.items()
    )


def _prepare(
    http: httpx.Client | httpx.AsyncClient, base_url: str, call: _Call
) -> tuple[httpx.Request, RequestInfo]:
    # Built once: the same request is re-sent on retries, and its URL describes any error. The
    # URL is joined here, as one string: httpx joining base URL, path and params itself parses
    # the whole URL three times, which was the largest per-call cost (bench/RESULTS.md).
    request = http.build_request(call.method, base_url + call.target)
    return request, RequestInfo(method=call.method, url=str(request.url))


# ---- shared client logic -----------------------------------------------------------------------


class _BaseClient:
    _config: ClientConfig
    _policy: RetryPolicy

    def __init__(
        self,
        api_key: str | None = None,
        *,
        jwt_token: str | None = None,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | timedelta = 30.0,
        max_retries: int = 3,
        allow_insecure_http: bool = False,
        max_connections: int = 64,
    ) -> None:
        self._config = ClientConfig.build(
            api_key,
            jwt_token=jwt_token,
            access_token=access_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
        )
        self._policy = RetryPolicy(max_retries=self._config.max_retries)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Self:
        """Build a client from the ``EI_*`` environment variables.

        Reads ``EI_API_KEY``, ``EI_JWT_TOKEN`` or ``EI_ACCESS_TOKEN`` (exactly one), and
        ``EI_BASE_URL`` when set. Arguments given here win: a credential argument replaces the
        environment's credentials, ``base_url=`` replaces ``EI_BASE_URL``.

        Args:
            environ: where to read the variables (default ``os.environ``).
            **kwargs: other constructor arguments (``timeout``, ``max_retries``...).

        Raises:
            ValueError: no credential, or more than one, from the environment and arguments.
        """
        found = env_arguments(environ)
        names = ("api_key", "jwt_token", "access_token")
        if any(kwargs.get(name) is not None for name in names):
            found = {k: v for k, v in found.items() if k not in names}
        merged = {**found, **kwargs}
        credentials = [name for name in names if merged.get(name) is not None]
        if len(credentials) != 1:
            raise ValueError(
                f"set exactly one of {ENV_API_KEY}, {ENV_JWT_TOKEN} or {ENV_ACCESS_TOKEN} "
                f"(found {len(credentials)})"
            )
        return cls(**merged)

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``https://studio.edgeimpulse.com/v1``."""
        return self._config.base_url

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self._config.base_url!r}, "
            f"credential={self._config.credential.kind} (hidden))"
        )

    def _http_options(self) -> dict[str, Any]:
        limit = self._config.max_connections
        return {
            "base_url": self._config.base_url,
            "headers": {
                **self._config.credential.headers(),
                "user-agent": USER_AGENT,
                "accept": "application/json",
            },
            "timeout": self._config.timeout,
            # Never follow a redirect: the credential header would travel to wherever it points.
            "follow_redirects": False,
            # Keep every connection we may use concurrently, instead of httpx's default of 20,
            # so a bulk run does not reconnect on every request.
            "limits": httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        }

    def _retry_delay(self, retries: int, error: EdgeImpulseError, call: _Call) -> float | None:
        _hide_credential(error, self._config.credential)
        delay = self._policy.delay(retries, error)
        if delay is not None:
            logger.warning(
                "ei_usage: %s; retry %d/%d in %.2fs",
                error,
                retries + 1,
                self._policy.max_retries,
                delay,
            )
        return delay


def _hide_credential(error: EdgeImpulseError, credential: Credential) -> None:
    """Scrub the credential from an error built from what the server sent.

    A misbehaving server or proxy may echo the request's headers in its error body; the
    exception (and the retry warning made from it) must still not carry the secret.
    """
    message = credential.redact(error.message)
    if message != error.message:
        error.message = message
        error.args = (message,)
    body = getattr(error, "body", None)
    if isinstance(body, str):
        error.body = credential.redact(body)  # type: ignore[attr-defined]
    elif body is not None:
        text = json.dumps(body)
        if credential.redact(text) != text:
            error.body = json.loads(credential.redact(text))  # type: ignore[attr-defined]


def _read(response: httpx.Response, call: _Call, request: RequestInfo) -> Any:
    body = _parse.check_response(response.status_code, response.headers, response.content, request)
    return call.parse(body, request)


# ---- sync ------------------------------------------------------------------------------------


class Client(_BaseClient):
    """A synchronous Edge Impulse usage client.

    One pooled HTTP connection pool lives as long as the client: use it as a context manager, or
    call :meth:`close`. The pool opens on the first request, so building a client is cheap.

    Args:
        api_key: an API key, sent as ``x-api-key``.
        jwt_token: a JWT, sent as ``x-jwt-token``.
        access_token: an OAuth access token, sent as ``Authorization: Bearer``.
        base_url: the API root; white-label studios live on other hosts.
        timeout: seconds (or a timedelta) to connect, and between bytes of the answer.
        max_retries: retries after the first attempt, on 429, 500, 502, 503, 504, connection
            errors and timeouts; 0 disables.
        allow_insecure_http: allow ``http://`` to a host other than loopback.
        max_connections: size of the connection pool.
        transport: an httpx transport to send through (tests: ``httpx.MockTransport``).

    Exactly one of ``api_key``, ``jwt_token``, ``access_token`` must be given.

    Raises:
        ValueError: no credential or more than one, or an invalid argument.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        jwt_token: str | None = None,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | timedelta = 30.0,
        max_retries: int = 3,
        allow_insecure_http: bool = False,
        max_connections: int = 64,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key,
            jwt_token=jwt_token,
            access_token=access_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
        )
        self._transport = transport
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            with self._lock:
                if self._http is None:
                    self._http = httpx.Client(**self._http_options(), transport=self._transport)
                http = self._http
        return http

    def close(self) -> None:
        """Close the connection pool. A later call opens a new one."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: _Call) -> Any:
        http = self._client()
        prepared, request = _prepare(http, self._config.base_url, call)
        retries = 0
        while True:
            try:
                try:
                    response = http.send(prepared)
                except httpx.RequestError as error:
                    raise _connection_error(error, request) from error
                return _read(response, call, request)
            except EdgeImpulseError as error:
                delay = self._retry_delay(retries, error, call)
                if delay is None:
                    raise
            _sleep(delay)
            retries += 1

    def compute_time(
        self, organization_id: int, inner_organization_id: int, period: DateRange | str
    ) -> ComputeTime:
        """Return the compute time an inner organization of a white label used in ``period``.

        Args:
            organization_id: the white-label organization you administer.
            inner_organization_id: the organization within it.
            period: a :class:`DateRange` or a string :meth:`DateRange.parse` accepts.

        Raises:
            EdgeImpulseError: the request failed (see the exception tree).
            ValueError, TypeError: a bad argument (before any request).
        """
        return self._send(_compute_time_call(organization_id, inner_organization_id, period))  # type: ignore[no-any-return]

    def compute_time_by_period(
        self,
        organization_id: int,
        inner_organization_id: int,
        period: DateRange | str,
        *,
        every: Every = "month",
    ) -> list[ComputeTime]:
        """Return compute time for each calendar piece of ``period``, in time order.

        One request per piece (``period.split(every)``); the first and last pieces are clipped.

        Raises:
            EdgeImpulseError: a request failed (see the exception tree).
            ValueError, TypeError: a bad argument (before any request).
        """
        calls = [
            _compute_time_call(organization_id, inner_organization_id, piece)
            for piece in _check_period(period).split(every)
        ]
        return [self._send(call) for call in calls]

    def compute_time_report(
        self,
        organization_id: int,
        inner_organization_ids: Iterable[int],
        period: DateRange | str,
        *,
        every: Every = "month",
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> Report:
        """Return the compute time of many inner organizations, for each piece of ``period``.

        Requests run on ``concurrency`` threads sharing this client's connection pool. A request
        that fails for good is recorded in ``Report.errors`` and the others go on; call
        ``report.raise_for_errors()`` to turn failures into one exception.

        Args:
            organization_id: the white-label organization you administer.
            inner_organization_ids: the organizations within it (duplicates are ignored).
            period: a :class:`DateRange` or a string :meth:`DateRange.parse` accepts.
            every: the calendar unit of each request.
            concurrency: requests in flight at once.
            on_progress: ``on_progress(done, total)``, called on this thread as requests finish.

        Raises:
            ValueError, TypeError: a bad argument (before any request).
        """
        plan = _report.make_plan(
            organization_id, inner_organization_ids, _check_period(period), every, _check_id
        )
        limit = check_int("concurrency", concurrency, minimum=1)
        if _loop_is_running():
            warnings.warn(
                "Client.compute_time_report blocks the running event loop until the report is "
                "done; in async code use `await AsyncClient.compute_time_report(...)`",
                RuntimeWarning,
                stacklevel=2,
            )
        org = plan.organization_id
        return _report.run_threads(
            plan,
            lambda inner, piece: self._send(_compute_time_call(org, inner, piece)),
            limit,
            on_progress,
        )

    def metrics(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool | None = None,
        project_visibility: ProjectVisibility | None = None,
    ) -> OrganizationMetrics:
        """Return an organization's metrics.

        Args:
            organization_id: the organization.
            exclude_edge_impulse_users: leave Edge Impulse staff out of the user count.
            project_visibility: count only ``"public"`` or ``"private"`` projects.

        Raises:
            EdgeImpulseError: the request failed (see the exception tree).
            ValueError, TypeError: a bad argument (before any request).
        """
        return self._send(  # type: ignore[no-any-return]
            _metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        )


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# Seams for tests: retries are checked with these patched, never by really waiting.
_sleep = time.sleep
_async_sleep = asyncio.sleep


# ---- async -----------------------------------------------------------------------------------


class AsyncClient(_BaseClient):
    """An asyncio Edge Impulse usage client; the same arguments and methods as :class:`Client`.

    Its connection pool belongs to the event loop that opened it. Use ``async with client:``
    inside each ``asyncio.run`` (leaving the block closes the pool, and the next use opens a new
    one), or one client per event loop; using an open client from another loop raises
    ``RuntimeError`` instead of hanging.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        jwt_token: str | None = None,
        access_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | timedelta = 30.0,
        max_retries: int = 3,
        allow_insecure_http: bool = False,
        max_connections: int = 64,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key,
            jwt_token=jwt_token,
            access_token=access_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None:
            self._http = httpx.AsyncClient(**self._http_options(), transport=self._transport)
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this AsyncClient's connections belong to another event loop"
                f"{' (now closed)' if self._loop and self._loop.is_closed() else ''}: use "
                "`async with client:` inside each asyncio.run(), or one AsyncClient per loop"
            )
        return self._http

    async def aclose(self) -> None:
        """Close the connection pool. A later call opens a new one, in the loop it runs in."""
        http, self._http, self._loop = self._http, None, None
        if http is not None:
            await http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: _Call) -> Any:
        http = self._client()
        prepared, request = _prepare(http, self._config.base_url, call)
        retries = 0
        while True:
            try:
                try:
                    response = await http.send(prepared)
                except httpx.RequestError as error:
                    raise _connection_error(error, request) from error
                return _read(response, call, request)
            except EdgeImpulseError as error:
                delay = self._retry_delay(retries, error, call)
                if delay is None:
                    raise
            await _async_sleep(delay)
            retries += 1

    async def compute_time(
        self, organization_id: int, inner_organization_id: int, period: DateRange | str
    ) -> ComputeTime:
        """Return the compute time an inner organization of a white label used in ``period``.

        See :meth:`Client.compute_time`.
        """
        return await self._send(  # type: ignore[no-any-return]
            _compute_time_call(organization_id, inner_organization_id, period)
        )

    async def compute_time_by_period(
        self,
        organization_id: int,
        inner_organization_id: int,
        period: DateRange | str,
        *,
        every: Every = "month",
        concurrency: int = 8,
    ) -> list[ComputeTime]:
        """Return compute time for each calendar piece of ``period``, in time order.

        The requests run concurrently, at most ``concurrency`` at a time. If one fails for good,
        the others are cancelled and its exception is raised.

        Raises:
            EdgeImpulseError: a request failed (see the exception tree).
            ValueError, TypeError: a bad argument (before any request).
        """
        limit = check_int("concurrency", concurrency, minimum=1)
        calls = [
            _compute_time_call(organization_id, inner_organization_id, piece)
            for piece in _check_period(period).split(every)
        ]
        return await _bounded_gather([lambda c=c: self._send(c) for c in calls], limit)  # type: ignore[misc]

    async def compute_time_report(
        self,
        organization_id: int,
        inner_organization_ids: Iterable[int],
        period: DateRange | str,
        *,
        every: Every = "month",
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> Report:
        """Return the compute time of many inner organizations, for each piece of ``period``.

        Requests run concurrently (at most ``concurrency`` at once) over this client's one
        connection pool; results are ordered by inner organization, then period, whatever order
        they finish in. A request that fails for good is recorded in ``Report.errors`` and the
        others go on. See :meth:`Client.compute_time_report` for the arguments.

        Raises:
            ValueError, TypeError: a bad argument (before any request).
        """
        plan = _report.make_plan(
            organization_id, inner_organization_ids, _check_period(period), every, _check_id
        )
        limit = check_int("concurrency", concurrency, minimum=1)
        org = plan.organization_id

        async def send(inner: int, piece: DateRange) -> ComputeTime:
            return await self._send(_compute_time_call(org, inner, piece))  # type: ignore[no-any-return]

        return await _report.run_async(plan, send, limit, on_progress)

    async def metrics(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool | None = None,
        project_visibility: ProjectVisibility | None = None,
    ) -> OrganizationMetrics:
        """Return an organization's metrics. See :meth:`Client.metrics`."""
        return await self._send(  # type: ignore[no-any-return]
            _metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        )


async def _bounded_gather(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``jobs`` with at most ``limit`` at once; results in job order.

    On the first failure the remaining jobs are cancelled and that failure is raised as itself
    (not wrapped in an ExceptionGroup, so ``except NotFoundError`` works for callers).
    """
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    tasks = [asyncio.ensure_future(run(job)) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
