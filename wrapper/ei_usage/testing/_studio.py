"""FakeStudio: a local HTTP simulator of the Studio operations the ei-usage client calls."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from ._faults import Fault, FaultKind, JsonValue
from ._http import Headers, HttpRequest, HttpResponse, HttpServer, error_response, json_response
from ._model import (
    DEFAULT_NOW,
    DEFAULT_ORGANIZATION_ID,
    Credential,
    CredentialKind,
    FakeOrganization,
    Operation,
    _varied,
    default_organizations,
)
from ._params import ParameterError, parse_bool, parse_date_time, parse_visibility, single
from ._usage import UsageTable, to_epoch_ms, usage_table

_LOG = logging.getLogger("ei_usage.testing")

_ALLOWED_METHODS: Final = ("GET", "HEAD")
_ALLOW = (("Allow", ", ".join(_ALLOWED_METHODS)),)
_PREFIX: Final = ("", "v1", "api", "organizations")
_ID = re.compile(r"[0-9]{1,18}")
_MAX_QUERY_FIELDS = 100
_US_PER_SECOND = 1_000_000
_US_PER_MINUTE = 60_000_000

Now: TypeAlias = datetime | Callable[[], datetime]
"""What ``now`` may be: a fixed aware datetime, or a callable returning one on each request."""


@attrs.frozen
class RecordedRequest:
    """A request the fake received, as it arrived on the wire.

    Attributes:
        method: The method, e.g. ``GET``.
        target: The request target exactly as sent, e.g.
            ``/v1/api/organizations/1/metrics?excludeEdgeImpulseUsers=true``.
        path: The path part of the target, not percent-decoded.
        query_string: The query part of the target (after ``?``), not decoded.
        query: The decoded query parameters (``+`` read as a space, as in form encoding), each
            name with its values in order; empty if the query could not be decoded.
        headers: The request headers; values are unmasked on access but masked in any repr.
        operation: The operation the path routes to, or None for an unknown route.
        status: The status answered, or None if the connection was dropped by a fault.
        http_version: ``HTTP/1.1`` or ``HTTP/1.0``.
        connection_id: Numbers the connections of one server run from 1: requests sent on one
            kept-alive connection share it.
    """

    method: str
    target: str
    path: str
    query_string: str
    query: Mapping[str, tuple[str, ...]]
    headers: Headers
    operation: Operation | None
    status: int | None
    http_version: str
    connection_id: int

    def param(self, name: str) -> str | None:
        """Return the first decoded value of a query parameter, None if it was not sent."""
        values = self.query.get(name)
        return values[0] if values else None


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@attrs.define
class _PendingFault:
    fault: Fault
    remaining: int
    operation: Operation | None


@attrs.frozen
class _Running:
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    host: str
    port: int


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _js_number(value: float) -> int | float:
    # Studio is JavaScript: JSON.stringify writes 12.0 as 12. Clients must cope with both.
    return int(value) if value.is_integer() else value


def _iso_z(moment: datetime) -> str:
    """Format like JavaScript's ``Date.prototype.toISOString``: UTC, milliseconds, ``Z``."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def _parse_id(name: str, text: str) -> int:
    if not _ID.fullmatch(text):
        raise _ApiError(400, f"Invalid {name} {text!r}: expected a non-negative integer")
    return int(text)


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("/"):
        path, _, query = target.partition("?")
        return path, query
    if target[:8].lower().startswith(("http://", "https://")):
        parts = urlsplit(target)  # absolute-form, as sent to proxies
        return parts.path or "/", parts.query
    raise _ApiError(400, "Invalid request target: expected a path such as /v1/api/...")


def _route(path: str) -> tuple[Operation, tuple[str, ...]] | None:
    """Match a path to an operation and its raw (decoded, not yet validated) id segments."""
    try:
        segments = [unquote(segment, errors="strict") for segment in path.split("/")]
    except UnicodeDecodeError:
        raise _ApiError(400, "Invalid path: percent-encoding is not valid UTF-8") from None
    if tuple(segments[:4]) != _PREFIX:
        return None
    rest = segments[4:]
    if len(rest) == 2 and rest[1] == "metrics":
        return Operation.METRICS, (rest[0],)
    if (
        len(rest) == 6
        and rest[1:3] == ["whitelabel", "organizations"]
        and rest[4:] == ["usage", "computeTime"]
    ):
        return Operation.COMPUTE_TIME, (rest[0], rest[3])
    return None


