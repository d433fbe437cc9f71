"""``Client`` and ``AsyncClient``: auth, configuration, the request path, retries and pacing.

Each method turns its arguments into a prepared call (:mod:`ei_usage._calls`: built from the
generated operation's request description, validated before any request) and sends it through
one request path, shared by every operation:

* the client-wide rate schedule (:mod:`ei_usage._ratelimit`) says when the attempt may go;
* the attempt is bounded: the answer is streamed and capped (:mod:`ei_usage._transport`), and
  ``timeout`` is the deadline of everything from connecting to its last byte (the sync client's
  sockets keep it, :mod:`ei_usage._deadline`; the async client uses ``asyncio.timeout``);
* the answer is checked and converted by :mod:`ei_usage._parse`, so failures are typed
  exceptions that name the field, never a bare ``KeyError`` from a generated model;
* a failure is retried per :mod:`ei_usage._retry`, a 429 on its own budget.

Bulk methods run many calls through :mod:`ei_usage._runner` and assemble :mod:`ei_usage._report`.
"""

from __future__ import annotations

import copy
import logging
import ssl
import sys
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

import attrs
import httpx

from . import _options, _paging, _transport
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    ENV_ACCESS_TOKEN,
    ENV_API_KEY,
    ENV_JWT_TOKEN,
    ClientConfig,
    check_int,
    env_arguments,
    timeout_seconds,
)
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    EdgeImpulseError,
    RateLimitError,
    ReportInterrupted,
    RequestInfo,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
)
from ._lazy import LazyModule
from ._ratelimit import THROTTLE_STOP_ROUNDS, RateController, RateStats
from ._retry import THROTTLE_RETRIES, RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    import asyncio
    from collections.abc import (
        Awaitable,
        Callable,
        Iterable,
        Mapping,
        Sequence,
    )
    from datetime import timedelta
    from types import TracebackType

    from . import _calls, _history, _listing, _parse, _plan, _raw, _report, _runner
    from ._dates import DateRange, Every
    from ._history import UsageHistory
    from ._listing import AsyncOrganizationListing, ListingFailure, OrganizationListing
    from ._models import (
        ComputeTime,
        InnerOrganization,
        InnerOrganizationUsage,
        OrganizationMetrics,
        ProjectVisibility,
    )
    from ._report import EntitlementReport, ProgressCallback, Report

else:
    # Loaded on first use (_lazy): a sync call never needs the report machinery, and no module
    # here needs the generated client before the first request.
    _calls = LazyModule("ei_usage._calls")
    _history = LazyModule("ei_usage._history")
    _listing = LazyModule("ei_usage._listing")
    _parse = LazyModule("ei_usage._parse")
    _plan = LazyModule("ei_usage._plan")
    _raw = LazyModule("ei_usage._raw")
    _report = LazyModule("ei_usage._report")
    _runner = LazyModule("ei_usage._runner")

logger = logging.getLogger("ei_usage")
# A library speaks only when the application configures logging: without this, Python's
# last-resort handler would print every retry warning on stderr.
logger.addHandler(logging.NullHandler())
T = TypeVar("T")

USER_AGENT = f"ei-usage/{__version__}"
_VISIBILITIES = ("public", "private")


# ---- transport errors --------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    """Return ``error`` and the exceptions it was raised from, innermost last (bounded)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_transient(error: httpx.RequestError) -> tuple[bool, str | None]:
    """Return whether repeating the request could help, and a better description if known.

    Refused, reset and dropped connections and timeouts are worth another try. A certificate that
    does not verify, a TLS protocol mismatch, or an answer that is not HTTP will be the same next
    time, so they are raised at once.
    """
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return False, f"TLS certificate check failed: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError) and not isinstance(cause, ssl.SSLEOFError):
            return False, f"TLS failed: {cause.reason or cause}"
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return False, None
    if isinstance(error, httpx.ProxyError) and str(error).startswith("407"):
        # The proxy refused its credentials (the message is the status line, never the URL).
        return False, f"the proxy refused its credentials ({error})"
    if isinstance(error, httpx.RemoteProtocolError):
        text = str(error).lower()
        # A server that hung up may be back; one that speaks broken HTTP will not be.
        return "disconnected" in text or "closed connection" in text, None
    return True, None


def _connection_error(error: httpx.RequestError, request: RequestInfo) -> APIConnectionError:
    # httpx's messages describe the socket, never the headers, so they are safe to keep; the
    # exception itself is not chained to ours: its .request holds the headers.
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"no answer in time ({type(error).__name__})", request=request)
    transient, described = _is_transient(error)
    detail = described or str(error) or type(error).__name__
    return APIConnectionError(
        f"connection failed: {_parse.shorten(detail, 200)}", request=request, transient=transient
    )


def _closed(request: RequestInfo) -> APIConnectionError:
    return APIConnectionError(
        "the client was closed while this call was in flight", request=request, transient=False
    )


def _timeout(request: RequestInfo, seconds: float) -> APITimeoutError:
    return APITimeoutError(
        f"no whole answer within the attempt's deadline ({seconds:g}s)", request=request
    )


def _prepare(
    http: httpx.Client | httpx.AsyncClient,
    base_url: str,
    call: _calls.Call,
    options: dict[str, Any] | None = None,
) -> tuple[httpx.Request, RequestInfo]:
    # Built once: the same request is re-sent on retries, and its URL describes any error. The
    # URL is joined here, as one string: httpx joining base URL, path and params itself parses
    # the whole URL three times, which was the largest per-call cost (bench/RESULTS.md).
    if options is None:
        request = http.build_request(call.method, base_url + call.target)
    else:
        # Your own httpx client, or a derived client: headers and timeout go on the request.
        request = http.build_request(call.method, base_url + call.target, **options)
    return request, RequestInfo(method=call.method, url=str(request.url))


