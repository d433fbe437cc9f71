"""Both operations through the public API, sync and async, against recorded answers.

Assertions are about shapes, units and relations, so the same test passes on a recording of the
simulator or of the real Studio; simulator-only tests say so (``target.inject`` skips them live).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from ei_usage import (
    APIError,
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    Client,
    ComputeTime,
    DateRange,
    InnerOrganization,
    InnerOrganizationUsage,
    NotFoundError,
    OrganizationMetrics,
    PermissionDeniedError,
    ServerError,
)
from ei_usage._calls import period_query as _period_query
from ei_usage.testing import Fault

Call = Callable[[Any], Any]
Target = Any  # the `target` fixture of conftest.py


def run(target: Target, flavour: str, call: Call, **client_kwargs: Any) -> Any:
    """Run ``call(client)`` with a sync client or, awaiting it, an async one."""
    kwargs = {"base_url": target.base_url, **client_kwargs}
    kwargs.setdefault("api_key", target.api_key)
    if flavour == "sync":
        with Client(**kwargs) as client:
            return call(client)

    async def main() -> Any:
        async with AsyncClient(**kwargs) as client:
            return await call(client)

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


flavours = pytest.mark.parametrize("flavour", ["sync", "async"])
MAY = DateRange.month(2024, 5)


def check_compute_time(result: ComputeTime, target: Target, period: DateRange) -> None:
    assert isinstance(result, ComputeTime)
    assert result.organization_id == target.organization_id
    assert result.inner_organization_id == target.inner_organization_id
    assert result.period == period
    for value in (result.cpu, result.gpu, result.total):
        assert isinstance(value, timedelta)
        assert value >= timedelta(0)
    assert result.discrepancy is not None
    # total comes in minutes, cpu and gpu in seconds: read the wrong unit and these are 60x off
    assert abs(result.discrepancy) <= timedelta(minutes=1)


@flavours
@pytest.mark.vcr
def test_compute_time(target: Target, flavour: str) -> None:
    result = run(
        target,
        flavour,
        lambda c: c.compute_time(target.organization_id, target.inner_organization_id, MAY),
    )
    check_compute_time(result, target, MAY)
    if target.studio is not None:  # recording from the simulator: its numbers are known
        cpu_us, gpu_us = target.studio.usage(target.inner_organization_id, MAY.start, MAY.end)
        assert result.cpu == timedelta(microseconds=cpu_us)
        assert result.gpu == timedelta(microseconds=gpu_us)


@flavours
@pytest.mark.vcr
def test_compute_time_by_period_over_several_months(target: Target, flavour: str) -> None:
    period = DateRange.parse("2024-01-15..2024-04")
    pieces = run(
        target,
        flavour,
        lambda c: c.compute_time_by_period(
            target.organization_id, target.inner_organization_id, period, every="month"
        ),
    )
    assert [p.period for p in pieces] == period.split("month")
    assert str(pieces[0].period) == "2024-01-15..2024-01-31"
    assert str(pieces[-1].period) == "2024-04"
    for piece in pieces:
        check_compute_time(piece, target, piece.period)


@flavours
@pytest.mark.vcr
def test_metrics_with_both_optional_parameters(target: Target, flavour: str) -> None:
    result = run(
        target,
        flavour,
        lambda c: c.metrics(
            target.organization_id,
            exclude_edge_impulse_users=True,
            project_visibility="private",
        ),
    )
    assert isinstance(result, OrganizationMetrics)
    assert result.organization_id == target.organization_id
    assert result.exclude_edge_impulse_users is True
    assert result.project_visibility == "private"
    assert result.jobs_compute_time_current_year_since.tzinfo is UTC
    assert result.total_jobs_compute_time >= result.jobs_compute_time_current_year
    assert result.total_storage_bytes >= 0
    assert result.project_count >= 0
    assert result.user_count >= 0


def _collect(flavour: str, iterator: Any) -> Any:
    if flavour == "sync":
        return list(iterator)

    async def gather() -> list[Any]:
        return [item async for item in iterator]

    return gather()


@flavours
@pytest.mark.vcr
def test_inner_organizations_over_several_pages(target: Target, flavour: str) -> None:
    organizations = run(
        target,
        flavour,
        lambda c: _collect(
            flavour,
            c.inner_organizations(target.organization_id, include_deleted=True, page_size=4),
        ),
    )
    assert len(organizations) > 4  # more than one page
    ids = [o.id for o in organizations]
    assert ids == sorted(set(ids))  # in id order, each once
    for organization in organizations:
        assert isinstance(organization, InnerOrganization)
        assert organization.name
        assert organization.created.tzinfo is UTC
        limits = organization.entitlements
        for limit in (limits.compute_time_per_year, limits.gpu_compute_time_per_year):
            assert limit is None or limit > timedelta(0)
        assert limits.storage_bytes is None or limits.storage_bytes > 0
    if target.studio is not None:
        truth = target.studio.inner_organizations(target.organization_id, include_deleted=True)
        assert ids == [o.id for o in truth]
        # The listing record has no "deleted" field: a second listing, without them, tells.
        assert [o.deleted for o in organizations] == [o.deleted for o in truth]
        assert any(o.deleted for o in organizations)


@flavours
@pytest.mark.vcr
def test_inner_organization_contract_and_entitlements(target: Target, flavour: str) -> None:
    usage = run(
        target,
        flavour,
        lambda c: c.inner_organization(target.organization_id, target.inner_organization_id),
    )
    assert isinstance(usage, InnerOrganizationUsage)
    assert usage.inner_organization_id == target.inner_organization_id
    for value in (usage.cpu, usage.gpu, usage.total):
        assert isinstance(value, timedelta)
        assert value >= timedelta(0)
    assert usage.compute is not None
    assert usage.total is not None
    # total in minutes, cpu and gpu in seconds: read a unit wrong and these are 60x apart
    assert abs(usage.total - usage.compute) <= timedelta(minutes=1)
    assert usage.contract_since is None or usage.contract_since.tzinfo is UTC
    if target.studio is not None:
        cpu_us, gpu_us = target.studio.contract_usage(target.inner_organization_id)
        assert usage.cpu == timedelta(microseconds=cpu_us)
        assert usage.gpu == timedelta(microseconds=gpu_us)


@flavours
@pytest.mark.vcr
def test_listing_a_white_label_you_do_not_administer_is_forbidden(
    target: Target, flavour: str
) -> None:
    target.simulator_only()
    with pytest.raises(PermissionDeniedError) as info:
        run(target, flavour, lambda c: _collect(flavour, c.inner_organizations(2)))
    assert info.value.status_code == 403


@flavours
@pytest.mark.vcr
def test_wrong_key_is_an_authentication_error(target: Target, flavour: str) -> None:
    with pytest.raises(AuthenticationError) as info:
        run(
            target,
            flavour,
            lambda c: c.metrics(target.organization_id),
            api_key="not-a-valid-key",
        )
    assert info.value.status_code == 401
    assert info.value.message


@flavours
@pytest.mark.vcr
def test_an_organization_you_do_not_administer_is_forbidden(target: Target, flavour: str) -> None:
    target.simulator_only()  # the real Studio would need an organization set aside for this
    # organization 2 exists, but the key administers only organization 1
    with pytest.raises(PermissionDeniedError) as info:
        run(target, flavour, lambda c: c.compute_time(2, 3, MAY))
    assert info.value.status_code == 403


@flavours
@pytest.mark.vcr
def test_an_unknown_inner_organization_is_not_found(target: Target, flavour: str) -> None:
    target.simulator_only()
    with pytest.raises(NotFoundError) as info:
        run(target, flavour, lambda c: c.compute_time(target.organization_id, 99_999, MAY))
    assert info.value.status_code == 404


@flavours
@pytest.mark.vcr
def test_success_false_is_an_api_error(target: Target, flavour: str) -> None:
    target.inject(Fault.success_false("Usage is not available for this period"))
    with pytest.raises(APIError) as info:
        run(
            target,
            flavour,
            lambda c: c.compute_time(target.organization_id, target.inner_organization_id, MAY),
        )
    assert not isinstance(info.value, APIStatusError)
    assert info.value.status_code == 200
    assert info.value.message == "Usage is not available for this period"


@flavours
@pytest.mark.vcr
def test_rate_limited_then_success_is_retried(target: Target, flavour: str) -> None:
    target.inject(Fault.rate_limited(retry_after=1))
    result = run(
        target,
        flavour,
        lambda c: c.compute_time(target.organization_id, target.inner_organization_id, MAY),
    )
    check_compute_time(result, target, MAY)


@flavours
@pytest.mark.vcr
def test_server_errors_until_retries_are_exhausted(target: Target, flavour: str) -> None:
    target.inject(Fault.server_error(503), times=3)
    with pytest.raises(ServerError) as info:
        run(
            target,
            flavour,
            lambda c: c.metrics(target.organization_id),
            max_retries=2,
        )
    assert info.value.status_code == 503


@pytest.mark.vcr("test_compute_time[sync].yaml")
def test_a_different_date_wire_format_does_not_match_the_cassette(
    target: Target, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if target.mode != "replay":
        pytest.skip("checks replay matching only")
    # The generator's own format (isoformat, +00:00) instead of the web client's .000Z
    monkeypatch.setattr("ei_usage._calls.format_wire", lambda dt: dt.isoformat())
    # The encoded query of a period is memoized: drop what earlier tests cached, and what this
    # one caches with the patched format.
    _period_query.cache_clear()
    request.addfinalizer(_period_query.cache_clear)
    with pytest.raises(CannotOverwriteExistingCassetteException):
        run(
            target,
            "sync",
            lambda c: c.compute_time(target.organization_id, target.inner_organization_id, MAY),
        )
