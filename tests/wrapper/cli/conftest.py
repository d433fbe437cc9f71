"""Fixtures for the command-line tests: a fake Studio and two ways to run ``ei-usage`` against it.

``cli.invoke(...)`` calls the click command in process through ``CliRunner``: fast, and a test can
patch the client (retry sleeps). ``cli.start(...)`` starts the real entry point in a subprocess
(``python -m ei_usage.cli``, or the ``ei-usage`` console script with ``script=True``), optionally
with stderr on a pseudo-terminal; ``.wait()`` collects it. A subprocess costs about a second of
imports, so the subprocess tests start theirs all at once (see ``cli_factory``).

Every run, either way, is checked for a leaked credential and for a Python traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from ei_usage.cli._app import cli as click_cli
from ei_usage.testing import FakeStudio

SECRET = "ei_SECRET_cli_4f1c9a7be2d3c0de"
"""The API key the studio accepts; it must never show in any output."""

CREDENTIAL_VARIABLES = ("EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN")
# Variables that change what rich or click print; unset so runs do not depend on the caller.
_OUTPUT_VARIABLES = (
    "FORCE_COLOR",
    "NO_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
)
SCRIPT = Path(sys.executable).with_name("ei-usage")
TIMEOUT = 30


@dataclass(frozen=True)
class Outcome:
    """What one run of the command printed and returned."""

    code: int
    stdout: str
    stderr: str
    terminal: str = ""  # the raw bytes (decoded) a pseudo-terminal on stderr received

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def clean_environ() -> dict[str, str]:
    """The caller's environment without any EI_* variable or output-changing variable."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("EI_") and name not in _OUTPUT_VARIABLES
    }


def check_outcome(outcome: Outcome, env: Mapping[str, str | None]) -> None:
    """The checks every run must pass, whatever it was asked."""
    secrets = {SECRET}
    secrets.update(
        value.strip()
        for name, value in env.items()
        if name in CREDENTIAL_VARIABLES and value and value.strip()
    )
    for secret in secrets:
        assert secret not in outcome.stdout, "a credential was printed on stdout"
        assert secret not in outcome.stderr, "a credential was printed on stderr"
        assert secret not in outcome.terminal, "a credential was printed on the terminal"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert "Traceback" not in outcome.terminal, outcome.terminal


def _drain(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO once every slave end is closed
            return
        if not chunk:
            return
        into.append(chunk)


@dataclass
class Running:
    """A subprocess run in progress."""

    process: subprocess.Popen[bytes]
    variables: dict[str, str | None]
    input: str | None
    master: int | None = None
    received: list[bytes] = field(default_factory=list)
    reader: threading.Thread | None = None
    _outcome: Outcome | None = None

    def wait(self) -> Outcome:
        """Wait for the run to end and return what it printed (checked)."""
        if self._outcome is None:
            try:
                data = None if self.input is None else self.input.encode()
                stdout, stderr = self.process.communicate(data, timeout=TIMEOUT)
            finally:
                self.close()
            terminal = b"".join(self.received).decode("utf-8", errors="replace")
            self._outcome = Outcome(
                self.process.returncode,
                stdout.decode(),
                terminal if stderr is None else stderr.decode(),
                terminal,
            )
            check_outcome(self._outcome, self.variables)
        return self._outcome

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipes and terminal."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self.reader is not None:
            self.reader.join(timeout=TIMEOUT)
        if self.master is not None:
            os.close(self.master)
            self.master = None


class Cli:
    """Runs ``ei-usage`` with the studio's base URL and a credential in the environment."""

    secret = SECRET

    def __init__(self, studio: FakeStudio) -> None:
        self.studio = studio

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """The variables a run sees: EI_API_KEY and EI_BASE_URL unless ``extra`` says otherwise.

        A None value in ``extra`` unsets that variable.
        """
        env: dict[str, str | None] = {"EI_API_KEY": SECRET, "EI_BASE_URL": self.studio.base_url}
        env.update(extra or {})
        return env

    def start(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
        script: bool = False,
        terminal: bool = False,
    ) -> Running:
        """Start the real entry point in a subprocess; stdout is a pipe, stderr a pipe or a pty.

        Pass the environment explicitly: the caller's, minus EI_* and output variables, plus ours.
        """
        variables = self.env(env)
        full = clean_environ()
        full.update({name: value for name, value in variables.items() if value is not None})
        entry = [str(SCRIPT)] if script else [sys.executable, "-m", "ei_usage.cli"]
        master = slave = None
        if terminal:
            master, slave = pty.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
            full["TERM"] = "xterm-256color"
        try:
            process = subprocess.Popen(
                [*entry, *args],
                env=full,
                stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if slave is None else slave,
            )
        except BaseException:
            if master is not None:
                os.close(master)
            raise
        finally:
            if slave is not None:
                os.close(slave)  # the child holds its own copy; EOF comes when it exits
        running = Running(process, variables, input, master)
        if master is not None:
            running.reader = threading.Thread(
                target=_drain, args=(master, running.received), daemon=True
            )
            running.reader.start()
        return running

    def invoke(
        self,
        *args: str,
        env: Mapping[str, str | None] | None = None,
        input: str | None = None,
    ) -> Outcome:
        """Run the click command in this process with CliRunner."""
        variables = self.env(env)
        unset: dict[str, str | None] = {name: None for name in os.environ if name.startswith("EI_")}
        unset.update(dict.fromkeys(_OUTPUT_VARIABLES))
        result = CliRunner().invoke(click_cli, list(args), env={**unset, **variables}, input=input)
        # Anything but a clean exit is a crash the user would see as a traceback.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"the command crashed: {result.exception!r}") from (
                result.exception
            )
        outcome = Outcome(result.exit_code, result.stdout, result.stderr)
        check_outcome(outcome, variables)
        return outcome


@pytest.fixture
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=SECRET) as running:
        yield running


@pytest.fixture
def cli(studio: FakeStudio) -> Cli:
    return Cli(studio)


@pytest.fixture(scope="module")
def cli_factory() -> Iterator[Callable[[], Cli]]:
    """Make a ``Cli`` with a studio of its own, alive until the end of the module."""
    with contextlib.ExitStack() as stack:

        def make() -> Cli:
            return Cli(stack.enter_context(FakeStudio(api_key=SECRET)))

        yield make