# ---- shared client logic -----------------------------------------------------------------------

# What is read of a non-2xx answer: enough for the API's message, and no more.
_ERROR_READ_BYTES = 64 * 1024


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_rate: float | None = None,
        adaptive_rate: bool = True,
        max_throttle_retries: int = THROTTLE_RETRIES,
        verify: _options.Verify = None,
        proxy: str | httpx.Proxy | None = None,
        http_client: httpx.Client | httpx.AsyncClient | None = None,
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
            max_response_bytes=max_response_bytes,
        )
        throttle_retries = check_int("max_throttle_retries", max_throttle_retries, minimum=0)
        self._policy = RetryPolicy(
            max_retries=self._config.max_retries, max_throttle_retries=throttle_retries
        )
        if not isinstance(adaptive_rate, bool):
            raise TypeError(f"adaptive_rate must be a bool, got {type(adaptive_rate).__name__}")
        # One schedule for every call of this client, threads and tasks alike (_ratelimit).
        self._rate = RateController(
            max_rate=max_rate,
            adaptive=adaptive_rate,
            clock=lambda: _clock(),
            # A lone call keeps all its tries: the rounds budget is one more than they are.
            stop_rounds=max(THROTTLE_STOP_ROUNDS, throttle_retries + 2),
        )
        self._rate_cuts = 0
        self._redact = self._config.credential.redact
        self._verify = _options.ssl_context(verify)
        self._proxy = _options.check_proxy(proxy)
        if http_client is not None and (verify is not None or proxy is not None):
            raise ValueError(
                "verify= and proxy= configure the connection pool ei-usage builds; with "
                "http_client= configure them on that httpx client instead"
            )
        self._user_http = http_client
        # The client whose pool and locks serve this one: itself, or for a derived client
        # (with_options) the client it was derived from, whose pool it shares.
        self._owner: Any = self
        self._cap: RateController | None = None  # with_options(max_rate=): an extra cap
        self._extra_headers: dict[str, str] = {}
        # What build_request needs besides the URL: None (the fast path) when the pool's own
        # headers and timeout are this client's.
        self._request_options: dict[str, Any] | None = None
        self._refresh_request_options()

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

    def _headers(self, *, user_agent: bool = True) -> dict[str, str]:
        headers = {
            **self._config.credential.headers(),
            "user-agent": USER_AGENT,
            "accept": "application/json",
            # Exactly the encodings the capped reader decodes (see _transport).
            "accept-encoding": _transport.ACCEPT_ENCODING,
        }
        if not user_agent:
            del headers["user-agent"]
        return headers

    def _http_options(self) -> dict[str, Any]:
        limit = self._config.max_connections
        options: dict[str, Any] = {
            "base_url": self._config.base_url,
            "headers": self._headers(),
            "timeout": self._config.timeout,
            # Never follow a redirect: the credential header would travel to wherever it points.
            "follow_redirects": False,
            # Keep every connection we may use concurrently, instead of httpx's default of 20,
            # so a bulk run does not reconnect on every request.
            "limits": httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        }
        if self._verify is not None:
            options["verify"] = self._verify
        if self._proxy is not None:
            options["proxy"] = self._proxy
        return options

    def _refresh_request_options(self) -> None:
        """Work out what each request must carry itself (see ``_prepare``)."""
        headers: dict[str, str] = {}
        timeout: float | None = None
        user_http = self._owner._user_http
        if user_http is not None:
            # Not the user's client's defaults: every request carries the credential, the
            # encodings the capped reader decodes, and the attempt's timeout. Its own
            # User-Agent, if it set one, is kept.
            headers.update(self._headers(user_agent=_options.default_user_agent(user_http)))
            timeout = self._config.timeout
        elif self._config.timeout != self._owner._config.timeout:
            timeout = self._config.timeout
        headers.update(self._extra_headers)
        self._request_options = _options.request_options(headers=headers, timeout=timeout)

    def with_options(
        self,
        *,
        timeout: float | timedelta | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
        max_rate: float | None = None,
    ) -> Self:
        """Return a client for a call or a few, with other options, sharing this one's pool.

        The derived client shares this client's connection pool (no new connections) and its
        client-wide rate schedule (429 pauses and adaptation); only what is given changes.
        Building one is cheap: ``client.with_options(timeout=5).metrics(1)`` is fine per call.
        Closing a derived client does nothing: the pool belongs to the client it derives from.

        Args:
            timeout: the deadline of one attempt (seconds or a timedelta).
            max_retries: retries after the first attempt (0 disables, 429s included).
            headers: extra request headers, added to those of the client derived from. The
                credential headers, ``accept-encoding`` and hop-by-hop headers are refused.
            max_rate: an extra cap, in requests per second, on the requests of the derived
                client (and of clients derived from it): they are paced by it *and* by the
                shared schedule, so it can only slow them, never lift this client's
                ``max_rate`` or its adaptation to 429s. Keep the derived client to keep the cap:
                each ``with_options(max_rate=...)`` starts a new one.

        Raises:
            ValueError, TypeError: an invalid option (as the constructor would say).
        """
        derived = copy.copy(self)
        config = self._config
        if timeout is not None or max_retries is not None:
            derived._config = attrs.evolve(
                config,
                timeout=config.timeout if timeout is None else timeout_seconds(timeout),
                max_retries=config.max_retries
                if max_retries is None
                else check_int("max_retries", max_retries, minimum=0),
            )
            derived._policy = attrs.evolve(self._policy, max_retries=derived._config.max_retries)
        if headers is not None:
            derived._extra_headers = {**self._extra_headers, **_options.check_headers(headers)}
        if max_rate is not None:
            derived._cap = RateController(max_rate=max_rate, adaptive=False, clock=lambda: _clock())
        derived._refresh_request_options()
        return derived

    def _body_limit(self, response: httpx.Response) -> tuple[int, bool]:
        """Return how much of an answer to read, and whether to cut it there rather than fail."""
        if 200 <= response.status_code < 300:
            return self._config.max_response_bytes, False
        return min(_ERROR_READ_BYTES, self._config.max_response_bytes), True

    def _body_error(
        self, error: Exception, response: httpx.Response, request: RequestInfo
    ) -> EdgeImpulseError:
        """Turn a failure to read a body into the exception the call raises."""
        if isinstance(error, _transport.BodyTooLargeError):
            limit = self._config.max_response_bytes
            return ResponseTooLargeError(
                f"response body is larger than max_response_bytes ({limit:,} bytes)",
                limit_bytes=limit,
                status_code=response.status_code,
                request=request,
            )
        if isinstance(error, _transport.DeadlineError):
            return _timeout(request, self._config.timeout)
        return ResponseValidationError(
            f"response body cannot be read: {error}",
            status_code=response.status_code,
            request=request,
        )

    def rate_stats(self) -> RateStats:
        """Return how this client's requests are being paced: rate, 429s absorbed, pauses.

        ``rate_per_second`` is None until the server first answers 429 (or without ``max_rate``);
        ``throttles`` counts the 429 answers absorbed so far.
        """
        return self._rate.stats()

    def _answered(self, error: EdgeImpulseError | None, ticket: int, sent_at: float) -> None:
        """Tell the rate controller how an attempt ended (``sent_at``: ``_clock()`` at sending)."""
        if error is None or isinstance(error, APIError | ResponseValidationError):
            if isinstance(error, RateLimitError):
                # A Retry-After longer than the policy waits raises for this call alone: it
                # must not pause (or slow) every other request of the client.
                wait = error.retry_after
                refused = wait is not None and wait.total_seconds() > self._policy.max_retry_after
                self._rate.on_throttle(wait, ticket=ticket, sent_at=sent_at, refused=refused)
                cuts = self._rate.stats()
                if cuts.rate_cuts != self._rate_cuts:
                    self._rate_cuts = cuts.rate_cuts
                    logger.warning(
                        "ei_usage: the server is rate limiting (%d answers of 429 so far): "
                        "pacing every request of this client at %.2f per second",
                        cuts.throttles,
                        cuts.rate_per_second or 0.0,
                    )
            else:
                if isinstance(error, ServerError) and error.status_code == 503:
                    # The server is down for every request, not this one alone: pause them all
                    # as for a 429, unless the wait is longer than the policy honours.
                    wait = error.retry_after
                    if wait is not None and wait.total_seconds() <= self._policy.max_retry_after:
                        self._rate.pause(wait)
                self._rate.on_success()
        # No answer at all (connection error, timeout): nothing to learn about the rate.

    def _retry_delay(self, retries: int, throttles: int, error: EdgeImpulseError) -> float | None:
        """Decide about one failed attempt: seconds to back off first, or None to raise.

        A 429 is retried up to ``max_throttle_retries`` times, apart from ``max_retries``, and with
        no backoff of its own: the client-wide rate control (the pause for ``Retry-After`` and
        the slower schedule) already spaces the retry. A ``Retry-After`` beyond the policy's
        limit is raised at once, and so is every 429 once the server's throttling has outlasted
        the client's patience (:meth:`RateController.throttled_out`).
        """
        if isinstance(error, RateLimitError) and error.status_code == 429:
            if (
                self._policy.max_retries == 0
                or throttles >= self._policy.max_throttle_retries
                or self._policy.delay(0, error) is None
                or self._rate.throttled_out() is not None
            ):
                return None
            logger.info("ei_usage: %s; retrying when the rate allows", error)
            return 0.0
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


