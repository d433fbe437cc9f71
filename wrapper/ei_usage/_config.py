"""Client configuration: the credential, the base URL, timeouts and retries, checked up front.

Everything here is validated before any connection is opened, so a typo fails at construction with
a clear message instead of as a confusing HTTP error later.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs
import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_BASE_URL = "https://studio.edgeimpulse.com/v1"
API_ROOT = "/v1"
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""The default cap on an answer's decoded size: the largest answer ei-usage reads (an
organization's info with a year of daily metrics) is a few hundred kilobytes."""
_MIN_RESPONSE_BYTES = 1024
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
    # The forms the value takes in server text: as is, and JSON-escaped when that differs.
    # Computed once: redact runs on every answer.
    _forms: tuple[str, ...] = attrs.field(init=False, eq=False)

    @_forms.default
    def _escaped_forms(self) -> tuple[str, ...]:
        escaped = json.dumps(self._value)[1:-1]
        return (self._value,) if escaped == self._value else (self._value, escaped)

    def headers(self) -> dict[str, str]:
        """Return the request header that carries this credential."""
        if self.header == "authorization":
            return {"authorization": f"Bearer {self._value}"}
        return {self.header: self._value}

    def redact(self, text: str, *, cut: bool = False) -> str:
        """Return ``text`` with this credential's value replaced by ``***``.

        The value is also found in its JSON-escaped form (a value holding a quote or a backslash
        is escaped inside a JSON string). Scrub before shortening a text: cutting first can leave a
        prefix of the value behind.

        Args:
            text: what a server sent, or a message made from it.
            cut: the text is the start of a longer one (an excerpt): a tail that could be the
                beginning of the value is removed too.
        """
        for form in self._forms:
            if form in text:
                text = text.replace(form, "***")
        if cut:
            text = text[: len(text) - _partial_tail(text, self._forms)]
        return text

    def __repr__(self) -> str:
        return f"<Credential {self.kind} (hidden)>"

    __str__ = __repr__


def _partial_tail(text: str, forms: tuple[str, ...]) -> int:
    """Return the length of the longest end of ``text`` that begins one of ``forms``."""
    longest = 0
    for form in forms:
        # Only the last len(form) - 1 characters can hold a cut-off beginning of it.
        start = max(0, len(text) - len(form) + 1)
        at = text.find(form[0], start)
        while at != -1:
            if form.startswith(text[at:]):
                longest = max(longest, len(text) - at)
                break
            at = text.find(form[0], at + 1)
    return longest


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


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a literal loopback address.

    Only these: a name under ``.localhost`` resolves however the system's resolver likes, and
    ``http://evil.localhost`` must not be trusted with a credential over plain HTTP.
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# Characters that have no place in a URL we send a credential to: they are either invalid (httpx
# would refuse them at the first request) or invisible in a message (a tab, a line break).
_URL_FORBIDDEN = frozenset(chr(c) for c in (*range(0x21), 0x7F))


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Validate the API's base URL and return it without a trailing slash.

    A URL without a path (``https://studio.example.com``) gets the API's root, ``/v1``.
    Messages never echo the URL: it may hold a secret (a user part, or a token in its query).
    They name the scheme and host at most.

    Raises:
        ValueError: not an http(s) URL with a host; whitespace or control characters in it;
            plain http to a host other than loopback without ``allow_insecure_http``; or a user,
            password, query or fragment in it.
        TypeError: not a string.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    text = base_url.strip()
    if any(c in _URL_FORBIDDEN for c in text):
        raise ValueError("base_url holds whitespace or control characters (not shown)")
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        _ = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        raise ValueError("base_url is not a valid URL (not shown)") from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("base_url must not hold a user or password; pass a credential instead")
    if parts.scheme not in ("https", "http") or not hostname:
        shown = f" (scheme {parts.scheme!r})" if parts.scheme.isalnum() else ""
        raise ValueError(f"base_url must be an https:// URL with a host{shown}")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError(
            f"base_url for {hostname} must not have a query or fragment (not shown: it may hold "
            "a secret)"
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(hostname):
        raise ValueError(
            f"refusing plain http:// to {hostname}: the credential would travel unencrypted; "
            "use https:// or pass allow_insecure_http=True"
        )
    try:
        httpx.URL(text)
    except httpx.InvalidURL:
        raise ValueError(f"base_url for {hostname} is not a URL httpx can use") from None
    text = text.rstrip("/")
    # The API lives under /v1 (the spec's server URL); a bare host means that root.
    return text + API_ROOT if parts.path in ("", "/") else text


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

    Returns:
        The value as a plain ``int``.

    Raises:
        ValueError: below ``minimum``.
        TypeError: not an int (a bool is refused: ``True`` would silently mean 1).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    # A plain int, whatever subclass came in: a subclass may format itself as anything (into a
    # URL path, a cache key...). int.__int__ ignores a subclass's own __int__, which int() uses.
    number = int.__int__(value)
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


@attrs.frozen
class ClientConfig:
    """Everything a client needs, validated."""

    credential: Credential
    base_url: str
    timeout: float
    max_retries: int
    max_connections: int
    max_response_bytes: int

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
        max_response_bytes: int,
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
            max_response_bytes=check_int(
                "max_response_bytes", max_response_bytes, minimum=_MIN_RESPONSE_BYTES
            ),
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
