"""A sequential sample of the bulk report's requests, by the official bindings or by ei-usage.

``--client official`` runs under ``bench/.venv-official`` (``edgeimpulse-api``, never a
dependency of ei-usage); ``--client ei_usage`` under the project venv, for the comparison in the
same run. Both make the first ``--requests`` requests of the bulk report (inner organization 2,
then 3..., month by month from 2021-01), one at a time, after one untimed request that opens the
connection. Prints one JSON line: seconds per request.

The official bindings send dates as ``datetime.isoformat()`` (``2021-01-01T00:00:00+00:00``);
the simulator accepts that as the real Studio does.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from _common import API_KEY, FIRST_INNER_ID, ORGANIZATION_ID, emit, month_label

if TYPE_CHECKING:
    from collections.abc import Callable

MONTHS = 40
FIRST_YEAR = 2021


def _jobs(count: int) -> list[tuple[int, int]]:
    """(inner organization, month offset) of the first ``count`` requests, in report order."""
    return [(FIRST_INNER_ID + i // MONTHS, i % MONTHS) for i in range(count)]


def _month_start(offset: int) -> datetime:
    label = month_label(FIRST_YEAR, 1, offset)
    return datetime(int(label[:4]), int(label[5:]), 1, tzinfo=UTC)


def official(base_url: str) -> tuple[Callable[[int, int], Any], Callable[[], None]]:
    """Return (send one request, close) with the official bindings."""
    from edgeimpulse_api import (  # type: ignore[import-not-found]
        ApiClient,
        Configuration,
        OrganizationsApi,
    )

    client = ApiClient(Configuration(host=base_url, api_key={"ApiKeyAuthentication": API_KEY}))
    api = OrganizationsApi(client)

    def send(inner: int, offset: int) -> Any:
        response = api.whitelabel_admin_get_organization_compute_time_usage(
            ORGANIZATION_ID, inner, _month_start(offset), _month_start(offset + 1)
        )
        if not response.success:
            raise SystemExit(f"official request failed: {response.error}")
        return response

    return send, client.close


def ei_usage(base_url: str) -> tuple[Callable[[int, int], Any], Callable[[], None]]:
    """Return (send one request, close) with ei-usage's sync Client."""
    from ei_usage import Client

    client = Client(API_KEY, base_url=base_url)

    def send(inner: int, offset: int) -> Any:
        return client.compute_time(ORGANIZATION_ID, inner, month_label(FIRST_YEAR, 1, offset))

    return send, client.close


def main() -> None:
    """Time the sample and print the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", choices=("official", "ei_usage"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    send, close = (official if args.client == "official" else ei_usage)(args.base_url)
    try:
        send(FIRST_INNER_ID, 0)  # connect
        jobs = _jobs(args.requests)
        start = time.perf_counter()
        for inner, offset in jobs:
            send(inner, offset)
        elapsed = time.perf_counter() - start
    finally:
        close()
    emit({"per_request": elapsed / len(jobs), "requests": len(jobs)})


if __name__ == "__main__":
    main()
