from __future__ import annotations

from datetime import timedelta

import pytest

from ei_usage._config import (
    ClientConfig,
    check_base_url,
    env_arguments,
    make_credential,
    timeout_seconds,
)


def build(**overrides: object) -> ClientConfig:
    args: dict[str, object] = {
        "jwt_token": None,
        "access_token": None,
        "base_url": "https://studio.edgeimpulse.com/v1",
        "timeout": 30.0,
        "max_retries": 3,
        "allow_insecure_http": False,
        "max_connections": 64,
    }
    args.update(overrides)
    api_key = args.pop("api_key", "key")
    return ClientConfig.build(api_key, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "headers"),
    [
        ({"api_key": "a"}, {"x-api-key": "a"}),
        ({"jwt_token": "j"}, {"x-jwt-token": "j"}),
        ({"access_token": "t"}, {"authorization": "Bearer t"}),
    ],
)
def test_each_credential_goes_in_its_header(
    kwargs: dict[str, str], headers: dict[str, str]
) -> None:
    full = {"api_key": None, "jwt_token": None, "access_token": None, **kwargs}
    assert make_credential(**full).headers() == headers


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"api_key": "a", "jwt_token": "j"},
        {"api_key": "a", "jwt_token": "j", "access_token": "t"},
    ],
)
def test_exactly_one_credential(kwargs: dict[str, str]) -> None:
    full = {"api_key": None, "jwt_token": None, "access_token": None, **kwargs}
    with pytest.raises(ValueError, match=r"api_key.*jwt_token.*access_token"):
        make_credential(**full)


@pytest.mark.parametrize("value", ["", "   ", "a\r\nx-evil: 1", "a\nb", "a\x00"])
def test_empty_or_header_splitting_credentials_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="empty or holds line breaks") as info:
        make_credential(value, None, None)
    assert "evil" not in str(info.value)


def test_credential_repr_hides_the_value() -> None:
    credential = make_credential(None, "jwt-SECRET", None)
    assert "SECRET" not in repr(credential)
    assert "SECRET" not in str(credential)
    assert "jwt_token" in repr(credential)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://studio.edgeimpulse.com/v1", "https://studio.edgeimpulse.com/v1"),
        ("https://studio.edgeimpulse.com/v1/", "https://studio.edgeimpulse.com/v1"),
        ("https://usage.white-label.example/v1", "https://usage.white-label.example/v1"),
        ("http://127.0.0.1:4800/v1", "http://127.0.0.1:4800/v1"),
        ("http://localhost/v1", "http://localhost/v1"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
    ],
)
def test_good_base_urls(url: str, expected: str) -> None:
    assert check_base_url(url, allow_insecure_http=False) == expected


def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    with pytest.raises(ValueError, match=r"refusing plain http:// to studio\.internal"):
        check_base_url("http://studio.internal/v1", allow_insecure_http=False)
    assert check_base_url("http://studio.internal/v1", allow_insecure_http=True)


@pytest.mark.parametrize(
    "url", ["studio.edgeimpulse.com/v1", "ftp://x/v1", "https:///v1", "https://x/v1?a=1"]
)
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        check_base_url(url, allow_insecure_http=False)


def test_a_password_in_the_base_url_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="user or password") as info:
        check_base_url("https://me:hunter2@studio.edgeimpulse.com/v1", allow_insecure_http=False)
    assert "hunter2" not in str(info.value)


def test_timeout_in_seconds_or_timedelta() -> None:
    assert timeout_seconds(5) == 5.0
    assert timeout_seconds(timedelta(minutes=1)) == 60.0
    for bad in (0, -1, float("nan"), float("inf"), timedelta(0)):
        with pytest.raises(ValueError, match="timeout must be positive"):
            timeout_seconds(bad)
    for wrong in ("5", True, None):
        with pytest.raises(TypeError, match="timeout"):
            timeout_seconds(wrong)  # type: ignore[arg-type]


def test_retries_and_connections_are_checked() -> None:
    assert build(max_retries=0).max_retries == 0
    with pytest.raises(ValueError, match="max_retries"):
        build(max_retries=-1)
    with pytest.raises(TypeError, match="max_retries"):
        build(max_retries=True)
    with pytest.raises(ValueError, match="max_connections"):
        build(max_connections=0)


def test_env_arguments_reads_only_what_is_set() -> None:
    env = {"EI_API_KEY": "k", "EI_BASE_URL": "https://x.example/v1", "EI_JWT_TOKEN": " "}
    assert env_arguments(env) == {"api_key": "k", "base_url": "https://x.example/v1"}
    assert env_arguments({}) == {}


def test_from_env_arguments_win_over_the_environment() -> None:
    from ei_usage import Client

    env = {"EI_JWT_TOKEN": "from-env", "EI_BASE_URL": "https://env.example/v1"}
    client = Client.from_env(env, api_key="explicit", base_url="https://arg.example/v1")
    assert client.base_url == "https://arg.example/v1"
    assert repr(client).endswith("credential=api_key (hidden))")
    assert Client.from_env(env).base_url == "https://env.example/v1"