def _parse_query(query_string: str) -> tuple[dict[str, tuple[str, ...]], str | None]:
    try:
        pairs = parse_qsl(
            query_string,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except ValueError as error:
        # UnicodeDecodeError is a ValueError, and so is exceeding max_num_fields.
        return {}, f"Invalid query string: {error}"
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return {name: tuple(values) for name, values in grouped.items()}, None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value
    return None


class FakeStudio:
    """A local fake of the two Edge Impulse Studio operations the ei-usage client calls.

    It is a real HTTP/1.1 server on 127.0.0.1 (asyncio, in its own thread), serving::

        GET /v1/api/organizations/{organizationId}/whitelabel/organizations/
            {innerOrganizationId}/usage/computeTime?startDate=...&endDate=...
        GET /v1/api/organizations/{organizationId}/metrics
            [?excludeEdgeImpulseUsers=true|false][&projectVisibility=public|private]

    with deterministic data, Studio-style errors, injectable faults and a request log::

        with FakeStudio(api_key="k") as studio:
            httpx.get(f"{studio.base_url}/api/organizations/1/metrics",
                      headers={"x-api-key": "k"})

    Out of the box organization 1 is a white-label admin organization whose inner organizations
    are 2 to 11, and every credential given to the constructor administers organization 1.

    Requests are answered in this order: unknown route 404; method other than GET or HEAD 405;
    then a pending fault, if any; missing or unknown credential 401; malformed path id 400;
    unknown organization 404; organization not administered by the credential 403; for compute
    time, organization not a white-label admin 403, unknown inner organization 404, inner
    organization outside the white label 403; invalid query 400; else 200.

    Without ``start()`` the object is still a complete model of the data: ``usage``,
    ``compute_time_body`` and ``metrics_body`` compute what the server would answer.

    Args:
        api_key: An API key (``x-api-key`` header) administering organization 1.
        jwt_token: A JWT (``x-jwt-token`` header or ``jwt`` cookie) administering organization 1.
        access_token: An OAuth2 access token (``Authorization: Bearer``) administering
            organization 1.
        organizations: The organizations to serve; None for ``default_organizations(seed)``.
            Inner organizations of a white label that are not listed are added with default data.
        latency: Seconds added before every answer of the two operations (see ``latency``).
        seed: Seeds the usage data (and the default organizations' counts).
        now: The current time for metrics: an aware datetime, a callable returning one, or None
            for ``DEFAULT_NOW`` (a fixed instant, so metrics never change between runs).
        host: The address to listen on; must be a loopback address unless ``allow_remote``.
        port: The port; 0 (the default) picks a free one.
        allow_remote: Allow a non-loopback ``host``. The fake has no real security: think twice.
        record_requests: Keep the request log (turn it off for long-running servers).
        idle_timeout: Seconds an idle keep-alive connection stays open.
        request_timeout: Seconds a client has to send a whole request once it has started.

    Raises:
        ValueError: For an invalid argument, duplicate organization ids, or a non-loopback host
            without ``allow_remote``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        jwt_token: str | None = None,
        access_token: str | None = None,
        organizations: Iterable[FakeOrganization] | None = None,
        latency: float = 0.0,
        seed: int = 0,
        now: Now | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        record_requests: bool = True,
        idle_timeout: float = 15.0,
        request_timeout: float = 10.0,
    ) -> None:
        if not allow_remote and not _is_loopback(host):
            raise ValueError(f"refusing to listen on non-loopback host {host!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
        self._host = host
        self._port = port
        self._seed = seed
        self._record = record_requests
        self._idle_timeout = _check_seconds("idle_timeout", idle_timeout)
        self._request_timeout = _check_seconds("request_timeout", request_timeout)
        self._latency = _check_seconds("latency", latency)
        self._now: Now | None = None
        self.set_now(now)
        self._lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._running: _Running | None = None
        # Copy-on-write: the server thread reads these without the lock.
        self._organizations: dict[int, FakeOrganization] = {}
        self._grants: dict[Credential, frozenset[int]] = {}
        self._faults: collections.deque[_PendingFault] = collections.deque()
        self._requests: list[RecordedRequest] = []

        given = default_organizations(seed) if organizations is None else tuple(organizations)
        ids = [organization.id for organization in given]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate organization ids: {duplicates}")
        for organization in given:
            self.add_organization(organization)
        for credential in (
            None if api_key is None else Credential.api_key(api_key),
            None if jwt_token is None else Credential.jwt_token(jwt_token),
            None if access_token is None else Credential.access_token(access_token),
        ):
            if credential is not None:
                self.grant(credential, DEFAULT_ORGANIZATION_ID)

    # -- configuration -----------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed of the usage data."""
        return self._seed

    @property
    def latency(self) -> float:
        """Seconds added before each answer of the two operations; settable at any time."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency = _check_seconds("latency", seconds)

    def now(self) -> datetime:
        """Return the instant the studio takes as now (for metrics), in UTC.

        Raises:
            ValueError: If a ``now`` callable returned a naive datetime.
        """
        now = self._now
        value = DEFAULT_NOW if now is None else now if isinstance(now, datetime) else now()
        if value.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        return value.astimezone(UTC)

    def set_now(self, now: Now | None) -> None:
        """Set the studio's now: an aware datetime, a callable returning one, or None (default).

        Raises:
            ValueError: For a naive datetime.
        """
        if isinstance(now, datetime) and now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        self._now = now

    @property
    def organizations(self) -> Mapping[int, FakeOrganization]:
        """The organizations served, by id (a read-only snapshot)."""
        return MappingProxyType(self._organizations)

    def add_organization(self, organization: FakeOrganization) -> None:
        """Add an organization, or replace the one with the same id.

        Inner organizations of its white label that the studio does not know yet are added with
        default data.
        """
        with self._lock:
            organizations = dict(self._organizations)
            organizations[organization.id] = organization
            for inner_id in sorted(organization.whitelabel_inner_ids or ()):
                if inner_id not in organizations:
                    organizations[inner_id] = _varied(inner_id, self._seed)
            self._organizations = organizations

    def grant(self, credential: Credential, organization_id: int) -> None:
        """Let a credential administer an organization (the credential becomes valid if new)."""
        with self._lock:
            granted = self._grants.get(credential, frozenset())
            self._grants = {**self._grants, credential: granted | {organization_id}}

    def revoke(self, credential: Credential, organization_id: int | None = None) -> None:
        """Take away a credential's right to one organization, or with None make it invalid."""
        with self._lock:
            grants = dict(self._grants)
            if organization_id is None:
                grants.pop(credential, None)
            elif credential in grants:
                grants[credential] = grants[credential] - {organization_id}
            self._grants = grants

    def administered_by(self, credential: Credential) -> frozenset[int] | None:
        """Return the ids a credential may administer, or None if the studio does not know it."""
        return self._grants.get(credential)

    # -- faults and the request log ----------------------------------------------------------

    def inject(self, fault: Fault, *, times: int = 1, operation: Operation | None = None) -> None:
        """Queue a fault for the next ``times`` matching requests.

        Faults are consumed in the order they were injected: each request to one of the two
        operations takes the first pending fault that applies to its operation.

        Args:
            fault: The fault (see ``Fault``).
            times: How many requests it affects.
            operation: Restrict it to one operation; a fault naming a response field is
                restricted to that field's operation already.

        Raises:
            ValueError: If ``times`` < 1 or ``operation`` contradicts the fault's field.
        """
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an int >= 1, got {times!r}")
        implied = fault.operation
        if operation is not None and implied is not None and operation is not implied:
            raise ValueError(f"field {fault.field} is not in {operation} responses")
        with self._lock:
            self._faults.append(_PendingFault(fault, times, operation or implied))

    @property
    def faults_pending(self) -> int:
        """How many more requests injected faults will affect."""
        with self._lock:
            return sum(pending.remaining for pending in self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first (a copy).

        Every request that parsed as HTTP is recorded, whatever its answer (404, 405, 401, a
        fault, ...); bytes that are not HTTP at all are answered and closed but not recorded.
        """
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Clear pending faults and the request log (organizations and credentials stay)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def _take_fault(self, operation: Operation) -> Fault | None:
        with self._lock:
            for pending in self._faults:
                if pending.operation is None or pending.operation is operation:
                    pending.remaining -= 1
                    if pending.remaining == 0:
                        self._faults.remove(pending)
                    return pending.fault
        return None

    # -- the data model ----------------------------------------------------------------------

    def _organization(self, organization_id: int) -> FakeOrganization:
        try:
            return self._organizations[organization_id]
        except KeyError:
            raise LookupError(f"organization {organization_id} is not known") from None

    def _table(self, organization: FakeOrganization) -> UsageTable:
        return usage_table(
            self._seed, organization.id, organization.usage_percent, organization.gpu
        )

    def _usage_ms(
        self, organization: FakeOrganization, start_ms: int, end_ms: int
    ) -> tuple[int, int]:
        created_ms = to_epoch_ms(organization.created_at)
        return self._table(organization).usage(max(start_ms, created_ms), max(end_ms, created_ms))

    def usage(self, organization_id: int, start: datetime, end: datetime) -> tuple[int, int]:
        """Return the exact CPU and GPU compute an organization used in ``[start, end)``.

        This is the pure function behind the compute-time route: the usage of a range is exactly
        the sum of the usage of its pieces. Both ends are truncated to whole milliseconds.

        Args:
            organization_id: A known organization.
            start: Start of the range, timezone-aware.
            end: End of the range, timezone-aware, not before ``start``.

        Returns:
            ``(cpu_microseconds, gpu_microseconds)``.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For naive datetimes or ``end`` before ``start``.
        """
        start_ms, end_ms = to_epoch_ms(start), to_epoch_ms(end)
        if end < start:
            raise ValueError("end must not be before start")
        return self._usage_ms(self._organization(organization_id), start_ms, end_ms)

    def compute_time_body(
        self, inner_organization_id: int, start: datetime, end: datetime
    ) -> dict[str, JsonValue]:
        """Return the JSON body the compute-time route answers for this inner organization.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For naive datetimes or ``end`` before ``start``.
        """
        cpu, gpu = self.usage(inner_organization_id, start, end)
        return {
            "success": True,
            "cpuComputeTime": _js_number(cpu / _US_PER_SECOND),
            "gpuComputeTime": _js_number(gpu / _US_PER_SECOND),
            "totalComputeTime": _js_number((cpu + gpu) / _US_PER_MINUTE),
        }

    def metrics_body(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool = False,
        project_visibility: str | None = None,
    ) -> dict[str, JsonValue]:
        """Return the JSON body the metrics route answers for this organization, as of ``now()``.

        Compute times cover ``[contract_start, now)`` for the current contract (zero if the
        contract starts later) and ``[created_at, now)`` for ``totalJobsComputeTime``.

        Args:
            organization_id: A known organization.
            exclude_edge_impulse_users: Leave Edge Impulse staff out of ``userCount``.
            project_visibility: ``public`` or ``private`` to count only such projects.

        Raises:
            LookupError: If the organization is not known.
            ValueError: For a ``project_visibility`` other than public, private or None.
        """
        organization = self._organization(organization_id)
        if project_visibility not in (None, "public", "private"):
            raise ValueError(
                f"project_visibility must be public or private, not {project_visibility!r}"
            )
        now_ms = to_epoch_ms(self.now())
        contract_ms = to_epoch_ms(organization.contract_start)
        cpu, gpu = self._usage_ms(organization, contract_ms, max(now_ms, contract_ms))
        created_ms = to_epoch_ms(organization.created_at)
        total_cpu, total_gpu = self._usage_ms(organization, created_ms, max(now_ms, created_ms))
        projects = organization.project_count
        if project_visibility == "public":
            projects = organization.public_project_count
        elif project_visibility == "private":
            projects -= organization.public_project_count
        users = organization.user_count
        if exclude_edge_impulse_users:
            users -= organization.edge_impulse_user_count
        return {
            "success": True,
            "metrics": {
                "totalJobsComputeTime": _js_number((total_cpu + total_gpu) / _US_PER_MINUTE),
                "jobsComputeTimeCurrentYear": _js_number((cpu + gpu) / _US_PER_MINUTE),
                "jobsComputeTimeCurrentYearSince": _iso_z(organization.contract_start),
                "cpuComputeTimeCurrentContract": _js_number(cpu / _US_PER_SECOND),
                "gpuComputeTimeCurrentContract": _js_number(gpu / _US_PER_SECOND),
                "totalStorage": organization.total_storage_bytes,
                "projectCount": projects,
                "userCount": users,
            },
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeStudio:
        """Start serving in a background thread; return self once the port is bound.

        Raises:
            RuntimeError: If it is already running.
            OSError: If the address cannot be bound.
        """
        with self._lifecycle:
            if self._running is not None:
                raise RuntimeError("FakeStudio is already running")
            ready = threading.Event()
            outcome: dict[str, Any] = {}
            thread = threading.Thread(
                target=self._run, args=(ready, outcome), name="FakeStudio", daemon=True
            )
            thread.start()
            ready.wait()
            if "error" in outcome:
                thread.join()
                raise outcome["error"]
            self._running = _Running(
                thread, outcome["loop"], outcome["stop"], outcome["host"], outcome["port"]
            )
        return self

    def stop(self) -> None:
        """Stop serving: close every connection and join the thread. Does nothing if stopped."""
        with self._lifecycle:
            running, self._running = self._running, None
            if running is None:
                return
            # A RuntimeError means the loop already ended (and logged why).
            with contextlib.suppress(RuntimeError):
                running.loop.call_soon_threadsafe(running.stop.set)
            running.thread.join()

    def __enter__(self) -> FakeStudio:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is running."""
        return self._running is not None

    def _address(self) -> tuple[str, int]:
        running = self._running
        if running is None:
            raise RuntimeError("FakeStudio is not running: use start() or a with block")
        return running.host, running.port

    @property
    def host(self) -> str:
        """The address the server is bound to."""
        return self._address()[0]

    @property
    def port(self) -> int:
        """The port the server is bound to."""
        return self._address()[1]

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._address()
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, e.g. ``http://127.0.0.1:54321/v1``."""
        return f"{self.url}/v1"

    def __repr__(self) -> str:
        where = self.base_url if self._running is not None else "not running"
        return f"FakeStudio({where}, organizations={sorted(self._organizations)})"

    def _run(self, ready: threading.Event, outcome: dict[str, Any]) -> None:
        try:
            with asyncio.Runner() as runner:
                runner.run(self._main(ready, outcome))
        except BaseException as error:
            if ready.is_set():
                _LOG.exception("FakeStudio: the server thread failed")
            else:
                outcome["error"] = error
        finally:
            ready.set()

    async def _main(self, ready: threading.Event, outcome: dict[str, Any]) -> None:
        server = HttpServer(
            self._handle, idle_timeout=self._idle_timeout, request_timeout=self._request_timeout
        )
        try:
            outcome["host"], outcome["port"] = await server.start(self._host, self._port)
            stop = asyncio.Event()
            outcome["loop"], outcome["stop"] = asyncio.get_running_loop(), stop
            ready.set()
            await stop.wait()
        finally:
            await server.close()

    # -- request handling (on the server thread) ---------------------------------------------

    async def _handle(self, request: HttpRequest) -> HttpResponse | None:
        try:
            response, delay = self._respond(request)
        except Exception:
            _LOG.exception("FakeStudio: internal error answering %s", request.method)
            return error_response(500, "Internal error in FakeStudio", close=True)
        if delay > 0:
            await asyncio.sleep(delay)
        return response

    def _respond(self, request: HttpRequest) -> tuple[HttpResponse | None, float]:
        path, query_string = request.target, ""
        query: dict[str, tuple[str, ...]] = {}
        operation: Operation | None = None
        response: HttpResponse | None
        delay = 0.0
        try:
            path, query_string = _split_target(request.target)
            query, query_error = _parse_query(query_string)
            route = _route(path)
            if route is None:
                raise _ApiError(404, f"Unknown route: {request.method} {path[:200]}")
            operation, ids = route
            if request.method not in _ALLOWED_METHODS:
                response = error_response(
                    405, f"Method {request.method} not allowed; use GET", _ALLOW
                )
            else:
                fault = self._take_fault(operation)
                delay = self._latency + (fault.delay if fault is not None else 0.0)
                response = self._answer(operation, ids, request.headers, query, query_error, fault)
        except _ApiError as error:
            response = error_response(error.status, error.message)
        if self._record:
            recorded = RecordedRequest(
                method=request.method,
                target=request.target,
                path=path,
                query_string=query_string,
                query=MappingProxyType(query),
                headers=request.headers,
                operation=operation,
                status=None if response is None else response.status,
                http_version=request.version_text,
                connection_id=request.connection_id,
            )
            with self._lock:
                self._requests.append(recorded)
        if _LOG.isEnabledFor(logging.DEBUG):
            # The path and status only: headers (credentials) are never logged.
            status = "dropped" if response is None else response.status
            _LOG.debug("%s %s -> %s", request.method, path[:200], status)
        return response, delay

    def _answer(
        self,
        operation: Operation,
        ids: tuple[str, ...],
        headers: Headers,
        query: Mapping[str, tuple[str, ...]],
        query_error: str | None,
        fault: Fault | None,
    ) -> HttpResponse | None:
        if fault is not None:
            if fault.kind is FaultKind.DROP_CONNECTION:
                return None
            if fault.kind is FaultKind.RESPONSE:
                return HttpResponse(fault.status, fault.body, fault.content_type, fault.headers)
        try:
            payload = self._operation(operation, ids, headers, query, query_error)
        except _ApiError as error:
            return error_response(error.status, error.message)
        if fault is not None:
            fault.apply(payload)
        return json_response(200, payload)

    def _operation(
        self,
        operation: Operation,
        ids: tuple[str, ...],
        headers: Headers,
        query: Mapping[str, tuple[str, ...]],
        query_error: str | None,
    ) -> dict[str, JsonValue]:
        credential = self._authenticate(headers)
        organization_id = _parse_id("organizationId", ids[0])
        inner_id = _parse_id("innerOrganizationId", ids[1]) if len(ids) > 1 else None
        organizations = self._organizations
        organization = organizations.get(organization_id)
        if organization is None:
            raise _ApiError(404, f"Organization {organization_id} not found")
        if organization_id not in self._grants.get(credential, frozenset()):
            raise _ApiError(
                403, f"This credential may not administer organization {organization_id}"
            )
        if inner_id is not None:
            inner_ids = organization.whitelabel_inner_ids
            if inner_ids is None:
                raise _ApiError(
                    403, f"Organization {organization_id} is not a white label admin organization"
                )
            if inner_id not in organizations:
                raise _ApiError(404, f"Organization {inner_id} not found")
            if inner_id not in inner_ids:
                raise _ApiError(
                    403,
                    f"Organization {inner_id} is not part of the white label of organization "
                    f"{organization_id}",
                )
        try:
            if query_error is not None:
                raise ParameterError(query_error)
            if operation is Operation.COMPUTE_TIME:
                assert inner_id is not None  # the route has two ids
                start = parse_date_time("startDate", single(query, "startDate"))
                end = parse_date_time("endDate", single(query, "endDate"))
                if end < start:
                    raise ParameterError(
                        f"endDate ({_iso_z(end)}) must not be before startDate ({_iso_z(start)})"
                    )
                return self.compute_time_body(inner_id, start, end)
            exclude = parse_bool(
                "excludeEdgeImpulseUsers", single(query, "excludeEdgeImpulseUsers")
            )
            visibility = parse_visibility("projectVisibility", single(query, "projectVisibility"))
        except ParameterError as error:
            raise _ApiError(400, str(error)) from None
        return self.metrics_body(
            organization_id, exclude_edge_impulse_users=exclude, project_visibility=visibility
        )

    def _authenticate(self, headers: Headers) -> Credential:
        """Return the credential a request carries; the first carrier present decides.

        Carriers are tried in this order: ``x-api-key``, ``x-jwt-token``, the ``jwt`` cookie,
        ``Authorization: Bearer``. A present but unknown credential is a 401 even if a later
        carrier holds a valid one.
        """
        kind: CredentialKind
        api_key = headers.get("x-api-key")
        jwt = headers.get("x-jwt-token")
        cookie = _cookie(headers["cookie"], "jwt") if "cookie" in headers else None
        authorization = headers.get("authorization")
        if api_key is not None:
            kind, value, what = CredentialKind.API_KEY, api_key, "API key"
        elif jwt is not None:
            kind, value, what = CredentialKind.JWT_TOKEN, jwt, "JWT token"
        elif cookie is not None:
            kind, value, what = CredentialKind.JWT_TOKEN, cookie, "JWT token"
        elif authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise _ApiError(401, "Invalid Authorization header: expected 'Bearer <token>'")
            kind, value, what = CredentialKind.ACCESS_TOKEN, value.strip(), "access token"
        else:
            raise _ApiError(
                401,
                "Missing credentials: send an API key in x-api-key, a JWT in x-jwt-token or the "
                "jwt cookie, or an OAuth2 access token as Authorization: Bearer",
            )
        try:
            credential = Credential(kind, value)
        except ValueError:
            raise _ApiError(401, f"Invalid {what}") from None
        if credential not in self._grants:
            raise _ApiError(401, f"Invalid {what}")
        return credential
