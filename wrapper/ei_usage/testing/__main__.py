"""Run a fake Edge Impulse Studio from the command line.

Usage::

    python -m ei_usage.testing [--host 127.0.0.1] [--port 0] [--api-key KEY]
                               [--latency SECONDS] [--seed N] [--inner-organizations N]
                               [--daily-metrics] [--rate-limit RATE [--burst N]]
                               [--allow-remote] [--verbose]

The first line on stdout is ``base_url=http://127.0.0.1:PORT/v1`` (scripts read it); the server
then runs until SIGINT or SIGTERM and exits with status 0, logging on stderr how many requests it
served and how many of them the rate limit answered 429. The API key is ``--api-key``, else the
``EI_API_KEY`` environment variable, else ``DEMO_API_KEY`` (``ei_fake_studio_demo_key``); it
administers organization 1, the admin of a white label with inner organizations 2 to 11 (2 to
N + 1 with ``--inner-organizations N``). ``--rate-limit RATE`` limits the key to RATE requests per
second with bursts of ``--burst`` (default: RATE, at least 1); ``--daily-metrics`` fills the
``dailyMetrics`` of organization info.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ._model import DEFAULT_INNER_ORGANIZATION_COUNT, DEMO_API_KEY, MAX_INNER_ORGANIZATIONS
from ._studio import FakeStudio, _is_loopback

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

_LOG = logging.getLogger("ei_usage.testing")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ei_usage.testing",
        description="Serve a fake Edge Impulse Studio (organization usage operations) locally.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default 0: a free one)")
    parser.add_argument(
        "--api-key",
        help=f"API key to accept (default: $EI_API_KEY, else the demo key {DEMO_API_KEY})",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every answer (default 0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the usage data (default 0)")
    parser.add_argument(
        "--inner-organizations",
        type=int,
        default=DEFAULT_INNER_ORGANIZATION_COUNT,
        metavar="N",
        help=f"inner organizations of the white label, 2 to N+1 (default "
        f"{DEFAULT_INNER_ORGANIZATION_COUNT}, at most {MAX_INNER_ORGANIZATIONS})",
    )
    parser.add_argument(
        "--daily-metrics",
        action="store_true",
        help="organization info carries 365 dailyMetrics records instead of null",
    )
    parser.add_argument(
        "--usage-shapes",
        action="store_true",
        help="give the inner organizations the shapes of real usage (growth, decline, a "
        "seasonal swing, a step, an idle month, a contract renewed mid-year)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="RATE",
        help="requests per second the API key may make (token bucket; default: no limit)",
    )
    parser.add_argument(
        "--burst",
        type=float,
        metavar="N",
        help="requests the API key may make at once (default: RATE, at least 1)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (the fake has no real security)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake until SIGINT or SIGTERM.

    Args:
        argv: The arguments, without the program name; None for ``sys.argv[1:]``.

    Returns:
        The exit status: 0 after a clean shutdown.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be from 0 to 65535, got {args.port}")
    if not math.isfinite(args.latency) or args.latency < 0:
        parser.error(f"--latency must be a number of seconds >= 0, got {args.latency}")
    if not 0 <= args.inner_organizations <= MAX_INNER_ORGANIZATIONS:
        parser.error(
            f"--inner-organizations must be from 0 to {MAX_INNER_ORGANIZATIONS}, "
            f"got {args.inner_organizations}"
        )
    if args.rate_limit is not None and not (math.isfinite(args.rate_limit) and args.rate_limit > 0):
        parser.error(
            f"--rate-limit must be a number of requests per second > 0, got {args.rate_limit}"
        )
    if args.burst is not None:
        if args.rate_limit is None:
            parser.error("--burst needs --rate-limit")
        if not (math.isfinite(args.burst) and args.burst >= 1):
            parser.error(f"--burst must be a number >= 1, got {args.burst}")
    if not args.allow_remote and not _is_loopback(args.host):
        parser.error(
            f"refusing to listen on non-loopback host {args.host!r} without --allow-remote"
        )
    api_key = args.api_key or os.environ.get("EI_API_KEY") or DEMO_API_KEY
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            studio = FakeStudio(
                api_key,
                latency=args.latency,
                seed=args.seed,
                inner_organizations=args.inner_organizations,
                daily_metrics=args.daily_metrics,
                usage_shapes=args.usage_shapes,
                rate_limit=args.rate_limit,
                burst=args.burst,
                host=args.host,
                port=args.port,
                allow_remote=args.allow_remote,
                record_requests=False,  # a long-running server must not grow without bound
            )
        except ValueError as error:
            parser.error(str(error))
        with studio:
            print(f"base_url={studio.base_url}", flush=True)
            source = (
                "--api-key"
                if args.api_key
                else "EI_API_KEY"
                if os.environ.get("EI_API_KEY")
                else "the demo key"
            )
            # Never the key itself: it may be a real one.
            _LOG.info(
                "FakeStudio serving %s (API key from %s); SIGINT or SIGTERM stops it",
                studio.base_url,
                source,
            )
            # A timeout keeps the main thread waking up, so signals are handled promptly.
            while not stopping.wait(0.5):
                pass
        _LOG.info(
            "FakeStudio stopped after %d requests, %d of them answered 429 by the rate limit",
            studio.request_count,
            studio.rate_limited_count,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
