"""``make demo``: the ``ei-usage`` command line on a year of usage, offline by default.

Without credentials it starts a :class:`FakeStudio` on loopback and points the command at it.
With ``EI_API_KEY`` (or ``EI_JWT_TOKEN``/``EI_ACCESS_TOKEN``), ``EI_ORG_ID`` and
``EI_INNER_ORG_IDS`` (comma-separated) set, it runs the same commands against the real Studio
(``EI_BASE_URL`` for a white-label host). ``EI_DEMO_PERIOD`` changes the period (default 2024).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

from ._model import DEMO_API_KEY
from ._studio import FakeStudio

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_CREDENTIALS = ("EI_API_KEY", "EI_JWT_TOKEN", "EI_ACCESS_TOKEN")


# `check` exits 4 or 5 when organizations are near or over their entitlements: for the demo
# that is a finding to show, not a failure.
_ALERTS = {4: "some organization is at or over --warn-at", 5: "some organization is over --fail-at"}


def _commands(organization: str, inner: Sequence[str], period: str) -> list[list[str]]:
    inner_args = [arg for i in inner for arg in ("--inner-org", i)]
    return [
        ["orgs", "--org", organization, "--unit", "hours"],
        ["compute-time", "--org", organization, *inner_args, "--period", period, "--unit", "hours"],
        ["check", "--org", organization, "--unit", "hours"],
        ["metrics", "--org", organization, "--unit", "hours"],
    ]


def _run(commands: list[list[str]], env: Mapping[str, str]) -> int:
    status = 0
    for args in commands:
        print(f"\n$ ei-usage {shlex.join(args)}", flush=True)
        done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "ei_usage.cli", *args], env=dict(env), check=False
        )
        if args[0] == "check" and done.returncode in _ALERTS:
            print(f"(exit status {done.returncode}: {_ALERTS[done.returncode]})", flush=True)
            continue
        status = status or done.returncode
    return status


def main() -> int:
    """Run the demo; return the exit status of the first failing command, else 0."""
    period = os.environ.get("EI_DEMO_PERIOD", "2024")
    live = any(os.environ.get(name) for name in _CREDENTIALS)
    if live:
        organization = os.environ.get("EI_ORG_ID", "")
        inner = [i.strip() for i in os.environ.get("EI_INNER_ORG_IDS", "").split(",") if i.strip()]
        if not organization or not inner:
            print(
                "demo: with credentials set, also set EI_ORG_ID and EI_INNER_ORG_IDS",
                file=sys.stderr,
            )
            return 2
        print(f"Against {os.environ.get('EI_BASE_URL', 'https://studio.edgeimpulse.com/v1')}")
        return _run(_commands(organization, inner, period), os.environ)
    with FakeStudio(api_key=DEMO_API_KEY, record_requests=False) as studio:
        print(
            f"Against a FakeStudio on {studio.base_url} (organization 1, a white label of "
            "inner organizations 2 to 11). Set EI_API_KEY, EI_ORG_ID and EI_INNER_ORG_IDS to "
            "use the real Studio."
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("EI_")}
        env.update(EI_API_KEY=DEMO_API_KEY, EI_BASE_URL=studio.base_url)
        return _run(_commands("1", ["2", "3", "4"], period), env)


if __name__ == "__main__":
    sys.exit(main())
