"""``make demo``: the ``ei-usage`` command line on a year of usage, offline by default.

Without credentials it starts a :class:`FakeStudio` on loopback and points the command at it.
Then, offline and with the store and exporter extras installed (as ``make venv`` does): a
``sync`` of the last twelve months into a temporary history store, a second ``sync`` that asks
nothing again for the closed months, ``history`` and ``forecast`` from the store alone, and the
Prometheus exporter serving one scrape.
With ``EI_API_KEY`` (or ``EI_JWT_TOKEN``/``EI_ACCESS_TOKEN``), ``EI_ORG_ID`` and
``EI_INNER_ORG_IDS`` (comma-separated) set, it runs the same commands against the real Studio
(``EI_BASE_URL`` for a white-label host). ``EI_DEMO_PERIOD`` changes the period (default 2024).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
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


def _history_commands(organization: str, db: str, since: str) -> list[list[str]]:
    store = ["--org", organization, "--db", db]
    return [
        ["sync", *store, "--since", since],
        # Again: the closed months come from the store; only the running month is asked for.
        ["sync", *store, "--since", since],
        ["history", *store, "--every", "quarter", "--unit", "hours"],
        ["forecast", *store, "--unit", "hours"],
    ]


def _year_ago() -> str:
    now = datetime.now(UTC)
    return f"{now.year - 1}-{now.month:02d}"


def _extras_installed() -> bool:
    try:
        import ei_usage.exporter
        import ei_usage.store  # noqa: F401
    except ImportError as error:
        print(
            f"\n(history, forecast and exporter skipped: {error.name} is not installed; "
            "pip install 'ei-usage[exporter]')"
        )
        return False
    return True


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
        status = _run(_commands("1", ["2", "3", "4"], period), env)
        if not _extras_installed():
            return status
        with tempfile.TemporaryDirectory(prefix="ei-usage-demo-") as tmp:
            db = os.path.join(tmp, "history.sqlite3")
            print(f"\nA history store in {db} (EI_USAGE_DB or --db; PostgreSQL by URL).")
            status = status or _run(_history_commands("1", db, _year_ago()), env)
    from ei_usage.exporter import demo as exporter_demo

    print("\nThe Prometheus exporter, scraped once:")
    return status or exporter_demo.main(seconds=3.0)


if __name__ == "__main__":
    sys.exit(main())
