"""The ``ei-usage`` command line (needs the ``cli`` extra: ``pip install 'ei-usage[cli]'``).

It uses only names that :mod:`ei_usage` exports, like any other tool would.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``ei-usage`` command; exits with its status code."""
    try:
        try:
            from ._app import run  # click and rich are an optional extra
        except ImportError as error:
            sys.stderr.write(
                f"ei-usage: the command line needs the 'cli' extra ({error.name} is missing): "
                "pip install 'ei-usage[cli]'\n"
            )
            sys.exit(2)
        code = run(list(argv) if argv is not None else None)
    except KeyboardInterrupt:
        # Ctrl-C while starting up (imports) or outside a command: no traceback.
        sys.stderr.write("ei-usage: interrupted\n")
        sys.exit(130)
    sys.exit(code)
