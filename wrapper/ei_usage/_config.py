"""Client configuration: the credential, the base URL, timeouts and retries, checked up front.

Everything here is validated before any connection is opened, so a typo fails at construction with
a clear message instead of as a confusing HTTP error later.
"""

from __future__ import annotations

import ipaddress
import math
import os
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_BASE_URL = "https://studio.edgeimpulse.com/v1"
ENV_API_KEY = "EI_API_KEY"
ENV_JWT_TOKEN = "EI_JWT_TOKEN"  # noqa: S105 - the variable's name, not a token
ENV_ACCESS_TOKEN = "EI_ACCESS_TOKEN"  # noqa: S105
ENV_BASE_URL = "EI_BASE_URL"


@attrs.frozen(repr=False)
class Credential:
    """One credential and the header that carries it. Its value never shows in repr or str."""

    kind: str
    header: str
    _value: str = attrs.field(alias="value")

    def headers(self) -> dict[str, str]:
        """Return the request header that carries this credential."""
        if self.header == "authorization":
            return {"authorization": f"Bearer {self._value}"}
        return {self.header: self._value}

    def redact(self, text: str) -> str:
        """Return ``text`` with this credential's value replaced by ``***``."""
        return text.replace(self._value, "***") if self._value in text else text

    def __repr__(self) -> str:
        return f"<Credential {self.kind} (hidden)>"

    __str__ = __repr__


def make_credential(
    api_key: str | None, jwt_token: str | None, access_token: str | None
) -> Credential:
    """Return the one credential given.

    Raises:
        ValueError: none or more than one was given, or the one given is empty.
        TypeError: it is not a string.
    """
    given = [
        (kind, header, value)
        for kind, header, value in (
            ("api_key", "x-api-key", api_key),
            ("jwt_token", "x-jwt-token", jwt_token),
            ("access_token", "authorization", access_token),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ValueError(
            "give exactly one credential: api_key (sent as x-api-key), jwt_token (x-jwt-token) or "
            f"access_token (Authorization: Bearer); got {len(given)}"
        )
    kind, header, value = given[0]
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    value = value.strip()
    # A value that would split or forge headers must never reach the wire.
    if not value or any(c in value for c in "\r\n\x00"):
        raise ValueError(f"{kind} is empty or holds line breaks")
    # Other control characters would go out raw, and non-ASCII would fail at the first request
    # with a UnicodeEncodeError whose args hold the whole value.
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{kind} holds characters a header cannot carry (non-ASCII or control)")
    return Credential(kind=kind, header=header, value=value)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Validate the API's base URL and return it without a trailing slash.

    Raises:
        ValueError: not an http(s) URL with a host; plain http to a non-loopback host without
            ``allow_insecure_http``; or a URL carrying a user, password, query or fragment.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url.strip())
    if parts.username or parts.password:
        # Never echo it: the user part may be a secret.
        raise ValueError("base_url must not hold a user or password; pass a credential instead")
    # A malformed URL may still hold "user:secret@" that urlsplit did not recognise as such.
    shown = "(hidden: it holds '@')" if "@" in base_url else repr(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"base_url must be an https:// URL with a host, got {shown}")
    if parts.query or parts.fragment:
        raise ValueError(f"base_url must not have a query or fragment, got {shown}")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ValueError(
            f"refusing plain http:// to {parts.hostname}: the credential would travel unencrypted; "
            "use https:// or pass allow_insecure_http=True"
        )
    return base_url.strip().rstrip("/")


def timeout_seconds(timeout: float | timedelta) -> float:
    """Return the timeout in seconds.

    Raises:
        ValueError: not positive and finite.
        TypeError: neither a number nor a timedelta.
    """
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, int | float) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(f"timeout must be seconds or a timedelta, got {type(timeout).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return seconds


def check_int(name: str, value: object, *, minimum: int) -> int:
    """Validate an integer argument: ids, counts, limits.

    Raises:
        ValueError: below ``minimum``.
        TypeError: not an int (a bool is refused: ``True`` would silently mean 1).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


@attrs.frozen
class ClientConfig:
    """Everything a client needs, validated."""

    credential: Credential
    base_url: str
    timeout: float
    max_retries: int
    max_connections: int

    @classmethod
    def build(
        cls,
        api_key: str | None,
        *,
        jwt_token: str | None,
        access_token: str | None,
        base_url: str,
        timeout: float | timedelta,
        max_retries: int,
        allow_insecure_http: bool,
        max_connections: int,
    ) -> ClientConfig:
        """Validate the client arguments.

        Raises:
            ValueError: an argument is out of range (the message says which).
            TypeError: an argument has the wrong type.
        """
        return cls(
            credential=make_credential(api_key, jwt_token, access_token),
            base_url=check_base_url(base_url, allow_insecure_http=allow_insecure_http),
            timeout=timeout_seconds(timeout),
            max_retries=check_int("max_retries", max_retries, minimum=0),
            max_connections=check_int("max_connections", max_connections, minimum=1),
        )


def env_arguments(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Read the client's credential and base URL from the environment.

    Empty variables count as unset. Only the variables that are set are returned, so the client's
    own checks report a missing or doubled credential.
    """
    env = os.environ if environ is None else environ
    names = {
        "api_key": ENV_API_KEY,
        "jwt_token": ENV_JWT_TOKEN,
        "access_token": ENV_ACCESS_TOKEN,
        "base_url": ENV_BASE_URL,
    }
    return {arg: env[name] for arg, name in names.items() if env.get(name, "").strip()}
