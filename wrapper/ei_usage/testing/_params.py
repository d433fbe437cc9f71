"""Validation of the query parameters of the operations, worded like API errors."""

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


_COUNT = re.compile(r"[0-9]{1,18}")


def parse_count(name: str, value: str | None, *, maximum: int | None = None) -> int | None:
    """Parse an optional non-negative integer query parameter (``limit``, ``offset``, ``active``).

    Returns:
        The number, None if absent.

    Raises:
        ParameterError: For anything but up to 18 decimal digits, or a value above ``maximum``.
    """
    if value is None:
        return None
    if not _COUNT.fullmatch(value):
        raise ParameterError(f"Invalid {name} {value!r}: expected a non-negative integer")
    number = int(value)
    if maximum is not None and number > maximum:
        raise ParameterError(f"Invalid {name} {number}: at most {maximum} is allowed")
    return number


SORT_FIELDS = ("id", "name", "created")
"""The fields the organization listing can be sorted by."""


def parse_sort(value: str | None) -> tuple[tuple[str, bool], ...]:
    """Parse ``sort``: comma-separated fields, each prefixed by ``-`` for descending order.

    Spaces around fields are ignored, and so is a ``+`` prefix (ascending, as is the default).

    Returns:
        ``(field, descending)`` pairs, most significant first; empty for the default order.

    Raises:
        ParameterError: For an empty item, an unknown field or a field given twice.
    """
    if value is None or not value.strip():
        return ()
    keys: list[tuple[str, bool]] = []
    for part in value.split(","):
        item = part.strip()
        descending = item.startswith("-")
        field = item[1:] if item[:1] in ("-", "+") else item
        if field not in SORT_FIELDS:
            raise ParameterError(
                f"Invalid sort {value!r}: cannot sort by {field!r}; "
                f"expected fields among {', '.join(SORT_FIELDS)}, each optionally prefixed by -"
            )
        if any(field == known for known, _ in keys):
            raise ParameterError(f"Invalid sort {value!r}: {field} is given twice")
        keys.append((field, descending))
    return tuple(keys)


FILTER_FIELDS = ("billable",)
"""The fields the organization listing can be filtered on (``filters=billable:true``)."""


def parse_filters(value: str | None) -> bool | None:
    """Parse ``filters``: comma-separated ``field:value`` items; only ``billable`` is known.

    Returns:
        The ``billable`` value to keep, None for no filter.

    Raises:
        ParameterError: For an item that is not ``billable:true`` or ``billable:false``, or a
            field given twice.
    """
    if value is None or not value.strip():
        return None
    billable: bool | None = None
    for part in value.split(","):
        field, colon, text = (piece.strip() for piece in part.partition(":"))
        if not colon or field not in FILTER_FIELDS:
            raise ParameterError(
                f"Invalid filters {value!r}: expected comma-separated field:value items with "
                f"fields among {', '.join(FILTER_FIELDS)}, such as billable:true"
            )
        if billable is not None:
            raise ParameterError(f"Invalid filters {value!r}: {field} is given twice")
        if text not in ("true", "false"):
            raise ParameterError(f"Invalid filters {value!r}: {field} must be true or false")
        billable = text == "true"
    return billable
