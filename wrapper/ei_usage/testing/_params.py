"""Validation of the query parameters of the two operations, worded like API errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

# ISO 8601 extended format, as JavaScript's Date parses it. The zone may start with a space: a raw
# "+" in a query string is form-decoded to a space, and the official Edge Impulse Python bindings
# send "+00:00" unencoded, which the real Studio accepts.
_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,](?P<fraction>[0-9]{1,9}))?)?)"
    r"(?P<zone>[Zz]|[+\- ][0-9]{2}(?::?[0-9]{2})?)?)?"
)


class ParameterError(ValueError):
    """A query parameter is missing or invalid; the message names it."""


def single(query: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    """Return the one value of a parameter, None if absent.

    Raises:
        ParameterError: If the parameter is given more than once.
    """
    values = query.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise ParameterError(f"Query parameter {name} must be given once, got {len(values)} values")
    return values[0]


def parse_date_time(name: str, value: str | None) -> datetime:
    """Parse a required ``date-time`` query parameter into an aware UTC datetime.

    Accepts ``2024-05-01T00:00:00.000Z``, no or any fraction (kept to microseconds), ``Z`` or a
    numeric offset (``+00:00``, ``+0000``, ``+05``; a space instead of ``+`` too), and a bare date
    as midnight UTC. A date-time without a zone is rejected: whether the real API would read it
    as UTC or as the server's local time is not documented.

    Raises:
        ParameterError: If the value is missing or not such a date-time.
    """
    if value is None:
        raise ParameterError(f"Missing required query parameter {name}")
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise ParameterError(
            f"Invalid {name} {value!r}: expected an ISO 8601 date-time such as "
            "2024-05-01T00:00:00.000Z"
        )
    if match["time"] is not None and match["zone"] is None:
        raise ParameterError(
            f"Invalid {name} {value!r}: the date-time has no timezone, which is ambiguous; "
            "add Z or an offset such as +00:00"
        )
    text = match["date"]
    if match["time"] is not None:
        time = match["time"]
        if match["fraction"] is not None:
            # Python keeps microseconds; finer digits cannot matter to a millisecond API.
            time = value[match.start("time") : match.start("fraction") - 1]
            time += "." + match["fraction"][:6]
        zone = match["zone"]
        zone = "+00:00" if zone in ("Z", "z") else "+" + zone[1:] if zone[0] == " " else zone
        text = f"{text}T{time}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ParameterError(f"Invalid {name} {value!r}: {error}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a bare date: midnight UTC
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ParameterError(f"Invalid {name} {value!r}: out of range") from None


def parse_bool(name: str, value: str | None) -> bool:
    """Parse an optional boolean query parameter: absent is false, else ``true`` or ``false``.

    Raises:
        ParameterError: For any other value.
    """
    if value is None or value == "false":
        return False
    if value == "true":
        return True
    raise ParameterError(f"Invalid {name} {value!r}: expected true or false")


def parse_visibility(name: str, value: str | None) -> str | None:
    """Parse the optional ``projectVisibility`` query parameter.

    Raises:
        ParameterError: For a value other than ``public`` or ``private``.
    """
    if value is None or value in ("public", "private"):
        return value
    raise ParameterError(f"Invalid {name} {value!r}: expected public or private")
