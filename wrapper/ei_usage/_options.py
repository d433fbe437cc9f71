"""Network configuration a client takes besides its credential: CAs, proxies, your own httpx client.

Also the options of a derived client (``client.with_options(...)``): a client that shares its
parent's connection pool and rate schedule and differs in timeout, retries, extra headers or an
extra rate cap.

Everything is checked at construction, before any connection opens, and no message echoes a
proxy URL: it may carry a user and password (``http://user:pass@proxy:3128``).
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._config import _URL_FORBIDDEN

if TYPE_CHECKING:
    from collections.abc import Mapping

Verify = str | os.PathLike[str] | ssl.SSLContext | None
"""What ``verify=`` takes: a CA bundle file or directory, an ``ssl.SSLContext``, or None."""

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")

# Headers with_options(headers=) may not set: the credential (a client has exactly one), the
# encodings the capped reader decodes (_transport), and what the HTTP library computes itself.
RESERVED_HEADERS = frozenset(
    {
        "x-api-key",
        "x-jwt-token",
        "authorization",
        "proxy-authorization",
        "accept-encoding",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ssl_context(verify: object) -> ssl.SSLContext | None:
    """Return the TLS context ``verify=`` asks for; None keeps httpx's default.

    httpx's default trusts certifi's bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set
    (read when the connection pool opens). A path is loaded here, so a missing or unreadable
    bundle fails at construction rather than at the first request.

    Raises:
        ValueError: ``verify=False`` (verification is never turned off), or a path that is not a
            readable CA bundle.
        TypeError: anything else.
    """
    if verify is None or verify is True:
        return None
    if verify is False:
        raise ValueError(
            "certificate verification cannot be turned off: pass verify= the CA bundle that "
            "signs the server's certificate (a file, a directory or an ssl.SSLContext)"
        )
    if isinstance(verify, ssl.SSLContext):
        if verify.verify_mode != ssl.CERT_REQUIRED or not verify.check_hostname:
            raise ValueError(
                "verify= is an ssl.SSLContext that does not check certificates and host names "
                "(verify_mode CERT_REQUIRED and check_hostname are required)"
            )
        return verify
    if isinstance(verify, str | os.PathLike):
        path = os.fspath(verify)
        if not isinstance(path, str):
            raise TypeError("verify= must be a text path, not bytes")
        try:
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        except (OSError, ssl.SSLError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ValueError(f"verify={path!r} is not a readable CA bundle: {reason}") from None
    raise TypeError(f"verify must be a path or an ssl.SSLContext, got {type(verify).__name__}")


def check_proxy(proxy: object) -> httpx.Proxy | None:
    """Validate ``proxy=`` and return it as an ``httpx.Proxy`` (None: the environment's).

    A user and password in the URL become a ``Proxy-Authorization`` header (httpx's handling);
    messages name the scheme and host at most.

    Raises:
        ValueError: not an http, https or socks5 URL with a host, or whitespace in it.
        TypeError: neither a string nor an ``httpx.Proxy``.
    """
    if proxy is None or isinstance(proxy, httpx.Proxy):
        return proxy
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a URL string or an httpx.Proxy, got {type(proxy).__name__}")
    text = proxy.strip()
    if any(c in _URL_FORBIDDEN for c in text):
        raise ValueError("proxy URL holds whitespace or control characters (not shown)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port
    except ValueError:
        raise ValueError("proxy is not a valid URL (not shown: it may hold a password)") from None
    if parts.scheme not in PROXY_SCHEMES or not host:
        shown = f" (scheme {parts.scheme!r})" if parts.scheme.isalnum() else ""
        raise ValueError(f"proxy must be an http://, https:// or socks5:// URL with a host{shown}")
    try:
        return httpx.Proxy(text)
    except (ValueError, TypeError, httpx.InvalidURL):
        raise ValueError(f"proxy URL for {host} is not one httpx can use") from None


def check_headers(headers: object) -> dict[str, str]:
    """Validate ``with_options(headers=...)``: extra request headers, names lower-cased.

    Raises:
        ValueError: a reserved name (the credential, ``accept-encoding``, hop-by-hop headers), a
            name that is not an HTTP token, or a value with line breaks or non-ASCII characters.
        TypeError: not a mapping of strings to strings.
    """
    if not hasattr(headers, "items"):
        raise TypeError(f"headers must be a mapping, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("headers must map strings to strings")
        if not name or not set(name) <= _TOKEN:
            raise ValueError(f"header name {name[:40]!r} is not a valid HTTP header name")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS:
            raise ValueError(
                f"header {lowered!r} cannot be set per call: the client sets it (a credential "
                "belongs to the client: build another Client for another one)"
            )
        # The value is not shown: it may be a secret of its own.
        if not value.isascii() or not (value.isprintable() or value == ""):
            raise ValueError(f"header {lowered!r} holds line breaks or non-ASCII characters")
        checked[lowered] = value
    return checked


def request_options(
    *,
    headers: Mapping[str, str] | None,
    timeout: float | None,
) -> dict[str, Any] | None:
    """Return what ``build_request`` must be given beyond the URL, or None when nothing is.

    None keeps the request path as it always was (the pool's own headers and timeout): the
    common case, and the fastest.
    """
    options: dict[str, Any] = {}
    if headers:
        options["headers"] = dict(headers)
    if timeout is not None:
        options["timeout"] = timeout
    return options or None


def default_user_agent(http_client: httpx.Client | httpx.AsyncClient) -> bool:
    """Whether a user's httpx client sends httpx's own User-Agent (then ei-usage sends its own)."""
    agent = http_client.headers.get("user-agent", "")
    return not agent or agent.startswith("python-httpx/")
