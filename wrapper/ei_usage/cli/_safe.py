"""Text from a server made safe to print on a terminal or to open in a spreadsheet.

Organization names, error messages and stop reasons come from the server (or from whatever sits
between it and us), and the command line prints them. Two places can be attacked through them:

* a terminal, by control characters: ``ESC`` sequences retitle the window, clear the screen or
  restyle what follows; a bidi override (U+202E) reorders the text after it; a newline forges a
  line of its own. :func:`terminal` replaces them, and :func:`markup` also escapes rich markup,
  so a name like ``[bold]`` is shown as written;
* a spreadsheet, by formulas: a CSV cell starting with ``=``, ``+``, ``-`` or ``@`` is run as a
  formula by Excel, LibreOffice and Google Sheets (OWASP, "CSV Injection"). :func:`csv_cell`
  prefixes such text with ``'`` and drops control characters. Every CSV writer of the command
  line writes through :func:`write_csv`.

The HTML documents clean their text in :mod:`ei_usage.cli._html` (replaced by U+FFFD there too).
"""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Literal

from rich.markup import escape

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import TextIO

# Characters that break or continue a line (or a CSV field) where they stand: a space instead.
_LAYOUT = re.compile("[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]")
# Every other C0 and C1 control and DEL (ESC, BEL, NUL, CSI...); lone surrogates (from JSON's
# "\ud800", which no encoder writes); explicit bidi embeddings, overrides and isolates, which
# reorder the text after them. Bidi marks (LRM, RLM, ALM) reorder nothing and stay.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_REPLACEMENT = "\ufffd"

# What makes a spreadsheet read a cell as a formula (OWASP's list; tab and CR cannot start a
# cleaned cell), with the full-width forms some spreadsheets also accept.
_FORMULA_START = tuple("=+-@\uff1d\uff0b\uff0d\uff20")


def terminal(text: object) -> str:
    """Return ``str(text)`` as one line a terminal shows as written.

    Line and field breaks become spaces; every other control character (``ESC``, ``BEL``,
    ``NUL``, C1 controls, bidi embeddings and overrides, lone surrogates) becomes U+FFFD, so a
    tampered text is visibly tampered with.
    """
    return _CONTROL.sub(_REPLACEMENT, _LAYOUT.sub(" ", str(text)))


def markup(text: object) -> str:
    """Return :func:`terminal` text escaped for rich, so ``[bold]`` is shown, not applied."""
    return escape(terminal(text))


def lines(text: str) -> str:
    """Return :func:`terminal` of each line of ``text``, keeping the line breaks between them.

    For messages of several lines that are ours to lay out (click's usage errors).
    """
    return "\n".join(terminal(line) for line in text.split("\n"))


def csv_cell(value: object) -> object:
    """Return ``value`` safe for a CSV cell that a spreadsheet opens.

    Numbers, booleans and None are returned as they are: a negative number is data, not a
    formula. Text has its line and field breaks replaced by spaces and every other control
    character dropped; then, if it starts (after any spaces) with ``=``, ``+``, ``-`` or ``@``
    (or their full-width forms), it gets a leading ``'``, which spreadsheets take as "text" and
    do not show.
    """
    if not isinstance(value, str):
        return value
    cleaned = _CONTROL.sub("", _LAYOUT.sub(" ", value))
    if cleaned.lstrip(" ").startswith(_FORMULA_START):
        return "'" + cleaned
    return cleaned


def write_csv(
    out: TextIO,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    extrasaction: Literal["raise", "ignore"] = "raise",
) -> None:
    """Write a header and ``rows`` as CSV, every cell through :func:`csv_cell`.

    Args:
        out: where to write.
        columns: the header, in order; a row's missing columns are empty.
        rows: the rows, by column name.
        extrasaction: what a key outside ``columns`` does, as for :class:`csv.DictWriter`.
    """
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction=extrasaction)
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
