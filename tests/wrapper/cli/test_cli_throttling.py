"""The command line against a server that throttles for ever: it stops and says so in one line.

In process (``cli.invoke``), on the virtual clock of ``tests/conftest.py``: no real waiting.
"""

from __future__ import annotations

import importlib

import pytest

from ei_usage._ratelimit import FIRST_ANSWER_STOP_SECONDS, THROTTLE_STOP_ROUNDS
from ei_usage.testing import FakeStudio, Fault, Operation

from .conftest import Cli

FOREVER = 1_000_000


@pytest.mark.parametrize(
    ("args", "operation", "what"),
    [
        (["check", "--org", "1"], Operation.ORGANIZATION_INFO, "organizations"),
        (
            [
                "compute-time",
                "--org",
                "1",
                "--inner-org",
                "2",
                "--inner-org",
                "3",
                "--period",
                "2024",
            ],
            Operation.COMPUTE_TIME,
            "requests",
        ),
    ],
)
def test_a_server_that_always_throttles_stops_the_command_with_one_line(
    cli: Cli, studio: FakeStudio, args: list[str], operation: Operation, what: str
) -> None:
    studio.inject(Fault.rate_limited(retry_after=0), times=FOREVER, operation=operation)
    outcome = cli.invoke(*args)
    assert outcome.code == 1, outcome.stderr
    stopped = [line for line in outcome.stderr_lines if "not attempted" in line]
    assert len(stopped) == 1, outcome.stderr
    assert f"{what} not attempted: the server kept answering 429 (too many requests)" in stopped[0]
    # The budget's bound (tests/wrapper/test_throttle_budget.py) at the default --concurrency 8:
    # scheduling decides where in it a run ends (84 requests once on a loaded machine).
    sent = len([r for r in studio.requests if r.operation is operation])
    assert sent <= 8 * (THROTTLE_STOP_ROUNDS + 1)


def test_a_server_that_only_ever_throttles_is_given_up_on_within_30_s(
    cli: Cli, studio: FakeStudio
) -> None:
    # The command's client never had another answer. Before: about 100 virtual seconds.
    clock = importlib.import_module("ei_usage._client")._clock
    studio.inject(Fault.rate_limited(retry_after=None), times=FOREVER)
    started = clock()
    outcome = cli.invoke(
        "compute-time", "--org", "1", "--inner-org", "2", "--inner-org", "3",
        "--period", "2024", "--concurrency", "1",
    )  # fmt: skip
    elapsed = clock() - started
    assert outcome.code == 1, outcome.stderr
    stopped = [line for line in outcome.stderr_lines if "not attempted" in line]
    assert len(stopped) == 1, outcome.stderr
    assert "the server kept answering 429 (too many requests)" in stopped[0]
    assert "no other answer since this client started" in stopped[0]
    assert elapsed <= FIRST_ANSWER_STOP_SECONDS
