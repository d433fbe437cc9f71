from __future__ import annotations

from datetime import timedelta

import pytest

from ei_usage._config import (
    ClientConfig,
    check_base_url,
    check_int,
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
        "max_response_bytes": 4 * 1024 * 1024,
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
    assert build(max_response_bytes=1024).max_response_bytes == 1024
    with pytest.raises(ValueError, match="max_response_bytes"):
        build(max_response_bytes=1023)
    with pytest.raises(TypeError, match="max_response_bytes"):
        build(max_response_bytes=1.5)


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


@pytest.mark.parametrize(
    "url",
    [
        "https://studio.example/v1?token=SECRETVALUE",
        "https://studio.example/v1#SECRETVALUE",
        "https://studio.example/v1?",
        "https://studio.example/v1?a=1&key=SECRETVALUE#f",
    ],
)
def test_a_query_or_fragment_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ValueError, match="query or fragment") as info:
        check_base_url(url, allow_insecure_http=False)
    assert "SECRETVALUE" not in str(info.value)
    assert "studio.example" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://studio.example/v1\n",  # a trailing newline is stripped; inside, it is refused
        "https://studio.example/v\n1",
        "https://studio.example/v\t1",
        "https://stu dio.example/v1",
        "https://studio.example/v1\x00",
        "https://studio.example/v1\x7f",
    ],
)
def test_whitespace_and_control_characters_are_refused_up_front(url: str) -> None:
    if url.strip() == "https://studio.example/v1":
        assert check_base_url(url, allow_insecure_http=False) == "https://studio.example/v1"
        return
    # Before: accepted here, then raw httpx.InvalidURL at the first request.
    with pytest.raises(ValueError, match="whitespace or control") as info:
        check_base_url(url, allow_insecure_http=False)
    assert "studio" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["https://studio.example:99999/v1", "https://studio.example:port/v1", "https://[::1/v1"]
)
def test_malformed_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        check_base_url(url, allow_insecure_http=False)
    assert url not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.localhost/v1",
        "http://localhost.evil.example/v1",
        "http://127.0.0.1.nip.io/v1",
        "http://LOCALHOST.evil/v1",
    ],
)
def test_only_literal_loopback_is_trusted_with_plain_http(url: str) -> None:
    with pytest.raises(ValueError, match="refusing plain http://"):
        check_base_url(url, allow_insecure_http=False)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/v1", "http://127.8.9.10:80/v1", "http://[::1]/v1", "http://localhost/v1"],
)
def test_literal_loopback_is_trusted_with_plain_http(url: str) -> None:
    assert check_base_url(url, allow_insecure_http=False)


def test_other_schemes_are_named_but_the_url_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="scheme 'ftp'") as info:
        check_base_url("ftp://files.example/SECRETPATH", allow_insecure_http=False)
    assert "SECRETPATH" not in str(info.value)


class _Sneaky(int):
    """An int whose text is not its value (it could smuggle a path into a URL)."""

    def __str__(self) -> str:
        return "../../evil"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return "../../evil"

    def __int__(self) -> int:
        return 999


def test_int_subclasses_are_normalized_to_plain_ints() -> None:
    value = check_int("organization_id", _Sneaky(7), minimum=0)
    assert type(value) is int
    assert value == 7
