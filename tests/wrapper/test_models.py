from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from ei_usage import ComputeTime, DateRange, OrganizationMetrics

MAY = DateRange.month(2024, 5)


def usage(**kwargs: timedelta | None) -> ComputeTime:
    values: dict[str, timedelta | None] = {
        "cpu": timedelta(seconds=90),
        "gpu": timedelta(seconds=30),
        "total": timedelta(minutes=2),
    }
    values.update(kwargs)
    return ComputeTime(organization_id=1, inner_organization_id=2, period=MAY, **values)


def metrics() -> OrganizationMetrics:
    return OrganizationMetrics(
        organization_id=0,
        total_jobs_compute_time=timedelta(hours=10),
        jobs_compute_time_current_year=timedelta(hours=2),
        jobs_compute_time_current_year_since=datetime(2024, 1, 1, tzinfo=UTC),
        cpu_compute_time_current_contract=timedelta(hours=1, minutes=30),
        gpu_compute_time_current_contract=timedelta(minutes=30),
        total_storage_bytes=1_073_741_824,
        project_count=3,
        user_count=7,
        exclude_edge_impulse_users=True,
        project_visibility="private",
    )


def test_results_are_frozen_and_compare_by_value() -> None:
    result = usage()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.cpu = None  # type: ignore[misc]
    assert result == usage()
    assert hash(result) == hash(usage())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        metrics().user_count = 1  # type: ignore[misc]


def test_discrepancy_is_total_minus_parts() -> None:
    assert usage().discrepancy == timedelta(0)
    assert usage(total=timedelta(minutes=3)).discrepancy == timedelta(minutes=1)
    assert usage(total=timedelta(seconds=119)).discrepancy == timedelta(seconds=-1)


@pytest.mark.parametrize("missing", ["cpu", "gpu", "total"])
def test_a_missing_value_is_none_and_so_is_the_discrepancy(missing: str) -> None:
    result = usage(**{missing: None})
    assert getattr(result, missing) is None
    assert result.discrepancy is None
    assert result.to_dict()[missing] is None


def test_compute_time_to_dict_in_each_unit() -> None:
    assert usage().to_dict() == {
        "organization_id": 1,
        "inner_organization_id": 2,
        "inner_organization_name": None,
        "inner_organization_deleted": None,
        "start": "2024-05-01T00:00:00Z",
        "end": "2024-06-01T00:00:00Z",
        "unit": "minutes",
        "cpu": 1.5,
        "gpu": 0.5,
        "total": 2.0,
        "discrepancy": 0.0,
    }
    in_seconds = usage().to_dict("seconds")
    assert (in_seconds["cpu"], in_seconds["gpu"], in_seconds["total"]) == (90.0, 30.0, 120.0)
    in_hours = usage(total=timedelta(hours=3)).to_dict("hours")
    assert in_hours["total"] == 3.0
    assert in_hours["unit"] == "hours"
    json.dumps(in_hours)  # plain JSON values only


def test_metrics_to_dict() -> None:
    data = metrics().to_dict("hours")
    assert data == {
        "organization_id": 0,
        "unit": "hours",
        "total_jobs_compute_time": 10.0,
        "jobs_compute_time_current_year": 2.0,
        "jobs_compute_time_current_year_since": "2024-01-01T00:00:00Z",
        "cpu_compute_time_current_contract": 1.5,
        "gpu_compute_time_current_contract": 0.5,
        "total_storage_bytes": 1_073_741_824,
        "project_count": 3,
        "user_count": 7,
        "exclude_edge_impulse_users": True,
        "project_visibility": "private",
    }
    assert json.loads(json.dumps(data)) == data


def test_to_dict_refuses_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unknown unit 'days'"):
        usage().to_dict("days")
    with pytest.raises(ValueError, match="unknown unit"):
        metrics().to_dict("ms")
