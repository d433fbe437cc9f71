"""The results ei-usage returns: frozen, typed, and exact about units.

Durations are :class:`datetime.timedelta`, instants aware UTC datetimes, and a bare number carries
its unit in its name (``total_storage_bytes``). A value the API did not send is ``None``, never a
zero. ``to_dict`` gives plain JSON-ready values in one chosen unit, and says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._dates import DateRange, format_iso_z
from ._units import Unit, as_unit, from_timedelta

if TYPE_CHECKING:
    from datetime import datetime, timedelta

ProjectVisibility = Literal["public", "private"]


def discrepancy(
    total: timedelta | None, cpu: timedelta | None, gpu: timedelta | None
) -> timedelta | None:
    """Return ``total - (cpu + gpu)``, or None when any of the three is unknown."""
    if total is None or cpu is None or gpu is None:
        return None
    return total - (cpu + gpu)


def _in(unit: Unit, duration: timedelta | None) -> float | None:
    return None if duration is None else from_timedelta(duration, unit)


@attrs.frozen
class ComputeTime:
    """Compute time one inner organization of a white label used over a period.

    Attributes:
        organization_id: the white-label (outer) organization.
        inner_organization_id: the organization whose usage this is.
        period: the half-open range ``[start, end)`` asked for.
        cpu: CPU compute time (the API reports seconds), or None if the API omitted it.
        gpu: GPU compute time (the API reports seconds), or None if the API omitted it.
        total: total compute time (the API reports minutes, "calculated as CPU + GPU minutes"), or
            None if the API omitted it.
    """

    organization_id: int
    inner_organization_id: int
    period: DateRange
    cpu: timedelta | None
    gpu: timedelta | None
    total: timedelta | None

    @property
    def discrepancy(self) -> timedelta | None:
        """``total - (cpu + gpu)``: how far the API's total is from its own parts.

        Non-zero when the API rounds its minutes total, or counts something the parts do not;
        None when any of the three is missing.
        """
        return discrepancy(self.total, self.cpu, self.gpu)

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``.

        Raises:
            ValueError: an unknown unit.
        """
        u = as_unit(unit)
        return {
            "organization_id": self.organization_id,
            "inner_organization_id": self.inner_organization_id,
            "start": format_iso_z(self.period.start),
            "end": format_iso_z(self.period.end),
            "unit": u.value,
            "cpu": _in(u, self.cpu),
            "gpu": _in(u, self.gpu),
            "total": _in(u, self.total),
            "discrepancy": _in(u, self.discrepancy),
        }


@attrs.frozen
class OrganizationMetrics:
    """General metrics of an organization.

    Attributes:
        organization_id: the organization.
        total_jobs_compute_time: compute time of all jobs since the organization was created
            (the API reports minutes).
        jobs_compute_time_current_year: compute time in the current contract (minutes on the wire).
        jobs_compute_time_current_year_since: when the current contract's count started (UTC).
        cpu_compute_time_current_contract: CPU compute time in the current contract. The spec gives
            no unit; it states seconds for the matching ``EntitlementLimits`` fields, so ei-usage
            reads seconds.
        gpu_compute_time_current_contract: as ``cpu_compute_time_current_contract``, for GPU.
        total_storage_bytes: storage used. The spec gives no unit; it states bytes for the matching
            ``EntitlementLimits`` field, so ei-usage reads bytes (a fractional value is rounded to
            the nearest byte).
        project_count: projects owned by the organization (of ``project_visibility`` if set).
        user_count: users in the organization (without Edge Impulse staff when
            ``exclude_edge_impulse_users`` was set).
        exclude_edge_impulse_users: the filter the metrics were asked with (None: API default).
        project_visibility: the filter the metrics were asked with (None: all projects).
    """

    organization_id: int
    total_jobs_compute_time: timedelta
    jobs_compute_time_current_year: timedelta
    jobs_compute_time_current_year_since: datetime
    cpu_compute_time_current_contract: timedelta
    gpu_compute_time_current_contract: timedelta
    total_storage_bytes: int
    project_count: int
    user_count: int
    exclude_edge_impulse_users: bool | None = None
    project_visibility: ProjectVisibility | None = None

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``.

        Raises:
            ValueError: an unknown unit.
        """
        u = as_unit(unit)
        return {
            "organization_id": self.organization_id,
            "unit": u.value,
            "total_jobs_compute_time": from_timedelta(self.total_jobs_compute_time, u),
            "jobs_compute_time_current_year": from_timedelta(
                self.jobs_compute_time_current_year, u
            ),
            "jobs_compute_time_current_year_since": format_iso_z(
                self.jobs_compute_time_current_year_since
            ),
            "cpu_compute_time_current_contract": from_timedelta(
                self.cpu_compute_time_current_contract, u
            ),
            "gpu_compute_time_current_contract": from_timedelta(
                self.gpu_compute_time_current_contract, u
            ),
            "total_storage_bytes": self.total_storage_bytes,
            "project_count": self.project_count,
            "user_count": self.user_count,
            "exclude_edge_impulse_users": self.exclude_edge_impulse_users,
            "project_visibility": self.project_visibility,
        }
