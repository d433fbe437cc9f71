"""Serve a FakeStudio for the benchmarks until SIGTERM or SIGINT.

``python -m ei_usage.testing`` serves the default white label (inner organizations 2 to 11); the
bulk benchmark needs 50, so this builds its own organizations. The first stdout line is
``base_url=...``; the last, written on the way out, is ``stats={"requests": N, "rate_limited":
M}``. Requests are not recorded, so memory stays flat however many are served.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from ei_usage.testing import FakeOrganization, FakeStudio


def main() -> int:
    """Serve until told to stop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    parser.add_argument("--inner-count", type=int, default=50, help="inner organizations 2..N+1")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--burst", type=float, default=None, help="the token bucket's size")
    args = parser.parse_args()

    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.set())
    organizations = [
        FakeOrganization(1, whitelabel_inner_ids=frozenset(range(2, 2 + args.inner_count)))
    ]  # unknown inner ids are added with default data
    studio = FakeStudio(
        args.api_key,
        organizations=organizations,
        latency=args.latency,
        record_requests=False,
        idle_timeout=120.0,
        rate_limit=args.rate_limit,
        burst=args.burst,
    )
    with studio:
        sys.stdout.write(f"base_url={studio.base_url}\n")
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    stats = {"requests": studio.request_count, "rate_limited": studio.rate_limited_count}
    sys.stdout.write(f"stats={json.dumps(stats)}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
