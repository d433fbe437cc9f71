"""Type-checked use of the public API (``make typecheck`` runs mypy --strict on this file).

Nothing here runs: it fails the build if a public signature stops giving users these types.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, assert_type

from ei_usage import (
    APIError,
    AsyncClient,
    Client,
    ComputeTime,
    DateRange,
    EdgeImpulseError,
    OrganizationMetrics,
    RateLimitError,
    Unit,
    convert,
)


def sync_usage(client: Client) -> None:
    usage = client.compute_time(1, 2, "2024-Q2")
    assert_type(usage, ComputeTime)
    assert_type(usage.cpu, timedelta | None)
    assert_type(usage.discrepancy, timedelta | None)
    assert_type(usage.period, DateRange)
    assert_type(usage.to_dict(Unit.HOURS), dict[str, Any])
    pieces = client.compute_time_by_period(1, 2, DateRange.year(2024), every="quarter")
    assert_type(pieces, list[ComputeTime])
    metrics = client.metrics(1, exclude_edge_impulse_users=True, project_visibility="public")
    assert_type(metrics, OrganizationMetrics)
    assert_type(metrics.total_storage_bytes, int)
    assert_type(metrics.jobs_compute_time_current_year_since, datetime)


async def async_usage() -> None:
    async with AsyncClient.from_env(timeout=timedelta(seconds=10)) as client:
        usage = await client.compute_time(1, 2, DateRange(date(2024, 1, 1), date(2024, 2, 1)))
        assert_type(usage, ComputeTime)
        pieces = await client.compute_time_by_period(1, 2, "2024", concurrency=4)
        assert_type(pieces, list[ComputeTime])


def errors() -> None:
    try:
        with Client("key", max_retries=0) as client:
            client.metrics(0)
    except RateLimitError as error:
        assert_type(error.retry_after, timedelta | None)
    except APIError as error:
        assert_type(error.status_code, int)
        assert_type(error.message, str)
    except EdgeImpulseError:
        pass


def units_and_ranges() -> None:
    assert_type(convert(90, "seconds", Unit.MINUTES), float)
    assert_type(DateRange.parse("2024-05").split("week"), list[DateRange])
    assert_type(DateRange.last(days=7).duration, timedelta)


def listings(client: Client) -> None:
    from ei_usage import InnerOrganization, ListingFailure, OrganizationListing

    listing = client.inner_organizations(1, page_size=50)
    assert_type(listing, OrganizationListing)
    for organization in listing:
        assert_type(organization, InnerOrganization)
    assert_type(listing.stop_reason, str | None)
    assert_type(listing.errors, tuple[ListingFailure, ...])
    assert_type(listing.ok, bool)


async def async_listings(client: AsyncClient) -> None:
    from ei_usage import AsyncOrganizationListing, InnerOrganization

    listing = client.inner_organizations(1)
    assert_type(listing, AsyncOrganizationListing)
    async for organization in listing:
        assert_type(organization, InnerOrganization)
    assert_type(listing.stop_reason, str | None)


def raw_responses_and_options(client: Client) -> None:
    import ssl

    import httpx

    from ei_usage import RawResponse

    raw = client.with_raw_response.compute_time(1, 2, "2024-05")
    assert_type(raw, RawResponse[ComputeTime])
    assert_type(raw.parse(), ComputeTime)
    assert_type(raw.status_code, int)
    assert_type(raw.headers, httpx.Headers)
    assert_type(raw.request_id, str | None)
    assert_type(raw.elapsed, timedelta)
    assert_type(raw.retries, int)
    assert_type(client.with_raw_response.metrics(1).parse(), OrganizationMetrics)
    derived = client.with_options(timeout=timedelta(seconds=5), headers={"x-trace": "1"})
    assert_type(derived, Client)
    assert_type(derived.with_options(max_retries=0, max_rate=2.0), Client)
    with httpx.Client() as http:
        assert_type(Client("key", http_client=http), Client)
    assert_type(Client("key", verify="ca.pem", proxy="http://proxy:3128"), Client)
    assert_type(Client("key", verify=ssl.create_default_context()), Client)
    try:
        client.metrics(1)
    except APIError as error:
        assert_type(error.request_id, str | None)


async def async_raw_responses(client: AsyncClient) -> None:
    import httpx

    from ei_usage import InnerOrganizationUsage, RawResponse

    raw = await client.with_raw_response.inner_organization(1, 2)
    assert_type(raw, RawResponse[InnerOrganizationUsage])
    assert_type(client.with_options(timeout=3), AsyncClient)
    async with httpx.AsyncClient() as http:
        assert_type(AsyncClient("key", http_client=http), AsyncClient)
