"""Your own httpx client, ``verify=``/``proxy=`` checks, and ``with_options`` derived clients.

The network itself (a real proxy, a private CA) is in test_options_network.py; here the answers
come from ``httpx.MockTransport`` or a loopback server that counts connections.
"""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import ei_usage._client as client_module
from ei_usage import (
    APIConnectionError,
    APIStatusError,
    AsyncClient,
    Client,
    ResponseTooLargeError,
    ServerError,
)

from .hostile import hostile
from .network import api_script
from .test_client import CT_BODY, KEY, Recorder, arun, json_response

# ==== verify= and proxy= ========================================================================


class TestVerifyAndProxyArguments:
    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_verification_cannot_be_turned_off(self, cls: type[Client]) -> None:
        with pytest.raises(ValueError, match="cannot be turned off"):
            cls(KEY, verify=False)  # type: ignore[arg-type]

    def test_a_context_that_does_not_verify_is_refused(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with pytest.raises(ValueError, match="CERT_REQUIRED"):
            Client(KEY, verify=context)

    def test_a_missing_bundle_fails_at_construction(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="not a readable CA bundle"):
            Client(KEY, verify=tmp_path / "missing.pem")
        garbage = tmp_path / "garbage.pem"
        garbage.write_text("not a certificate")
        with pytest.raises(ValueError, match="not a readable CA bundle"):
            Client(KEY, verify=str(garbage))

    def test_wrong_types(self) -> None:
        with pytest.raises(TypeError):
            Client(KEY, verify=42)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Client(KEY, proxy=42)  # type: ignore[arg-type]

    @pytest.mark.parametrize("cls", [Client, AsyncClient])
    def test_verify_next_to_a_transport_is_refused(self, cls: type[Client]) -> None:
        with pytest.raises(ValueError, match="transport"):
            cls(KEY, transport=httpx.MockTransport(Recorder()), verify=ssl.create_default_context())

    def test_verify_and_proxy_reach_the_pool(self, monkeypatch: pytest.MonkeyPatch) -> None:
        made: list[dict[str, Any]] = []
        real = httpx.Client

        def spy(**kwargs: Any) -> httpx.Client:
            made.append(kwargs)
            return real(**kwargs)

        monkeypatch.setattr(client_module.httpx, "Client", spy)
        context = ssl.create_default_context()
        client = Client(KEY, verify=context, proxy="http://u:p@proxy.example:3128")
        client._client()
        client.close()
        assert made[0]["verify"] is context
        assert isinstance(made[0]["proxy"], httpx.Proxy)
        assert made[0]["proxy"].url == httpx.URL("http://proxy.example:3128")

    def test_http_client_excludes_pool_arguments(self) -> None:
        with httpx.Client() as http:
            with pytest.raises(ValueError, match="http_client"):
                Client(KEY, http_client=http, proxy="http://proxy.example:3128")
            with pytest.raises(ValueError, match="http_client"):
                Client(KEY, http_client=http, verify=ssl.create_default_context())
            with pytest.raises(ValueError, match="transport"):
                Client(KEY, http_client=http, transport=httpx.MockTransport(Recorder()))
            with pytest.raises(TypeError, match="AsyncClient"):
                AsyncClient(KEY, http_client=http)  # type: ignore[arg-type]

        async def wrong() -> None:
            async with httpx.AsyncClient() as http:
                with pytest.raises(TypeError, match=r"httpx\.Client"):
                    Client(KEY, http_client=http)  # type: ignore[arg-type]

        arun(wrong())


# ==== your own httpx client =====================================================================


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/go"):
        return httpx.Response(200, json=CT_BODY)
    return httpx.Response(302, headers={"location": "https://elsewhere.example/v1/go"})


class TestYourOwnHttpxClient:
    def test_requests_carry_what_ei_usage_needs_and_the_client_is_not_changed(self) -> None:
        recorder = Recorder()
        seen: list[httpx.Request] = []
        http = httpx.Client(
            transport=recorder.transport(),
            headers={"x-team": "billing", "accept-encoding": "br"},
            timeout=99,
            event_hooks={"request": [seen.append]},
        )
        before = dict(http.headers)
        with Client(KEY, http_client=http, timeout=7) as client:
            usage = client.compute_time(1, 2, "2024-05")
        assert usage.total == timedelta(minutes=2)
        [request] = recorder.requests
        assert request.headers["x-api-key"] == KEY
        assert request.headers["x-team"] == "billing"  # the client's own headers still go
        assert request.headers["accept-encoding"] == "gzip, deflate"  # what the reader decodes
        assert request.headers["user-agent"].startswith("ei-usage/")
        assert request.extensions["timeout"]["read"] == 7
        assert str(request.url).startswith("https://studio.edgeimpulse.com/v1/api/")
        assert seen == [request]  # event hooks run
        assert dict(http.headers) == before  # nothing was set on it
        assert not http.is_closed  # not ours to close
        http.close()

    def test_your_user_agent_is_kept(self) -> None:
        recorder = Recorder()
        with httpx.Client(transport=recorder.transport(), headers={"user-agent": "tool/1"}) as h:
            Client(KEY, http_client=h).compute_time(1, 2, "2024-05")
        assert recorder.requests[0].headers["user-agent"] == "tool/1"

    def test_redirects_are_not_followed_even_if_the_client_would(self) -> None:
        recorder = Recorder(_answer)
        http = httpx.Client(transport=recorder.transport(), follow_redirects=True)
        with http, pytest.raises(APIStatusError) as info:
            Client(KEY, http_client=http).compute_time(1, 2, "2024-05")
        assert info.value.status_code == 302
        assert recorder.calls == 1

    def test_redirects_are_not_followed_async(self) -> None:
        recorder = Recorder(_answer)

        async def go() -> None:
            transport = httpx.MockTransport(recorder)
            async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
                with pytest.raises(APIStatusError):
                    await AsyncClient(KEY, http_client=http).compute_time(1, 2, "2024-05")

        arun(go())
        assert recorder.calls == 1

    def test_the_body_cap_holds(self) -> None:
        big = httpx.Response(200, content=b"[" + b" " * 5000 + b"]")
        with httpx.Client(transport=Recorder(big).transport()) as http:
            client = Client(KEY, http_client=http, max_response_bytes=1024)
            with pytest.raises(ResponseTooLargeError):
                client.compute_time(1, 2, "2024-05")

    def test_closing_ours_leaves_yours_open_and_yours_closed_fails_clearly(self) -> None:
        recorder = Recorder()
        http = httpx.Client(transport=recorder.transport())
        client = Client(KEY, http_client=http, max_retries=3)
        with client:
            client.compute_time(1, 2, "2024-05")
        assert not http.is_closed
        client.compute_time(1, 2, "2024-06")  # still usable after close: it is still yours
        http.close()
        with pytest.raises(APIConnectionError) as info:
            client.compute_time(1, 2, "2024-07")
        assert info.value.transient is False
        assert recorder.calls == 2

    def test_async_client_is_not_closed_and_carries_the_credential(self) -> None:
        recorder = Recorder()

        async def go() -> httpx.AsyncClient:
            http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
            async with AsyncClient(KEY, http_client=http, timeout=4) as client:
                await client.compute_time(1, 2, "2024-05")
            assert not http.is_closed
            async with AsyncClient(KEY, http_client=http) as client:
                await client.compute_time(1, 2, "2024-06")  # a second wrapper, same client
            await http.aclose()
            return http

        assert arun(go()).is_closed
        assert [r.headers["x-api-key"] for r in recorder.requests] == [KEY, KEY]
        assert recorder.requests[0].extensions["timeout"]["read"] == 4

    def test_the_sync_deadline_is_installed_on_your_transports(self) -> None:
        from ei_usage import _deadline

        with httpx.Client() as http:
            Client(KEY, http_client=http)._client()
            backend = http._transport._pool._network_backend  # type: ignore[attr-defined]
            assert isinstance(backend, _deadline._Backend)

    def test_the_sync_deadline_holds_with_your_client(self) -> None:
        import threading

        stop = threading.Event()
        heads: list[bytes] = []
        with hostile(api_script(heads, trickle=stop)) as server, httpx.Client() as http:
            client = Client(
                KEY, base_url=server.base_url, http_client=http, timeout=1, max_retries=0
            )
            try:
                with pytest.raises(client_module.APITimeoutError):
                    client.compute_time(1, 2, "2024-05")
            finally:
                stop.set()


# ==== with_options ==============================================================================


class TestWithOptions:
    def test_one_connection_for_the_client_and_every_derived_one(self) -> None:
        heads: list[bytes] = []
        with hostile(api_script(heads)) as server, Client(KEY, base_url=server.base_url) as c:
            c.compute_time(1, 2, "2024-05")
            for month in range(1, 10):
                c.with_options(timeout=5, headers={"x-trace": str(month)}).compute_time(
                    1, 2, f"2024-{month:02d}"
                )
                c.with_options(max_retries=0).with_raw_response.metrics(7)
            assert server.requests == 1  # connections the server accepted
        assert len(heads) == 19
        assert sum(b"x-trace:" in head for head in heads) == 9

    def test_async_derived_clients_share_the_connection(self) -> None:
        heads: list[bytes] = []

        async def go(base_url: str) -> None:
            async with AsyncClient(KEY, base_url=base_url) as client:
                await client.compute_time(1, 2, "2024-05")
                derived = client.with_options(timeout=5)
                for month in range(1, 6):
                    await derived.compute_time(1, 2, f"2024-{month:02d}")
                async with client.with_options(max_retries=1) as scoped:
                    await scoped.metrics(7)
                await client.metrics(7)  # leaving the derived block closed nothing

        with hostile(api_script(heads)) as server:
            arun(go(server.base_url))
            assert server.requests == 1
        assert len(heads) == 8

    def test_no_new_pool_per_call(self, monkeypatch: pytest.MonkeyPatch) -> None:
        made: list[httpx.Client] = []
        real = httpx.Client

        def spy(**kwargs: Any) -> httpx.Client:
            made.append(real(**kwargs))
            return made[-1]

        monkeypatch.setattr(client_module.httpx, "Client", spy)
        recorder = Recorder()
        with Client(KEY, transport=recorder.transport()) as client:
            for _ in range(5):
                client.with_options(timeout=3).compute_time(1, 2, "2024-05")
            with client.with_options(max_retries=0) as derived:
                derived.compute_time(1, 2, "2024-05")
            assert not made[0].is_closed  # closing a derived client closes nothing
        assert len(made) == 1
        assert made[0].is_closed

    def test_timeout_headers_and_retries_apply_to_the_derived_client_only(
        self, sleeps: list[float]
    ) -> None:
        recorder = Recorder(
            json_response({}, 503),
            json_response(CT_BODY),
            json_response({}, 503),
            json_response(CT_BODY),
        )
        client = Client(KEY, transport=recorder.transport(), timeout=30, max_retries=2)
        derived = client.with_options(timeout=timedelta(seconds=4), headers={"X-Trace": "a"})
        derived.compute_time(1, 2, "2024-05")  # 503, then 200: max_retries inherited
        nested = derived.with_options(max_retries=0, headers={"x-span": "b"})
        with pytest.raises(ServerError):
            nested.compute_time(1, 2, "2024-05")
        client.compute_time(1, 2, "2024-05")
        first, _, third, fourth = recorder.requests
        assert first.extensions["timeout"]["read"] == 4
        assert first.headers["x-trace"] == "a"
        assert (third.headers["x-trace"], third.headers["x-span"]) == ("a", "b")
        assert third.extensions["timeout"]["read"] == 4
        assert "x-trace" not in fourth.headers
        assert fourth.extensions["timeout"]["read"] == 30
        assert len(sleeps) == 1  # the derived retry; nested gave up at once
        assert client._config.timeout == 30
        assert client._policy.max_retries == 2

    def test_the_rate_schedule_is_shared(self, paces: list[float]) -> None:
        recorder = Recorder(json_response({}, 429, **{"retry-after": "2"}), json_response(CT_BODY))
        client = Client(KEY, transport=recorder.transport())
        derived = client.with_options(timeout=5)
        derived.compute_time(1, 2, "2024-05")  # a 429 with Retry-After 2, then 200
        assert sum(paces) >= 2 - 0.01  # the pause was kept
        assert client._rate is derived._rate
        assert client.rate_stats().throttles == 1  # the parent saw the derived client's 429

    def test_max_rate_caps_the_derived_client_only(self, paces: list[float]) -> None:
        recorder = Recorder()
        client = Client(KEY, transport=recorder.transport())
        slow = client.with_options(max_rate=2)
        for _ in range(4):
            slow.compute_time(1, 2, "2024-05")
        assert paces == [pytest.approx(0.5, abs=0.01)] * 3
        paces.clear()
        for _ in range(4):
            client.compute_time(1, 2, "2024-05")
        assert paces == []
        slower = slow.with_options(timeout=5)  # keeps the cap, and its schedule
        slower.compute_time(1, 2, "2024-05")
        assert paces == [pytest.approx(0.5, abs=0.01)]

    def test_max_rate_async(self, paces: list[float]) -> None:
        recorder = Recorder()

        async def go() -> None:
            async with AsyncClient(KEY, transport=recorder.transport()) as client:
                slow = client.with_options(max_rate=4)
                for _ in range(3):
                    await slow.compute_time(1, 2, "2024-05")

        arun(go())
        assert paces == [pytest.approx(0.25, abs=0.01)] * 2

    @pytest.mark.parametrize(
        ("options", "error"),
        [
            ({"timeout": 0}, ValueError),
            ({"timeout": "5"}, TypeError),
            ({"max_retries": -1}, ValueError),
            ({"max_rate": 0}, ValueError),
            ({"headers": {"x-api-key": "other"}}, ValueError),
            ({"headers": {"Authorization": "Bearer x"}}, ValueError),
            ({"headers": {"accept-encoding": "br"}}, ValueError),
            ({"headers": {"bad name": "x"}}, ValueError),
            ({"headers": {"x-a": "line\r\nbreak"}}, ValueError),
            ({"headers": {"x-a": 1}}, TypeError),
            ({"headers": [("x-a", "b")]}, TypeError),
        ],
    )
    def test_bad_options(self, options: dict[str, Any], error: type[Exception]) -> None:
        with pytest.raises(error):
            Client(KEY).with_options(**options)

    def test_a_refused_header_value_is_not_echoed(self) -> None:
        with pytest.raises(ValueError, match="x-token") as info:
            Client(KEY).with_options(headers={"x-token": "secret-value\n"})
        assert "secret-value" not in str(info.value)

    def test_derived_from_your_own_client(self) -> None:
        recorder = Recorder()
        with httpx.Client(transport=recorder.transport()) as http:
            client = Client(KEY, http_client=http)
            client.with_options(headers={"x-trace": "t"}, timeout=2).compute_time(1, 2, "2024-05")
        [request] = recorder.requests
        assert request.headers["x-api-key"] == KEY
        assert request.headers["x-trace"] == "t"
        assert request.extensions["timeout"]["read"] == 2
