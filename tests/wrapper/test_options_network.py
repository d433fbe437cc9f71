"""Proxies and private CAs with real parts: a TLS server, a trustme CA, the proxy.py proxy.

Every test runs on loopback only: the API is a TLS server on 127.0.0.1 whose certificate a
private CA (trustme) signed, and the proxy is proxy.py (``proxy-py``) in a subprocess on
127.0.0.1 with basic authentication. Its access log proves which tunnels it opened, so "the
proxy saw nothing" is checked, not assumed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import traceback
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import ei_usage._client as client_module
from ei_usage import APIConnectionError, APITimeoutError, AsyncClient, Client, ComputeTime

from .hostile import HostileServer, hostile
from .network import PROXY_PASSWORD, ForwardProxy, api_script, server_context

trustme = pytest.importorskip("trustme", reason="trustme is in requirements/dev.lock")
pytest.importorskip("proxy", reason="proxy.py (proxy-py) is in requirements/dev.lock")

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = "network-test-key"
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@pytest.fixture(scope="module")
def ca() -> Any:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForwardProxy]:
    running = ForwardProxy(tmp_path_factory.mktemp("proxy"))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA variable of the machine running the tests leaks in."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(client_module, "_sleep", lambda seconds, stop=None: waits.append(seconds))
    monkeypatch.setattr(client_module, "_async_sleep", async_sleep)
    return waits


class Api:
    """The TLS API server of one test: its base URL, request heads and connections."""

    def __init__(self, server: HostileServer, heads: list[bytes]) -> None:
        self.server = server
        self.heads = heads
        self.base_url = server.base_url
        self.target = f"127.0.0.1:{server.port}"


@pytest.fixture
def api(ca: Any) -> Iterator[Api]:
    heads: list[bytes] = []
    context = server_context(ca.issue_cert("127.0.0.1", "localhost"))
    with hostile(api_script(heads), tls=context) as server:
        yield Api(server, heads)


def call(api: Api, **kwargs: Any) -> ComputeTime:
    kwargs.setdefault("timeout", 10)
    with Client(KEY, base_url=api.base_url, **kwargs) as client:
        return client.compute_time(1, 2, "2024-05")


def async_call(api: Api, **kwargs: Any) -> ComputeTime:
    kwargs.setdefault("timeout", 10)

    async def go() -> ComputeTime:
        async with AsyncClient(KEY, base_url=api.base_url, **kwargs) as client:
            return await client.compute_time(1, 2, "2024-05")

    return asyncio.run(asyncio.wait_for(go(), 30))


CALLS = [pytest.param(call, id="sync"), pytest.param(async_call, id="async")]


def sent_key(api: Api) -> bool:
    return any(f"x-api-key: {KEY}".encode() in head.lower() for head in api.heads)


# ---- CAs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_verify_takes_a_ca_file(caller: Any, api: Api, ca_file: str) -> None:
    usage = caller(api, verify=ca_file)
    assert usage.total is not None
    assert sent_key(api)


@pytest.mark.parametrize("caller", CALLS)
def test_verify_takes_an_ssl_context(caller: Any, api: Api, ca: Any) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    assert caller(api, verify=context).total is not None


@pytest.mark.parametrize("caller", CALLS)
def test_ssl_cert_file_is_honoured(
    caller: Any, api: Api, ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    assert caller(api).total is not None


@pytest.mark.parametrize("caller", CALLS)
def test_an_unknown_ca_fails_at_once_with_the_certificate_error(
    caller: Any, api: Api, no_retry_waits: list[float]
) -> None:
    other = trustme.CA()
    context = ssl.create_default_context()
    other.configure_trust(context)
    with pytest.raises(APIConnectionError) as info:
        caller(api, verify=context, max_retries=3)
    error = info.value
    assert not isinstance(error, APITimeoutError)
    assert "certificate" in error.message
    assert error.transient is False
    assert no_retry_waits == []  # not retried
    assert api.server.requests == 1  # one handshake, refused by the client
    assert api.heads == []  # nothing was sent


# ---- proxies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_https_proxy_from_the_environment(
    caller: Any,
    api: Api,
    ca_file: str,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    assert caller(api).total is not None
    assert sent_key(api)
    assert forward_proxy.tunnels(api.target) == 1


@pytest.mark.parametrize("caller", CALLS)
def test_proxy_argument(caller: Any, api: Api, ca_file: str, forward_proxy: ForwardProxy) -> None:
    assert caller(api, proxy=forward_proxy.url(), verify=ca_file).total is not None
    assert forward_proxy.tunnels(api.target) == 1


@pytest.mark.parametrize("caller", CALLS)
def test_no_proxy_bypasses_the_proxy(
    caller: Any,
    api: Api,
    ca: Any,
    ca_file: str,
    forward_proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert caller(api, verify=ca_file).total is not None
    assert sent_key(api)
    # A marker tunnel through the proxy, opened after our client closed: once it is logged,
    # a tunnel of ours (closed before it opened) would be too.
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with httpx.Client(proxy=forward_proxy.url(), verify=context, trust_env=False) as marker:
        marker.get(f"{api.base_url}/marker")
    assert forward_proxy.tunnels(api.target) == 1  # the marker's
    # And no other shows up after it (a second line would be ours, logged late).
    assert forward_proxy.tunnels(api.target, at_least=2, timeout=1.0) == 1
    assert len(api.heads) == 2  # ours, directly, and the marker's


@pytest.mark.parametrize("caller", CALLS)
def test_an_unknown_ca_through_the_proxy_is_not_retried(
    caller: Any, api: Api, forward_proxy: ForwardProxy, no_retry_waits: list[float]
) -> None:
    with pytest.raises(APIConnectionError) as info:
        caller(api, proxy=forward_proxy.url(), max_retries=3)  # certifi does not know our CA
    assert "certificate" in info.value.message
    assert info.value.transient is False
    assert no_retry_waits == []
    assert forward_proxy.tunnels(api.target) == 1


def _texts(error: BaseException) -> list[str]:
    texts = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        current = current.__cause__ or current.__context__
    texts.append("".join(traceback.format_exception(error)))
    return texts


@pytest.mark.parametrize("caller", CALLS)
def test_proxy_credentials_are_never_shown(
    caller: Any,
    api: Api,
    ca_file: str,
    forward_proxy: ForwardProxy,
    caplog: pytest.LogCaptureFixture,
    no_retry_waits: list[float],
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    wrong = forward_proxy.url(password="wrong-" + PROXY_PASSWORD)
    with pytest.raises(APIConnectionError) as info:
        caller(api, proxy=wrong, verify=ca_file, max_retries=3)
    error = info.value
    assert "407" in error.message
    assert error.transient is False  # the same credentials will be refused again
    assert no_retry_waits == []
    assert caller(api, proxy=forward_proxy.url(), verify=ca_file).total is not None
    client = Client(KEY, proxy=wrong, verify=ca_file)
    shown = [*_texts(error), repr(client), str(client), caplog.text]
    shown += [str(record.args) for record in caplog.records]
    for text in shown:
        assert PROXY_PASSWORD not in text
    assert "proxy-user" not in error.message


def test_a_proxy_url_is_checked_without_being_echoed() -> None:
    for bad in (
        f"ftp://u:{PROXY_PASSWORD}@proxy.example:21",
        f"http://u:{PROXY_PASSWORD}@proxy example:3128",
        f"http://u:{PROXY_PASSWORD}@proxy.example:notaport",
        f"u:{PROXY_PASSWORD}@proxy.example",
    ):
        with pytest.raises(ValueError, match="proxy") as info:
            Client(KEY, proxy=bad)
        assert PROXY_PASSWORD not in str(info.value)


# ---- the deadline through a proxy --------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLS)
def test_the_attempt_deadline_holds_through_the_proxy(
    caller: Any, ca: Any, ca_file: str, forward_proxy: ForwardProxy
) -> None:
    # The head trickles in over about 4 s, 8 bytes every 0.25 s: every read is far within
    # httpx's own 1 s timeout, so only the attempt's deadline can end the call as a timeout
    # (without it, the whole head arrives, with no body: a ResponseValidationError).
    stop = threading.Event()
    heads: list[bytes] = []
    context = server_context(ca.issue_cert("127.0.0.1"))
    with hostile(api_script(heads, trickle=stop), tls=context) as server:
        try:
            with pytest.raises(APITimeoutError):
                caller(
                    Api(server, heads),
                    proxy=forward_proxy.url(),
                    verify=ca_file,
                    timeout=1,
                    max_retries=0,
                )
        finally:
            stop.set()
    assert len(heads) == 1


def test_the_sync_deadline_is_installed_on_the_proxy_transport(
    ca_file: str, forward_proxy: ForwardProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ei_usage import _deadline

    monkeypatch.setenv("HTTPS_PROXY", forward_proxy.url())
    for client in (Client(KEY, verify=ca_file), Client(KEY, proxy=forward_proxy.url())):
        with client:
            http = client._client()
            proxied = [t for t in http._mounts.values() if t is not None]
            assert proxied
            for transport in proxied:
                assert isinstance(transport._pool._network_backend, _deadline._Backend)  # type: ignore[attr-defined]


# ---- your own httpx client: mTLS through the proxy ---------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_your_own_client_with_a_client_certificate_through_the_proxy(
    asynchronous: bool, ca: Any, forward_proxy: ForwardProxy
) -> None:
    client_ca = trustme.CA()
    heads: list[bytes] = []
    context = server_context(ca.issue_cert("127.0.0.1"), client_ca=client_ca)
    mine = ssl.create_default_context()
    ca.configure_trust(mine)
    client_ca.issue_cert("tool@example.com").configure_cert(mine)
    with hostile(api_script(heads), tls=context) as server:
        base = server.base_url
        if asynchronous:

            async def go() -> ComputeTime:
                async with httpx.AsyncClient(verify=mine, proxy=forward_proxy.url()) as http:
                    async with AsyncClient(KEY, base_url=base, http_client=http) as client:
                        usage = await client.compute_time(1, 2, "2024-05")
                    assert not http.is_closed  # ours does not close yours
                    return usage

            usage = asyncio.run(asyncio.wait_for(go(), 30))
        else:
            with httpx.Client(verify=mine, proxy=forward_proxy.url()) as http:
                with Client(KEY, base_url=base, http_client=http) as client:
                    usage = client.compute_time(1, 2, "2024-05")
                assert not http.is_closed
    assert usage.total is not None
    assert len(heads) == 1
    assert f"x-api-key: {KEY}".encode() in heads[0].lower()
    assert b"user-agent: ei-usage/" in heads[0].lower()


def test_without_the_client_certificate_the_server_refuses(ca: Any) -> None:
    client_ca = trustme.CA()
    context = server_context(ca.issue_cert("127.0.0.1"), client_ca=client_ca)
    mine = ssl.create_default_context()
    ca.configure_trust(mine)
    with hostile(api_script([]), tls=context) as server, pytest.raises(APIConnectionError):
        call(Api(server, []), verify=mine, max_retries=0)
