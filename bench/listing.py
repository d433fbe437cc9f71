"""Hostile organization listings: how many requests, and how long, until the listing ends.

Usage::

    .venv/bin/python bench/listing.py [--runs N]     # this section alone: make bench-listing

``make bench`` runs the same section (``bench_listing`` in ``run.py``) and records its rows in
``bench/RESULTS.md``. Each case lists a white label of 25 inner organizations (deleted ones
left out: one listing) with ``Client.inner_organizations`` against FakeStudio acting out a
broken server (``ListingQuirks``): a ``total`` that overstates by one, one that understates
(15 for 25, and 0), ``offset`` ignored, pages of one organization, pages that keep shifting
("keeps removing"). The target of every case: at most the real count + 3 requests (25 + 3); a
total that overstates or understates and pages of one hide nothing, so all 25 must be listed.
The simulator runs in a thread of this process, on loopback with no added latency; requests are
the simulator's count.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

ORGANIZATIONS = 25
# FakeStudio's default white label deletes one organization in ten: 28 leave 25 listed. Deleted
# ones are left out, so each case is one listing (with them, a second one tells them apart).
STUDIO_ORGANIZATIONS = 28
PAGE_SIZES = (10, 100)
KEY = "ei_bench_listing_key"


def cases() -> list[tuple[str, Any, bool]]:
    """Return (label, ListingQuirks or None, must list all) of every case, honest first.

    A total that overstates or understates and pages of one hide nothing: all 25 must be listed.
    """
    from ei_usage.testing import ListingQuirks

    return [
        ("honest server (reference)", None, True),
        ("total overstated by one (26 for 25)", ListingQuirks(total_extra=1), True),
        ("total understated (15 for 25)", ListingQuirks(total_extra=-10), True),
        ("total of 0 (for 25)", ListingQuirks(total_extra=-ORGANIZATIONS), True),
        ("offset ignored", ListingQuirks(ignore_offset=True), False),
        ("pages of one organization", ListingQuirks(page_cap=1), True),
        ("keeps removing (every page one further on)", ListingQuirks(keeps_removing=True), False),
    ]


def measure(runs: int) -> list[dict[str, Any]]:
    """List the white label ``runs`` times per case and page size; return one result each."""
    from ei_usage import Client, IncompleteListingWarning
    from ei_usage.testing import FakeStudio

    results = []
    studio = FakeStudio(
        api_key=KEY, inner_organizations=STUDIO_ORGANIZATIONS, record_requests=False
    )
    with studio, Client(KEY, base_url=studio.base_url) as client:
        list(client.inner_organizations(1))  # warm up: the connection, the studio's caches
        for page_size in PAGE_SIZES:
            for label, quirks, all_kept in cases():
                studio.listing_quirks = quirks
                seconds, requests, listed, reasons = [], [], [], []
                for _ in range(runs):
                    before = studio.request_count
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", IncompleteListingWarning)
                        listing = client.inner_organizations(1, page_size=page_size)
                        ids = [o.id for o in listing]
                    seconds.append(time.perf_counter() - start)
                    requests.append(studio.request_count - before)
                    listed.append(len(ids))
                    reasons.append(listing.stop_reason)
                results.append(
                    {
                        "case": label,
                        "page_size": page_size,
                        "seconds": seconds,
                        "requests": max(requests),
                        "listed": min(listed),
                        "cut_short": any(r is not None for r in reasons),
                        "must_list_all": all_kept,
                    }
                )
    return results


def main() -> int:
    """Run this section alone and print its rows of the results table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    args = parser.parse_args()
    import run  # the results table's rows and formatting

    notes: list[str] = []
    rows = run.bench_listing(args.runs, notes)
    sys.stdout.write("\n".join([run.HEADER, *(r.markdown() for r in rows)]) + "\n\n")
    met = sum(r.met is True for r in rows)
    missed = sum(r.met is False for r in rows)
    sys.stdout.write(f"Targets: {met} met, {missed} missed.\n\n")
    sys.stdout.write("\n".join(f"- {n}" for n in notes) + "\n")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