def _log_timing(request: RequestInfo, answer: _parse.Answer, started: float, retries: int) -> None:
    # The request line and status only: headers (the credential) are never logged.
    logger.debug(
        "%s -> %d in %.1f ms%s",
        request,
        answer.status_code,
        (time.monotonic() - started) * 1000,
        f" after {retries} retries" if retries else "",
    )


def _unread(listing: OrganizationListing | AsyncOrganizationListing) -> list[int]:
    """The ids of the organizations whose listing record could not be read."""
    failures: tuple[ListingFailure, ...] = listing.errors
    return [failure.inner_organization_id for failure in failures]


def _read(answer: _parse.Answer, call: _calls.Call, request: RequestInfo, redact: Any) -> Any:
    return call.parse(_parse.check_response(answer, request, redact), request)


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
        timeout: seconds (or a timedelta) one attempt may take in all: connecting, sending and
            receiving the whole answer, however slowly it trickles in. Each retry gets its own.
        max_retries: retries after the first attempt, on 429, 500, 502, 503, 504, transient
            connection errors and timeouts; 0 disables.
        max_throttle_retries: how often a request answered 429 is tried again (default 10), on
            a budget apart from ``max_retries`` (which, at 0, disables these too): the
            client-wide rate control spaces them, and it gives up on a server that keeps
            throttling (see the README's "Rate limits (429)").
        allow_insecure_http: allow ``http://`` to a host other than loopback.
        max_connections: size of the connection pool.
        max_response_bytes: the largest answer read, counted after decompression (default
            4 MiB); a larger one raises :class:`ResponseTooLargeError`.
        transport: an httpx transport to send through (tests: ``httpx.MockTransport``). The
            deadline is then checked between chunks of the answer only.
        verify: the CA bundle that signs the server's certificate: a file or directory path,
            or an ``ssl.SSLContext``. None (the default) trusts certifi's bundle, or
            ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set. Verification cannot be turned off.
        proxy: a proxy URL (``http://user:pass@proxy:3128``; never shown in messages) or an
            ``httpx.Proxy`` for every request. None (the default) reads ``HTTPS_PROXY``,
            ``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` when the pool opens.
        http_client: your own ``httpx.Client`` to send through (mTLS, event hooks, mounts...).
            ei-usage never closes it; ``transport``, ``verify``, ``proxy`` and
            ``max_connections`` are then that client's business (the first three are refused
            here). Redirects are still not followed, and the credential, ``accept-encoding``,
            timeout and body cap still apply to every request (README, "Your own httpx client").

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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_rate: float | None = None,
        adaptive_rate: bool = True,
        max_throttle_retries: int = THROTTLE_RETRIES,
        transport: httpx.BaseTransport | None = None,
        verify: _options.Verify = None,
        proxy: str | httpx.Proxy | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"http_client must be an httpx.Client, got {type(http_client).__name__}"
                " (an httpx.AsyncClient goes to ei_usage.AsyncClient)"
            )
        if http_client is not None and transport is not None:
            raise ValueError("give transport= to your httpx client, not next to http_client=")
        if transport is not None and verify is not None:
            # httpx would silently leave it unused: the transport has its own TLS settings.
            raise ValueError("verify= configures ei-usage's own transport; set it on yours")
        super().__init__(
            api_key,
            jwt_token=jwt_token,
            access_token=access_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            max_rate=max_rate,
            adaptive_rate=adaptive_rate,
            max_throttle_retries=max_throttle_retries,
            verify=verify,
            proxy=proxy,
            http_client=http_client,
        )
        self._transport = transport
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        owner = self._owner  # a derived client uses the pool of the client it derives from
        http: httpx.Client | None = owner._http
        if http is None:
            with owner._lock:
                if owner._http is None:
                    owner._http = owner._open()
                http = owner._http
        return http

    @property
    def with_raw_response(self) -> _raw.RawCalls:
        """The single-request operations, returning :class:`RawResponse` (status, headers...).

        ``client.with_raw_response.compute_time(1, 2, "2024-05").headers``; ``.parse()`` gives
        the usual result. Sent exactly like the plain call (retries, pacing, caps).
        """
        return _raw.RawCalls(self)

    def _open(self) -> httpx.Client:
        from . import _deadline  # loads httpcore: only when a pool opens

        if self._user_http is not None:
            http: httpx.Client = self._user_http  # type: ignore[assignment]
            # Its transports, when they are httpx's own, keep attempt deadlines too; the
            # wrapper changes nothing for requests sent outside ei-usage (no attempt is set).
            for transport in (http._transport, *http._mounts.values()):
                if transport is not None:
                    _deadline.install(transport)
            return http
        http = httpx.Client(**self._http_options(), transport=self._transport)
        if self._transport is None:
            # httpx's own transport, and any it mounted for proxies from the environment.
            for transport in (http._transport, *http._mounts.values()):
                if transport is not None:
                    _deadline.install(transport)
        return http

    def close(self) -> None:
        """Close the connection pool. A later call opens a new one.

        Calls still in flight on the closed pool raise :class:`APIConnectionError` (not retried).
        A client given as ``http_client=`` is not closed (its owner closes it), and closing a
        client made by :meth:`with_options` does nothing (the pool is its parent's).
        """
        if self._owner is not self:
            return
        with self._lock:
            http, self._http = self._http, None
        if http is not None and http is not self._user_http:
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

    def _attempt(
        self,
        http: httpx.Client,
        prepared: httpx.Request,
        request: RequestInfo,
        stop: threading.Event | None,
    ) -> _parse.Answer:
        """Send once and read the answer, within one deadline; raise EdgeImpulseError."""
        deadline = time.monotonic() + self._config.timeout
        token = _transport.ATTEMPT.set(_transport.Attempt(deadline, stop))
        failure: EdgeImpulseError | None = None
        try:
            # follow_redirects per request: your own httpx client may follow them by default.
            response = http.send(prepared, stream=True, follow_redirects=False)
        except httpx.RequestError as error:
            failure = _connection_error(error, request)
        except RuntimeError:
            if not http.is_closed:
                raise
            failure = _closed(request)
        else:
            try:
                limit, cut = self._body_limit(response)
                return _parse.Answer(
                    response.status_code,
                    response.headers,
                    *_transport.read(response, limit, deadline=deadline, cut=cut),
                )
            except httpx.RequestError as error:
                failure = _connection_error(error, request)
            except _transport.BodyError as error:
                failure = self._body_error(error, response, request)
            finally:
                response.close()
        finally:
            _transport.ATTEMPT.reset(token)
        # Raised here, outside the except blocks, so httpx's exception is not its __context__.
        raise failure

    def _send(
        self, call: _calls.Call, stop: threading.Event | None = None, *, raw: bool = False
    ) -> Any:
        http = self._client()
        prepared, request = _prepare(http, self._config.base_url, call, self._request_options)
        started = time.monotonic()
        retries = throttles = 0
        while True:
            cap = self._cap
            if cap is not None:  # with_options(max_rate=): its own schedule first
                place = cap.ticket()
                while (wait := cap.seconds_until(place)) > 0:
                    if stop is not None and stop.is_set():
                        raise _runner.Stopped
                    _pace(wait, stop)
            ticket = self._rate.ticket()
            while True:
                if stop is not None and stop.is_set():
                    raise _runner.Stopped
                wait = self._rate.seconds_until(ticket)
                if wait <= 0:
                    break
                _pace(wait, stop)
            failure: EdgeImpulseError | None = None
            sent_at = _clock()
            try:
                answer = self._attempt(http, prepared, request, stop)
                result = _read(answer, call, request, self._redact)
            except EdgeImpulseError as error:
                failure = error
            self._answered(failure, ticket, sent_at)
            if failure is None:
                if logger.isEnabledFor(logging.DEBUG):
                    _log_timing(request, answer, started, retries + throttles)
                if raw:
                    return _raw.make(
                        answer,
                        result,
                        request,
                        self._redact,
                        attempt_seconds=_clock() - sent_at,
                        call_seconds=time.monotonic() - started,
                        retries=retries,
                        throttles=throttles,
                    )
                return result
            if stop is not None and stop.is_set():
                raise _runner.Stopped from None
            if http.is_closed and isinstance(failure, APIConnectionError):
                raise _closed(request) from None
            delay = self._retry_delay(retries, throttles, failure)
            if delay is None:
                raise failure
            if isinstance(failure, RateLimitError):
                throttles += 1
                continue
            if stop is None:
                _sleep(delay)
            else:
                _sleep(delay, stop)
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
        return self._send(_calls.compute_time_call(organization_id, inner_organization_id, period))  # type: ignore[no-any-return]

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
            _calls.compute_time_call(organization_id, inner_organization_id, piece)
            for piece in _plan.check_period(period).split(every)
        ]
        return [self._send(call) for call in calls]

    def compute_time_report(
        self,
        organization_id: int,
        inner_organization_ids: Iterable[int | InnerOrganization] | Literal["all"],
        period: DateRange | str,
        *,
        every: Every = "month",
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
        with_names: bool = False,
        store: UsageHistory | None = None,
        refresh: bool = False,
        settle: timedelta | None = None,
    ) -> Report:
        """Return the compute time of many inner organizations, for each piece of ``period``.

        Requests run on ``concurrency`` threads sharing this client's connection pool. A request
        that fails for good is recorded in ``Report.errors`` and the others go on; call
        ``report.raise_for_errors()`` to turn failures into one exception. When the server is
        unreachable (5 requests in a row fail to connect) the report stops and lists the rest in
        ``Report.not_attempted``.

        Args:
            organization_id: the white-label organization you administer.
            inner_organization_ids: the organizations within it (duplicates are ignored): ids,
                :class:`InnerOrganization` objects (their names go into the rows), or ``"all"`` to
                list the white label's organizations first (deleted ones included: they used
                compute time before they were deleted).
            period: a :class:`DateRange` or a string :meth:`DateRange.parse` accepts.
            every: the calendar unit of each request.
            concurrency: requests in flight at once.
            on_progress: ``on_progress(done, total)``, called on this thread as requests finish.
            with_names: for ids, list the white label's organizations first (two requests per
                100 of them: see ``include_deleted`` of :meth:`inner_organizations`) so that
                rows carry names and whether they are deleted; ``"all"`` always does.
            store: a history store (:class:`ei_usage.store.Store`, or any
                :class:`UsageHistory`) to read through: rows of closed periods it holds are
                taken from it, not asked for again (``Report.from_store`` says which, and when
                they were fetched); every row fetched is kept in it as it arrives.
            refresh: with ``store``, ask the API for every period again (and keep the answers).
            settle: how long after its end a period may still change (default 3 days); only
                periods that ended longer ago are taken from ``store``.

        Raises:
            ReportInterrupted: Ctrl-C (a ``KeyboardInterrupt``): nothing more is sent, and its
                ``report`` holds every row fetched so far.
            EdgeImpulseError: listing the organizations (``"all"`` or ``with_names``) failed.
            ValueError, TypeError: a bad argument (before any request).
        """
        if _loop_is_running():
            warnings.warn(
                "Client.compute_time_report blocks the running event loop until the report is "
                "done; in async code use `await AsyncClient.compute_time_report(...)`",
                RuntimeWarning,
                stacklevel=2,
            )
        # 1. Plan: every argument checked before any request.
        limit = check_int("concurrency", concurrency, minimum=1)
        given = _plan.targets(inner_organization_ids)
        plan = _plan.compute_time(organization_id, given, period, every)
        if given is None or with_names:
            # Deleted organizations too: they used compute time before they were deleted.
            listing = self._listing(plan.organization_id, include_deleted=True)
            listed = list(listing)
            plan = _plan.with_listing(
                plan, listed, _unread(listing), listing.stop_reason, replace_ids=given is None
            )
        # 2. Store: closed periods it holds are not asked for again.
        known, jobs = _history.lookup(
            store, plan.organization_id, plan.jobs(), every=every, refresh=refresh, settle=settle
        )
        keep = None if store is None else _history.Keeper(store, every)

        # 3. Send: the rest, concurrently, through the one request path.
        org = plan.organization_id

        def send(job: tuple[int, DateRange], stop: threading.Event) -> ComputeTime:
            return self._send(_calls.compute_time_call(org, *job), stop)  # type: ignore[no-any-return]

        try:
            outcomes, reason = _runner.run_threads(
                jobs,
                send,
                limit,
                on_progress,
                throttled=self._rate.throttled_out,
                on_outcome=keep,
            )
        except _runner.Interrupted as interrupted:
            partial = _report.assemble(plan, jobs, interrupted.outcomes, _runner.INTERRUPTED, known)
            raise ReportInterrupted(partial) from None
        # 4. Assemble: rows in plan order, from the store or as sent.
        return _report.assemble(plan, jobs, outcomes, reason, known)

    def inner_organizations(
        self,
        organization_id: int,
        *,
        include_deleted: bool = False,
        active_within_days: int | None = None,
        search: str | None = None,
        page_size: int = _paging.DEFAULT_PAGE_SIZE,
    ) -> OrganizationListing:
        """Iterate over the organizations of a white label, paging transparently.

        Pages are read as they are needed, sorted by id; an organization present during the
        whole listing is yielded exactly once even if others are added or removed meanwhile
        (see :mod:`ei_usage._paging` for how).

        A server whose pages go nowhere (a ``total`` that overstates, ``offset`` ignored) ends
        the listing after a few pages that bring nothing new, keeping what was listed; a
        record with a usable id but a bad field (say a limit of ``"abc"``) is skipped. After
        iteration the returned listing's ``stop_reason`` and ``errors`` say so, and an
        :class:`IncompleteListingWarning` is issued.

        Args:
            organization_id: the white-label organization you administer.
            include_deleted: list deleted organizations too, marked ``deleted``. The listing
                record does not say which are deleted, so the organizations are listed a second
                time without them (twice the requests); those only in the first listing are
                marked. Nothing is yielded before both listings are read.
            active_within_days: only organizations active in the last this many days.
            search: only organizations matching this text (the API matches ids and names).
            page_size: organizations per request (2 to 1000).

        Raises:
            EdgeImpulseError: a page could not be read (raised while iterating).
            ValueError, TypeError: a bad argument (raised at once, before any request).
        """
        listing = _plan.listing(
            organization_id, include_deleted, active_within_days, search, page_size
        )
        return _listing.OrganizationListing(listing, _plan.without_deleted(listing), self._page)

    def _page(self, listing: _plan.Listing, page: _paging.Request) -> _parse.Page:
        return self._send(_calls.organizations_call(listing, page))  # type: ignore[no-any-return]

    def _listing(
        self, organization_id: int, *, include_deleted: bool = False
    ) -> OrganizationListing:
        """A report's listing of "all": no warning, the report records what went wrong."""
        listing = _plan.listing(
            organization_id, include_deleted, None, None, _paging.DEFAULT_PAGE_SIZE
        )
        live = _plan.without_deleted(listing)
        return _listing.OrganizationListing(listing, live, self._page, warn=False)

    def inner_organization(
        self, organization_id: int, inner_organization_id: int, *, include_deleted: bool = False
    ) -> InnerOrganizationUsage:
        """Return an inner organization's use of its running contract, with its entitlements.

        Args:
            organization_id: the white-label organization you administer.
            inner_organization_id: the organization within it.
            include_deleted: allow a deleted organization (else the API answers 404).

        Raises:
            EdgeImpulseError: the request failed (see the exception tree).
            ValueError, TypeError: a bad argument (before any request).
        """
        return self._send(  # type: ignore[no-any-return]
            _calls.organization_info_call(organization_id, inner_organization_id, include_deleted)
        )

    def entitlement_report(
        self,
        organization_id: int,
        inner_organizations: Iterable[int | InnerOrganization] | Literal["all"] = "all",
        *,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> EntitlementReport:
        """Return each inner organization's contract usage against its entitlements.

        One request per organization (:meth:`inner_organization`), run like
        :meth:`compute_time_report`: concurrently, recording failures, stopping when the server
        is unreachable. Rows come sorted by the highest fraction of any entitlement used.

        Args:
            organization_id: the white-label organization you administer.
            inner_organizations: ``"all"`` (list them first, deleted ones left out; their names
                go into the rows), ids, or :class:`InnerOrganization` objects.
            concurrency: requests in flight at once.
            on_progress: ``on_progress(done, total)``, called on this thread as requests finish.

        Raises:
            ReportInterrupted: Ctrl-C; its ``report`` is the partial :class:`EntitlementReport`.
            EdgeImpulseError: listing the organizations (``"all"``) failed.
            ValueError, TypeError: a bad argument (before any request).
        """
        # 1. Plan (a listing of "all" first); 2. send; 3. assemble.
        org = _plan.check_id("organization_id", organization_id)
        limit = check_int("concurrency", concurrency, minimum=1)
        given = _plan.targets(inner_organizations)
        listing_stop = None
        if given is None:
            listing = self._listing(org)
            given = [*listing, *_unread(listing)]
            listing_stop = listing.stop_reason
        ids, listed = _plan.entitlements(given)

        def send(inner: int, stop: threading.Event) -> InnerOrganizationUsage:
            usage = self._send(_calls.organization_info_call(org, inner), stop)
            return _plan.named(usage, listed)

        try:
            outcomes, reason = _runner.run_threads(
                ids, send, limit, on_progress, throttled=self._rate.throttled_out
            )
        except _runner.Interrupted as interrupted:
            partial = _report.EntitlementReport.of(
                org, ids, interrupted.outcomes, _runner.INTERRUPTED, listing_stop
            )
            raise ReportInterrupted(partial) from None
        return _report.EntitlementReport.of(org, ids, outcomes, reason, listing_stop)

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
            _calls.metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        )


def _loop_is_running() -> bool:
    # A program that never imported asyncio runs no event loop, and the sync client must not
    # pay asyncio's import (about a third of `import httpx`) to find that out.
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# asyncio is imported where the async client first needs it, not at the top: the sync client
# never needs it (bench/RESULTS.md, import cost). Once imported, `import asyncio` is a dict look-up.
async def _asyncio_sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def _wait(seconds: float, stop: threading.Event | None = None) -> None:
    """Wait before a retry; setting ``stop`` (a report stopping) ends the wait at once."""
    if stop is None:
        time.sleep(seconds)
    else:
        stop.wait(seconds)


# Seams for tests: retries are checked with these patched, never by really waiting. _sleep and
# _async_sleep are the backoff before a retry; _pace and _async_pace the waits for the rate
# controller's schedule, which reads _clock, so a test can run the schedule on virtual time.
_sleep = _wait
_async_sleep = _asyncio_sleep
_pace = _wait
_async_pace = _asyncio_sleep
_clock = time.monotonic


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_rate: float | None = None,
        adaptive_rate: bool = True,
        max_throttle_retries: int = THROTTLE_RETRIES,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: _options.Verify = None,
        proxy: str | httpx.Proxy | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
                " (an httpx.Client goes to ei_usage.Client)"
            )
        if http_client is not None and transport is not None:
            raise ValueError("give transport= to your httpx client, not next to http_client=")
        if transport is not None and verify is not None:
            # httpx would silently leave it unused: the transport has its own TLS settings.
            raise ValueError("verify= configures ei-usage's own transport; set it on yours")
        super().__init__(
            api_key,
            jwt_token=jwt_token,
            access_token=access_token,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            max_rate=max_rate,
            adaptive_rate=adaptive_rate,
            max_throttle_retries=max_throttle_retries,
            verify=verify,
            proxy=proxy,
            http_client=http_client,
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Event loops on two threads may both make a first call: one pool, not two (the other
        # thread then gets the documented "another event loop" error).
        self._lock = threading.Lock()

    def _client(self) -> httpx.AsyncClient:
        import asyncio

        loop = asyncio.get_running_loop()
        owner = self._owner  # a derived client uses the pool of the client it derives from
        with owner._lock:
            if owner._http is None:
                if owner._user_http is not None:
                    # Your own client: which loop it belongs to is yours to keep.
                    owner._http, owner._loop = owner._user_http, None
                else:
                    owner._http = httpx.AsyncClient(
                        **owner._http_options(), transport=owner._transport
                    )
                    owner._loop = loop
            elif owner._loop is not None and owner._loop is not loop:
                raise RuntimeError(
                    "this AsyncClient's connections belong to another event loop"
                    f"{' (now closed)' if owner._loop.is_closed() else ''}: use "
                    "`async with client:` inside each asyncio.run(), or one AsyncClient per loop"
                )
            return owner._http  # type: ignore[no-any-return]

    @property
    def with_raw_response(self) -> _raw.AsyncRawCalls:
        """The single-request operations, returning :class:`RawResponse` (status, headers...).

        See :attr:`Client.with_raw_response`.
        """
        return _raw.AsyncRawCalls(self)

    async def aclose(self) -> None:
        """Close the connection pool. A later call opens a new one, in the loop it runs in.

        Calls still in flight on the closed pool raise :class:`APIConnectionError` (not retried).
        A client given as ``http_client=`` is not closed (its owner closes it), and closing a
        client made by :meth:`with_options` does nothing (the pool is its parent's).
        """
        if self._owner is not self:
            return
        with self._lock:
            http, self._http, self._loop = self._http, None, None
        if http is not None and http is not self._user_http:
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

    async def _attempt(
        self, http: httpx.AsyncClient, prepared: httpx.Request, request: RequestInfo
    ) -> _parse.Answer:
        """Send once and read the answer, within one deadline; raise EdgeImpulseError."""
        import asyncio

        failure: EdgeImpulseError | None = None
        try:
            async with asyncio.timeout(self._config.timeout):
                response = await http.send(prepared, stream=True, follow_redirects=False)
                try:
                    limit, cut = self._body_limit(response)
                    body = await _transport.aread(response, limit, cut=cut)
                except _transport.BodyError as error:
                    failure = self._body_error(error, response, request)
                else:
                    return _parse.Answer(response.status_code, response.headers, *body)
                finally:
                    await response.aclose()
        except TimeoutError:
            failure = _timeout(request, self._config.timeout)
        except httpx.RequestError as error:
            failure = _connection_error(error, request)
        except RuntimeError:
            if not http.is_closed:
                raise
            failure = _closed(request)
        # Raised here, outside the except blocks, so httpx's exception is not its __context__.
        assert failure is not None
        raise failure

    async def _send(self, call: _calls.Call, *, raw: bool = False) -> Any:
        http = self._client()
        prepared, request = _prepare(http, self._config.base_url, call, self._request_options)
        started = time.monotonic()
        retries = throttles = 0
        while True:
            cap = self._cap
            if cap is not None:  # with_options(max_rate=): its own schedule first
                place = cap.ticket()
                while (wait := cap.seconds_until(place)) > 0:
                    await _async_pace(wait)
            ticket = self._rate.ticket()
            while (wait := self._rate.seconds_until(ticket)) > 0:
                await _async_pace(wait)
            failure: EdgeImpulseError | None = None
            sent_at = _clock()
            try:
                answer = await self._attempt(http, prepared, request)
                result = _read(answer, call, request, self._redact)
            except EdgeImpulseError as error:
                failure = error
            self._answered(failure, ticket, sent_at)
            if failure is None:
                if logger.isEnabledFor(logging.DEBUG):
                    _log_timing(request, answer, started, retries + throttles)
                if raw:
                    return _raw.make(
                        answer,
                        result,
                        request,
                        self._redact,
                        attempt_seconds=_clock() - sent_at,
                        call_seconds=time.monotonic() - started,
                        retries=retries,
                        throttles=throttles,
                    )
                return result
            if http.is_closed and isinstance(failure, APIConnectionError):
                raise _closed(request) from None
            delay = self._retry_delay(retries, throttles, failure)
            if delay is None:
                raise failure
            if isinstance(failure, RateLimitError):
                throttles += 1
                continue
            await _async_sleep(delay)
            retries += 1

    async def compute_time(
        self, organization_id: int, inner_organization_id: int, period: DateRange | str
    ) -> ComputeTime:
        """Return the compute time an inner organization of a white label used in ``period``.

        See :meth:`Client.compute_time`.
        """
        return await self._send(  # type: ignore[no-any-return]
            _calls.compute_time_call(organization_id, inner_organization_id, period)
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
            _calls.compute_time_call(organization_id, inner_organization_id, piece)
            for piece in _plan.check_period(period).split(every)
        ]
        return await _bounded_gather([lambda c=c: self._send(c) for c in calls], limit)  # type: ignore[misc]

    async def compute_time_report(
        self,
        organization_id: int,
        inner_organization_ids: Iterable[int | InnerOrganization] | Literal["all"],
        period: DateRange | str,
        *,
        every: Every = "month",
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
        with_names: bool = False,
        store: UsageHistory | None = None,
        refresh: bool = False,
        settle: timedelta | None = None,
    ) -> Report:
        """Return the compute time of many inner organizations, for each piece of ``period``.

        Requests run concurrently (at most ``concurrency`` at once) over this client's one
        connection pool; results are ordered by inner organization, then period, whatever order
        they finish in. A request that fails for good is recorded in ``Report.errors`` and the
        others go on. See :meth:`Client.compute_time_report` for the arguments.

        Raises:
            EdgeImpulseError: listing the organizations (``"all"`` or ``with_names``) failed.
            ValueError, TypeError: a bad argument (before any request).
        """
        # 1. Plan: every argument checked before any request.
        limit = check_int("concurrency", concurrency, minimum=1)
        given = _plan.targets(inner_organization_ids)
        plan = _plan.compute_time(organization_id, given, period, every)
        if given is None or with_names:
            # Deleted organizations too: they used compute time before they were deleted.
            listing = self._listing(plan.organization_id, include_deleted=True)
            listed = [organization async for organization in listing]
            plan = _plan.with_listing(
                plan, listed, _unread(listing), listing.stop_reason, replace_ids=given is None
            )
        # 2. Store: closed periods it holds are not asked for again.
        known, jobs = _history.lookup(
            store, plan.organization_id, plan.jobs(), every=every, refresh=refresh, settle=settle
        )
        keep = None if store is None else _history.Keeper(store, every)

        # 3. Send: the rest, concurrently, through the one request path.
        org = plan.organization_id

        async def send(job: tuple[int, DateRange]) -> ComputeTime:
            return await self._send(_calls.compute_time_call(org, *job))  # type: ignore[no-any-return]

        outcomes, reason = await _runner.run_async(
            jobs, send, limit, on_progress, throttled=self._rate.throttled_out, on_outcome=keep
        )
        # 4. Assemble: rows in plan order, from the store or as sent.
        return _report.assemble(plan, jobs, outcomes, reason, known)

    def inner_organizations(
        self,
        organization_id: int,
        *,
        include_deleted: bool = False,
        active_within_days: int | None = None,
        search: str | None = None,
        page_size: int = _paging.DEFAULT_PAGE_SIZE,
    ) -> AsyncOrganizationListing:
        """Iterate (``async for``) over the organizations of a white label, paging as needed.

        See :meth:`Client.inner_organizations` (``include_deleted`` lists twice). Arguments are
        checked at once, before any request.
        """
        listing = _plan.listing(
            organization_id, include_deleted, active_within_days, search, page_size
        )
        return _listing.AsyncOrganizationListing(
            listing, _plan.without_deleted(listing), self._page
        )

    async def _page(self, listing: _plan.Listing, page: _paging.Request) -> _parse.Page:
        return await self._send(_calls.organizations_call(listing, page))  # type: ignore[no-any-return]

    def _listing(
        self, organization_id: int, *, include_deleted: bool = False
    ) -> AsyncOrganizationListing:
        """A report's listing of "all": no warning, the report records what went wrong."""
        listing = _plan.listing(
            organization_id, include_deleted, None, None, _paging.DEFAULT_PAGE_SIZE
        )
        live = _plan.without_deleted(listing)
        return _listing.AsyncOrganizationListing(listing, live, self._page, warn=False)

    async def inner_organization(
        self, organization_id: int, inner_organization_id: int, *, include_deleted: bool = False
    ) -> InnerOrganizationUsage:
        """Return an inner organization's use of its running contract, with its entitlements.

        See :meth:`Client.inner_organization`.
        """
        return await self._send(  # type: ignore[no-any-return]
            _calls.organization_info_call(organization_id, inner_organization_id, include_deleted)
        )

    async def entitlement_report(
        self,
        organization_id: int,
        inner_organizations: Iterable[int | InnerOrganization] | Literal["all"] = "all",
        *,
        concurrency: int = 8,
        on_progress: ProgressCallback | None = None,
    ) -> EntitlementReport:
        """Return each inner organization's contract usage against its entitlements.

        See :meth:`Client.entitlement_report`.
        """
        # 1. Plan (a listing of "all" first); 2. send; 3. assemble.
        org = _plan.check_id("organization_id", organization_id)
        limit = check_int("concurrency", concurrency, minimum=1)
        given = _plan.targets(inner_organizations)
        listing_stop = None
        if given is None:
            listing = self._listing(org)
            given = [*[o async for o in listing], *_unread(listing)]
            listing_stop = listing.stop_reason
        ids, listed = _plan.entitlements(given)

        async def send(inner: int) -> InnerOrganizationUsage:
            usage = await self._send(_calls.organization_info_call(org, inner))
            return _plan.named(usage, listed)

        outcomes, reason = await _runner.run_async(
            ids, send, limit, on_progress, throttled=self._rate.throttled_out
        )
        return _report.EntitlementReport.of(org, ids, outcomes, reason, listing_stop)

    async def metrics(
        self,
        organization_id: int,
        *,
        exclude_edge_impulse_users: bool | None = None,
        project_visibility: ProjectVisibility | None = None,
    ) -> OrganizationMetrics:
        """Return an organization's metrics. See :meth:`Client.metrics`."""
        return await self._send(  # type: ignore[no-any-return]
            _calls.metrics_call(organization_id, exclude_edge_impulse_users, project_visibility)
        )


async def _bounded_gather(jobs: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``jobs`` with at most ``limit`` at once; results in job order.

    On the first failure the remaining jobs are cancelled and that failure is raised as itself
    (not wrapped in an ExceptionGroup, so ``except NotFoundError`` works for callers).
    """
    import asyncio

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
