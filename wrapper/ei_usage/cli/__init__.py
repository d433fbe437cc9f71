"""The ``ei-usage`` command line (needs the ``cli`` extra: ``pip install 'ei-usage[cli]'``).

It uses only names that :mod:`ei_usage` exports, like any other tool would.

Ctrl-C at start-up exits 130 with one line, never a traceback, at any moment from the first line
of :func:`main` on. Before that, Python imports ``ei_usage`` and this module (console script and
``python -m ei_usage.cli`` alike): both import nothing heavy (no ``typing``, no ``__future__``),
so that unguarded moment is as short as the interpreter's own start-up. :func:`main` then makes
Ctrl-C exit at once while the command line's modules load (there is nothing to clean up yet),
gives it back to the command (which prints what a report fetched, marked partial), and ignores it
while exiting. A process started with SIGINT ignored (a shell's background job) keeps ignoring it.
"""

import sys

# typing.TYPE_CHECKING without importing typing (see the module docstring).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType
    from typing import Any

__all__ = ["main"]

EXIT_INTERRUPTED = 130
_INTERRUPTED = b"ei-usage: interrupted\n"


def _exit_now(signum: int, frame: "FrameType | None") -> None:
    """SIGINT while loading: nothing was printed or opened yet, so leave at once."""
    import os

    try:
        os.write(2, _INTERRUPTED)
    finally:
        os._exit(EXIT_INTERRUPTED)


def _on_sigint(handler: "Callable[[int, FrameType | None], Any] | None") -> None:
    """Handle SIGINT with ``handler``; None ignores it."""
    import signal  # cached after the first time

    # Not contextlib.suppress: contextlib would be one more import before the guard.
    try:  # noqa: SIM105
        signal.signal(signal.SIGINT, signal.SIG_IGN if handler is None else handler)
    except ValueError:  # main() called from another thread: leave signals alone
        pass


def main(argv: "Sequence[str] | None" = None) -> None:
    """Run the ``ei-usage`` command; exits with its status code.

    It is the process's entry point: it takes over SIGINT (see the module docstring).
    """
    try:
        import signal  # inside the guard: a Ctrl-C during this import is caught below

        # Started with Ctrl-C ignored (a shell's background job): the terminal's Ctrl-C is not
        # meant for this process, so it stays ignored throughout.
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        if not ignored:
            _on_sigint(_exit_now)
        try:
            from ._app import run  # click and rich are an optional extra
        except ImportError as error:
            _on_sigint(None)
            sys.stderr.write(
                f"ei-usage: the command line needs the 'cli' extra ({error.name} is missing): "
                "pip install 'ei-usage[cli]'\n"
            )
            sys.exit(2)
        if not ignored:
            # The command handles Ctrl-C itself from here (a report keeps what it fetched).
            _on_sigint(signal.default_int_handler)
        code = run(list(argv) if argv is not None else None)
    except KeyboardInterrupt:
        # Ctrl-C outside a command's own handling: no traceback, and no second one while
        # saying so.
        _on_sigint(None)
        sys.stderr.write(_INTERRUPTED.decode())
        sys.exit(EXIT_INTERRUPTED)
    # The work is done and its output flushed: a late Ctrl-C must not turn into a traceback
    # from the interpreter's shutdown.
    _on_sigint(None)
    sys.exit(code)
