"""Secret handling: the credential never shows anywhere but its own request header.

Checked places: ``repr``/``str`` of clients, config and credential objects and results; every
exception's ``str``, ``repr``, ``args`` and ``vars()`` (and its whole chain, as a traceback prints
it); log records at every level from every logger, including httpx and httpcore at DEBUG over a
real loopback socket. Also: plain ``http://`` is refused except to loopback, user:password in a
base URL is refused without echoing it, redirects are never followed, and header injection is
refused.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import logging
import socket
import threading
import traceback
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import ei_usage._client as client_module
from ei_usage import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    Client,
    ComputeTime,
    EdgeImpulseError,
    OrganizationMetrics,
    RateLimitError,
    ResponseValidationError,
)
from ei_usage._config import ClientConfig, make_credential

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SECRET = "sk-ei-SECRET-1234567890"
# Also look for a large piece of it, so a partly masked secret is caught too.
FRAGMENTS = (SECRET, "SECRET-1234567890", "sk-ei-SECRET")
CREDENTIAL_KINDS = ["api_key", "jwt_token", "access_token"]
HEADER_OF = {"api_key": "x-api-key", "jwt_token": "x-jwt-token", "access_token": "authorization"}

CT_BODY = {"success": True, "cpuComputeTime": 90, "gpuComputeTime": 30, "totalComputeTime": 2}
METRICS_BODY = {
    "success": True,
    "metrics": {
        "totalJobsComputeTime": 10,
        "jobsComputeTimeCurrentYear": 2.5,
        "jobsComputeTimeCurrentYearSince": "2024-05-01T00:00:00Z",
        "cpuComputeTimeCurrentContract": 3600,
        "gpuComputeTimeCurrentContract": 90,
        "totalStorage": 1024,
        "projectCount": 3,
        "userCount": 12,
    },
}


def assert_clean(text: str, where: str = "") -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"credential leaked in {where}: {text!r}"


def assert_object_clean(obj: object) -> None:
    assert_clean(repr(obj), "repr")
    assert_clean(str(obj), "str")


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def assert_exception_clean(error: BaseException) -> None:
    """Check the exception, and every exception chained to it, everywhere it can be read."""
    for current in _chain(error):
        name = type(current).__name__
        assert_clean(str(current), f"str({name})")
        assert_clean(repr(current), f"repr({name})")
        assert_clean(repr(current.args), f"{name}.args")
        for key, value in vars(current).items():
            assert_clean(repr(value), f"{name}.{key}")
            assert_clean(str(value), f"{name}.{key}")
    assert_clean("".join(traceback.format_exception(error)), "traceback")


def make_client(kind: str = "api_key", **kwargs: Any) -> Client:
    return Client(**{kind: SECRET}, **kwargs)


def make_async_client(kind: str = "api_key", **kwargs: Any) -> AsyncClient:
    return AsyncClient(**{kind: SECRET}, **kwargs)


def arun(coro: Any, timeout: float = 10.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def async_sleep(seconds: float) -> None:
        pass

    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: None)
    monkeypatch.setattr(client_module, "_async_sleep", async_sleep)


class Script:
    """A MockTransport handler: answers in order (the last repeats) and records requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def json_response(body: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


# Every way a call can fail, as (name, answers); retryable ones repeat so retries happen too.
FAILURES: list[tuple[str, tuple[httpx.Response | Exception, ...]]] = [
    ("400", (json_response({"success": False, "error": "bad request"}, 400),)),
    ("401", (json_response({"success": False, "error": "bad key"}, 401),)),
    ("403", (json_response({"success": False, "error": "msg"}, 403),)),
    ("404", (json_response({"success": False, "error": "no org"}, 404),)),
    ("409", (json_response({"success": False, "error": "conflict"}, 409),)),
    ("429", (json_response({"success": False}, 429, **{"retry-after": "1"}),)),
    ("429-long", (json_response({"success": False}, 429, **{"retry-after": "3600"}),)),
    ("500", (httpx.Response(500, content=b"<html><title>Oops</title></html>"),)),
    ("501", (httpx.Response(501, content=b""),)),
    ("503", (json_response({"success": False, "error": "busy"}, 503),)),
    ("302", (httpx.Response(302, headers={"location": "https://evil.example/"}),)),
    ("success-false", (json_response({"success": False, "error": "refused"}),)),
    ("not-json", (httpx.Response(200, content=b"<html>login</html>"),)),
    ("not-object", (json_response([1, 2]),)),
    ("no-success", (json_response({"metrics": {}}),)),
    ("schema", (json_response({"success": True, "cpuComputeTime": "12", "metrics": None}),)),
    ("connect", (httpx.ConnectError("connection refused"),)),
    ("read-error", (httpx.ReadError("connection reset by peer"),)),
    ("protocol", (httpx.RemoteProtocolError("illegal status line"),)),
    ("read-timeout", (httpx.ReadTimeout("timed out"),)),
    ("connect-timeout", (httpx.ConnectTimeout("timed out"),)),
]


# ==== objects ===================================================================================


class TestObjects:
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_client_repr_and_str(self, cls: type[Client], kind: str) -> None:
        client = cls(**{kind: SECRET})
        assert_object_clean(client)
        assert kind in repr(client)  # it does say which kind of credential is in use

    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    def test_config_and_credential(self, kind: str) -> None:
        credential = make_credential(
            SECRET if kind == "api_key" else None,
            SECRET if kind == "jwt_token" else None,
            SECRET if kind == "access_token" else None,
        )
        assert_object_clean(credential)
        # The credential does carry the value, in the one place it belongs.
        header = credential.headers()[HEADER_OF[kind]]
        assert header == (f"Bearer {SECRET}" if kind == "access_token" else SECRET)
        config = ClientConfig.build(
            SECRET if kind == "api_key" else None,
            jwt_token=SECRET if kind == "jwt_token" else None,
            access_token=SECRET if kind == "access_token" else None,
            base_url="https://studio.edgeimpulse.com/v1",
            timeout=30.0,
            max_retries=3,
            allow_insecure_http=False,
            max_connections=64,
            max_response_bytes=4096,
        )
        assert_object_clean(config)
        assert_object_clean(config.credential)

    def test_client_config_attribute(self) -> None:
        client = make_client()
        assert_object_clean(client._config)
        assert_object_clean(client._config.credential)

    def test_results(self) -> None:
        script = Script(json_response(CT_BODY), json_response(METRICS_BODY))
        with make_client(transport=script.transport()) as client:
            usage = client.compute_time(1, 2, "2024-05")
            metrics = client.metrics(1)
        assert isinstance(usage, ComputeTime)
        assert isinstance(metrics, OrganizationMetrics)
        for result in (usage, metrics):
            assert_object_clean(result)
            assert_clean(json.dumps(result.to_dict()), "to_dict")
        # The credential really was sent: its absence above means something.
        assert script.requests[0].headers["x-api-key"] == SECRET


# ==== exceptions ================================================================================


class TestExceptions:
    @pytest.mark.parametrize(("name", "answers"), FAILURES, ids=[f[0] for f in FAILURES])
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    @pytest.mark.parametrize("call", ["compute_time", "metrics"])
    def test_sync(
        self, kind: str, name: str, answers: tuple[httpx.Response | Exception, ...], call: str
    ) -> None:
        script = Script(*answers)

        def invoke(client: Client) -> object:
            if call == "metrics":
                return client.metrics(1, exclude_edge_impulse_users=True)
            return client.compute_time(1, 2, "2024-05")

        client = make_client(kind, transport=script.transport(), max_retries=1)
        with client, pytest.raises(EdgeImpulseError) as info:
            invoke(client)
        assert_exception_clean(info.value)
        assert script.requests  # the credential was on its way: the check above means something
        assert SECRET in script.requests[0].headers[HEADER_OF[kind]]

    @pytest.mark.parametrize(("name", "answers"), FAILURES, ids=[f[0] for f in FAILURES])
    def test_async(self, name: str, answers: tuple[httpx.Response | Exception, ...]) -> None:
        script = Script(*answers)

        async def go() -> None:
            async with make_async_client(transport=script.transport(), max_retries=1) as client:
                await client.compute_time(1, 2, "2024-05")

        with pytest.raises(EdgeImpulseError) as info:
            arun(go())
        assert_exception_clean(info.value)

    def test_async_bulk_failure(self) -> None:
        script = Script(json_response(CT_BODY), json_response({"success": False}, 404))

        async def go() -> None:
            async with make_async_client(transport=script.transport()) as client:
                await client.compute_time_by_period(1, 2, "2024", concurrency=2)

        with pytest.raises(APIStatusError) as info:
            arun(go())
        assert_exception_clean(info.value)

    @pytest.mark.parametrize(
        "build",
        [
            lambda: Client(SECRET, jwt_token=SECRET),
            lambda: Client(SECRET, access_token="other"),
            lambda: Client(SECRET, base_url="http://studio.acme-whitelabel.example/v1"),
            lambda: Client(SECRET, base_url="not a url"),
            lambda: Client(SECRET, timeout=-1),
            lambda: Client(SECRET, max_retries=-1),
            lambda: Client(SECRET, max_connections=0),
            lambda: Client.from_env({"EI_API_KEY": SECRET, "EI_JWT_TOKEN": SECRET}),
            lambda: Client.from_env({"EI_API_KEY": SECRET, "EI_BASE_URL": "ftp://x/v1"}),
            lambda: AsyncClient(SECRET, jwt_token=SECRET),
            lambda: Client(SECRET).compute_time(-1, 2, "2024-05"),
            lambda: Client(SECRET).compute_time(1, 2, "yesterday"),
            lambda: Client(SECRET).metrics(1, project_visibility="hidden"),  # type: ignore[arg-type]
        ],
    )
    def test_argument_errors(self, build: Callable[[], object]) -> None:
        with pytest.raises((ValueError, TypeError)) as info:
            build()
        assert_exception_clean(info.value)

    def test_unclosed_async_client_error(self) -> None:
        client = make_async_client(transport=Script(json_response(CT_BODY)).transport())
        arun(client.compute_time(1, 2, "2024-05"))
        with pytest.raises(RuntimeError) as info:
            arun(client.compute_time(1, 2, "2024-05"))
        assert_exception_clean(info.value)
        arun(client.aclose())


# ==== logs ======================================================================================


def assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        where = f"log record {record.name}:{record.levelname}"
        assert_clean(record.getMessage(), where)
        assert_clean(repr(record.args), where)
        assert_clean(str(record.msg), where)
        if record.exc_info and record.exc_info[1] is not None:
            assert_exception_clean(record.exc_info[1])
    assert_clean(caplog.text, "formatted log")


def _scenarios(client: Client) -> None:
    """Successful, failing and retried calls."""
    client.compute_time(1, 2, "2024-05")
    client.metrics(1, exclude_edge_impulse_users=False, project_visibility="public")
    for _ in range(3):
        try:
            client.compute_time(1, 2, "2024-05")
        except EdgeImpulseError:
            logging.getLogger("app").exception("call failed")


class TestLogs:
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    def test_mock_transport(self, kind: str, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        script = Script(
            json_response(CT_BODY),
            json_response(METRICS_BODY),
            json_response({"success": False, "error": "busy"}, 503),
            httpx.ConnectError("connection refused"),
            httpx.ReadTimeout("timed out"),
            json_response(CT_BODY),
            json_response({"success": False, "error": "no"}, 403),
            httpx.Response(200, content=b"garbage"),
        )
        with make_client(kind, transport=script.transport(), max_retries=3) as client:
            _scenarios(client)
        names = {r.name for r in caplog.records}
        assert "ei_usage" in names  # the retries were logged
        assert "httpx" in names
        assert any(r.levelno == logging.WARNING and r.name == "ei_usage" for r in caplog.records)
        assert_logs_clean(caplog)

    def test_async(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        script = Script(
            json_response({}, 429),
            httpx.ConnectError("refused"),
            json_response(CT_BODY),
            json_response({"success": False}, 401),
        )

        async def go() -> None:
            async with make_async_client(transport=script.transport()) as client:
                await client.compute_time_by_period(1, 2, "2024-05")
                with pytest.raises(APIStatusError):
                    await client.metrics(1)

        arun(go())
        assert any(r.name == "ei_usage" for r in caplog.records)
        assert_logs_clean(caplog)


# ---- over a real loopback socket, so httpx and httpcore log what they really log --------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.seen_headers.append(dict(self.headers))
        self.server.hits += 1
        if self.path.startswith("/v1/api/organizations/404/"):
            status, body = 404, {"success": False, "error": "no such organization"}
        elif self.path.startswith("/v1/api/organizations/302/"):
            status, body = 302, {}
        elif self.server.hits % 3 == 1:
            status, body = 503, {"success": False, "error": "try again"}
        elif "/metrics" in self.path:
            status, body = 200, METRICS_BODY
        else:
            status, body = 200, CT_BODY
        data = json.dumps(body).encode()
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "https://evil.example/steal")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen_headers: list[dict[str, str]] = []
        self.hits = 0


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TestLogsOverRealSockets:
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    def test_sync(self, server: _Server, kind: str, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with make_client(kind, base_url=base, max_retries=2) as client:
            assert client.compute_time(1, 2, "2024-05").total is not None  # after a 503 retry
            client.metrics(1, project_visibility="private")
            with pytest.raises(APIStatusError) as not_found:
                client.metrics(404)
            assert_exception_clean(not_found.value)
            with pytest.raises(APIStatusError) as redirected:
                client.metrics(302)
            assert redirected.value.status_code == 302
            assert_exception_clean(redirected.value)
        names = {r.name.split(".")[0] for r in caplog.records}
        assert {"ei_usage", "httpx", "httpcore"} <= names
        assert any(
            r.name.startswith("httpcore") and r.levelno == logging.DEBUG for r in caplog.records
        )
        assert_logs_clean(caplog)
        # The credential really did travel, in its header only.
        header = HEADER_OF[kind]
        sent = [h for h in server.seen_headers if header in {k.lower() for k in h}]
        assert len(sent) == server.hits >= 5
        assert all(SECRET in str(h.values()) for h in server.seen_headers)

    def test_async(self, server: _Server, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        base = f"http://127.0.0.1:{server.server_address[1]}/v1"

        async def go() -> None:
            async with make_async_client(base_url=base, max_retries=2) as client:
                await client.compute_time_by_period(1, 2, "2024-Q1", concurrency=2)
                with pytest.raises(APIStatusError) as info:
                    await client.metrics(404)
                assert_exception_clean(info.value)

        arun(go())
        assert any(r.name.startswith("httpcore") for r in caplog.records)
        assert_logs_clean(caplog)

    def test_connection_refused(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        base = f"http://127.0.0.1:{_free_port()}/v1"
        with (
            make_client(base_url=base, max_retries=1) as client,
            pytest.raises(APIConnectionError) as info,
        ):
            client.compute_time(1, 2, "2024-05")
        assert type(info.value) is APIConnectionError
        assert_exception_clean(info.value)
        assert any(r.name.startswith("httpcore") for r in caplog.records)
        assert_logs_clean(caplog)

    def test_timeout(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        with socket.socket() as listener:  # accepts connections, never answers
            listener.bind(("127.0.0.1", 0))
            listener.listen(4)
            base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
            with (
                make_client(base_url=base, timeout=0.2, max_retries=0) as client,
                pytest.raises(APITimeoutError) as info,
            ):
                client.compute_time(1, 2, "2024-05")
        assert_exception_clean(info.value)
        assert_logs_clean(caplog)


# ==== transport security ========================================================================


class TestInsecureHttp:
    @pytest.mark.parametrize(
        "base_url",
        [
            "http://studio.edgeimpulse.com/v1",
            "http://studio.acme-whitelabel.example/v1",
            "http://10.0.0.8/v1",
            "http://192.168.1.2:8080/v1",
            "http://[2001:db8::1]/v1",
            "http://127.0.0.1.nip.io/v1",
            "http://localhost.evil.example/v1",
            "HTTP://studio.edgeimpulse.com/v1",
        ],
    )
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_refused(self, cls: type[Client], base_url: str) -> None:
        with pytest.raises(ValueError, match="allow_insecure_http") as info:
            cls(SECRET, base_url=base_url)
        assert_exception_clean(info.value)

    def test_refused_from_env(self) -> None:
        with pytest.raises(ValueError, match="http"):
            Client.from_env({"EI_API_KEY": SECRET, "EI_BASE_URL": "http://studio.example/v1"})

    @pytest.mark.parametrize(
        ("base_url", "host", "port"),
        [
            ("http://127.0.0.1/v1", "127.0.0.1", None),
            ("http://127.0.0.1:8000/v1", "127.0.0.1", 8000),
            ("http://[::1]:8080/v1", "::1", 8080),
            ("http://localhost/v1", "localhost", None),
            ("http://localhost:3000/v1/", "localhost", 3000),
        ],
    )
    def test_loopback_is_allowed(self, base_url: str, host: str, port: int | None) -> None:
        script = Script(json_response(CT_BODY))
        with make_client(base_url=base_url, transport=script.transport()) as client:
            client.compute_time(1, 2, "2024-05")
        url = script.requests[0].url
        assert (url.scheme, url.host, url.port) == ("http", host, port)
        assert url.path.startswith("/v1/api/organizations/1/")

    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_allow_insecure_http(self, cls: type[Client]) -> None:
        base = "http://studio.acme-whitelabel.example/v1"
        client = cls(SECRET, base_url=base, allow_insecure_http=True)
        assert client.base_url == base

    def test_allow_insecure_http_reaches_the_host(self) -> None:
        script = Script(json_response(CT_BODY))
        base = "http://studio.acme-whitelabel.example/v1"
        client = make_client(base_url=base, allow_insecure_http=True, transport=script.transport())
        with client:
            client.compute_time(1, 2, "2024-05")
        url = script.requests[0].url
        assert (url.scheme, url.host) == ("http", "studio.acme-whitelabel.example")

    def test_https_needs_no_flag(self) -> None:
        assert Client(SECRET, base_url="https://10.0.0.8/v1").base_url == "https://10.0.0.8/v1"


class TestUserInfoInBaseUrl:
    @pytest.mark.parametrize(
        "base_url",
        [
            f"https://user:{SECRET}@studio.edgeimpulse.com/v1",
            f"https://{SECRET}@studio.edgeimpulse.com/v1",
            f"https://:{SECRET}@studio.edgeimpulse.com/v1",
            f"http://user:{SECRET}@localhost:8000/v1",
            f"https://user:{SECRET}@studio.edgeimpulse.com/v1?x=1",
            f"https://user:{SECRET}@/v1",
            f"ftp://user:{SECRET}@studio.edgeimpulse.com/v1",
            f"user:{SECRET}@studio.edgeimpulse.com/v1",
            f"https://studio.edgeimpulse.com/v1#user:{SECRET}@",
        ],
    )
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_refused_without_echo(self, cls: type[Client], base_url: str) -> None:
        with pytest.raises(ValueError, match="base_url") as info:
            cls("an-api-key", base_url=base_url)
        assert_exception_clean(info.value)

    def test_refused_from_env_without_echo(self) -> None:
        environ = {"EI_API_KEY": "k", "EI_BASE_URL": f"https://u:{SECRET}@studio.example/v1"}
        with pytest.raises(ValueError, match="user or password") as info:
            Client.from_env(environ)
        assert_exception_clean(info.value)


class TestRedirects:
    @pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    def test_not_followed_sync(self, status: int, kind: str) -> None:
        script = Script(
            httpx.Response(status, headers={"location": "https://evil.example/"}),
            json_response(CT_BODY),
        )
        client = make_client(kind, transport=script.transport())
        with client, pytest.raises(APIStatusError, match="redirect not followed") as info:
            client.compute_time(1, 2, "2024-05")
        assert len(script.requests) == 1
        assert script.requests[0].url.host == "studio.edgeimpulse.com"
        assert info.value.status_code == status
        assert_exception_clean(info.value)

    def test_not_followed_async(self) -> None:
        script = Script(
            httpx.Response(302, headers={"location": "https://evil.example/"}),
            json_response(CT_BODY),
        )

        async def go() -> None:
            async with make_async_client(transport=script.transport()) as client:
                await client.metrics(1)

        with pytest.raises(APIStatusError) as info:
            arun(go())
        assert info.value.status_code == 302
        assert [r.url.host for r in script.requests] == ["studio.edgeimpulse.com"]


class TestHeaderInjection:
    @pytest.mark.parametrize(
        "value",
        [
            f"{SECRET}\r\nX-Injected: 1",
            f"{SECRET}\nX-Injected: 1",
            f"{SECRET}\rX-Injected: 1",
            f"{SECRET}\x00",
            f"{SECRET}\x01more",
            f"{SECRET}\tmore",
            f"{SECRET}\x7f",
            f"{SECRET}\u00e9",
            f"{SECRET}\u2028more",
        ],
    )
    @pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_refused(self, cls: type[Client], kind: str, value: str) -> None:
        with pytest.raises(ValueError, match=kind) as info:
            cls(**{kind: value})
        assert_exception_clean(info.value)

    @pytest.mark.parametrize("variable", ["EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN"])
    def test_refused_from_env(self, variable: str) -> None:
        with pytest.raises(ValueError, match="line breaks") as info:
            Client.from_env({variable: f"{SECRET}\r\nX-Injected: 1"})
        assert_exception_clean(info.value)

    @pytest.mark.parametrize("value", ["", "   ", "\r\n"])
    def test_empty_is_refused(self, value: str) -> None:
        with pytest.raises(ValueError, match="empty"):
            Client(value)

    @pytest.mark.parametrize("value", [12345, b"bytes-key"])
    def test_non_string_is_refused(self, value: object) -> None:
        with pytest.raises(TypeError):
            Client(value)  # type: ignore[arg-type]

    def test_only_one_header_is_sent(self) -> None:
        script = Script(json_response(CT_BODY))
        with make_client("access_token", transport=script.transport()) as client:
            client.compute_time(1, 2, "2024-05")
        headers = script.requests[0].headers
        assert headers["authorization"] == f"Bearer {SECRET}"
        assert [k for k, v in headers.items() if SECRET in v] == ["authorization"]
        assert_clean(str(script.requests[0].url), "URL")


def test_error_types_carry_request_without_headers() -> None:
    """Every error kind's ``request`` is method + URL, and the URL holds no credential."""
    errors: list[EdgeImpulseError] = []
    for answers in (
        (json_response({"success": False, "error": "x"}, 400),),
        (json_response({"success": False, "error": "x"}),),
        (json_response({}, 429, **{"retry-after": "999"}),),
        (httpx.Response(200, content=b"nope"),),
        (httpx.ConnectError("refused"),),
        (httpx.ReadTimeout("slow"),),
    ):
        script = Script(*answers)
        client = make_client(transport=script.transport(), max_retries=0)
        with client, pytest.raises(EdgeImpulseError) as info:
            client.compute_time(1, 2, "2024-05")
        errors.append(info.value)
    kinds = [type(e) for e in errors]
    assert [type(e).__name__ for e in errors] == [
        "BadRequestError",
        "APIError",
        "RateLimitError",
        "ResponseValidationError",
        "APIConnectionError",
        "APITimeoutError",
    ]
    assert kinds[1] is APIError
    assert issubclass(kinds[2], RateLimitError)
    assert issubclass(kinds[3], ResponseValidationError)
    assert issubclass(kinds[5], APITimeoutError)
    assert isinstance(errors[0], APIError)
    for error in errors:
        assert error.request is not None
        assert error.request.method == "GET"
        assert_clean(error.request.url, "request.url")
        assert_exception_clean(error)


@pytest.mark.parametrize("status", [200, 401, 503])
def test_a_server_echoing_the_credential_does_not_put_it_in_the_error(status: int) -> None:
    import httpx

    from ei_usage import Client, EdgeImpulseError

    secret = "sk-ei-ECHOED-0987654321"

    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        return httpx.Response(
            status, json={"success": False, "error": f"key {key} refused", "echo": [key]}
        )

    client = Client(secret, transport=httpx.MockTransport(echo), max_retries=1)
    with client, pytest.raises(EdgeImpulseError) as info:
        client.metrics(1)
    error = info.value
    assert error.message == "key *** refused"
    everything = f"{error} {error!r} {error.args} {vars(error)}"
    assert secret not in everything
    assert getattr(error, "body", None) == {
        "success": False,
        "error": "key *** refused",
        "echo": ["***"],
    }
