"""The results ei-usage returns: frozen, typed, and exact about units.

Durations are :class:`datetime.timedelta`, instants aware UTC datetimes, and a bare number carries
its unit in its name (``total_storage_bytes``). A value the API did not send is ``None``, never a
zero. ``to_dict`` gives plain JSON-ready values in one chosen unit, and says which.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._dates import DateRange, format_iso_z
from ._units import Unit, as_unit, from_timedelta

if TYPE_CHECKING:
    from collections.abc import Mapping
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
        inner_organization_name: the inner organization's name when a report listed it (the
            compute-time operation itself does not say), else None.
        inner_organization_deleted: whether the inner organization is deleted, when a report
            listed it (:attr:`InnerOrganization.deleted`), else None.
        wire: the answer's numbers exactly as the API sent them, by wire name
            (``cpuComputeTime`` and ``gpuComputeTime`` in seconds, ``totalComputeTime`` in
            minutes; a name the API left out is absent), or None for a row built another way.
            What the history store keeps; not compared by ``==``.
    """

    organization_id: int
    inner_organization_id: int
    period: DateRange
    cpu: timedelta | None
    gpu: timedelta | None
    total: timedelta | None
    inner_organization_name: str | None = None
    inner_organization_deleted: bool | None = None
    wire: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

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
            "inner_organization_name": self.inner_organization_name,
            "inner_organization_deleted": self.inner_organization_deleted,
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


def used_fraction(used: float | None, limit: float | None) -> float | None:
    """Return ``used / limit``; None when either is unknown or there is no limit.

    A limit of zero with some use is ``math.inf`` (over any threshold); with none, 0.
    """
    if used is None or limit is None:
        return None
    if limit == 0:
        return math.inf if used > 0 else 0.0
    return used / limit


@attrs.frozen
class Entitlements:
    """What an inner organization's contract allows it per year.

    None means the API states no limit (unlimited), never zero.

    Attributes:
        compute_time_per_year: CPU + GPU compute time (``computeTimePerYear``, seconds on the wire).
        gpu_compute_time_per_year: GPU compute time (``gpuComputeTimePerYear``, seconds).
        storage_bytes: storage (``totalStorage``, bytes).
        projects: number of projects (``numberOfProjects``).
        users: number of users (``numberOfUsers``).
    """

    compute_time_per_year: timedelta | None = None
    gpu_compute_time_per_year: timedelta | None = None
    storage_bytes: int | None = None
    projects: int | None = None
    users: int | None = None

    @property
    def unlimited(self) -> bool:
        """Whether no limit at all is set."""
        return all(value is None for value in attrs.astuple(self))

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit`` (None: unlimited)."""
        u = as_unit(unit)
        return {
            "unit": u.value,
            "compute_time_per_year": _in(u, self.compute_time_per_year),
            "gpu_compute_time_per_year": _in(u, self.gpu_compute_time_per_year),
            "storage_bytes": self.storage_bytes,
            "projects": self.projects,
            "users": self.users,
        }


@attrs.frozen
class InnerOrganization:
    """An organization within a white label, as the white label's listing describes it.

    Attributes:
        id: the inner organization's id.
        name: its name.
        created: when it was created (aware UTC).
        billable: whether it is billed, or None when the API did not say.
        whitelabel_id: the white label it belongs to, or None when the API did not say.
        private_project_count: how many private projects it has.
        entitlements: what its contract allows.
        deleted: whether it is deleted. The listing record has no such field: a listing with
            ``include_deleted=True`` lists a second time without deleted organizations, and
            marks those only in the first (as of that second listing); otherwise False.
    """

    id: int
    name: str
    created: datetime
    billable: bool | None
    whitelabel_id: int | None
    private_project_count: int
    entitlements: Entitlements
    deleted: bool = False

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``."""
        return {
            "id": self.id,
            "name": self.name,
            "deleted": self.deleted,
            "created": format_iso_z(self.created),
            "billable": self.billable,
            "whitelabel_id": self.whitelabel_id,
            "private_project_count": self.private_project_count,
            "entitlements": self.entitlements.to_dict(unit),
        }


@attrs.frozen
class InnerOrganizationUsage:
    """An inner organization's use of its running contract, against its entitlements.

    Attributes:
        organization_id: the white-label (outer) organization.
        inner_organization_id: the organization whose usage this is.
        cpu: CPU compute time since the contract started (seconds on the wire), or None.
        gpu: GPU compute time since the contract started (seconds on the wire), or None.
        total: total compute time since the contract started (minutes on the wire), or None.
        contract_since: when the running contract's count started (aware UTC), or None.
        storage_bytes: storage used. The spec gives no unit; it states bytes for the matching
            entitlement, so ei-usage reads bytes. None when the API did not say.
        billable: whether the organization is billed, or None when the API did not say.
        entitlements: what its contract allows.
        inner_organization_name: its name when a report listed it, else None.
        inner_organization_deleted: whether it is deleted, when known from a listing
            (:attr:`InnerOrganization.deleted`), else None.
        wire: the answer's fields exactly as the API sent them (``dailyMetrics`` left out),
            or None for a result built another way. What the history store keeps; not
            compared by ``==``.
    """

    organization_id: int
    inner_organization_id: int
    cpu: timedelta | None
    gpu: timedelta | None
    total: timedelta | None
    contract_since: datetime | None
    storage_bytes: int | None
    billable: bool | None
    entitlements: Entitlements
    inner_organization_name: str | None = None
    inner_organization_deleted: bool | None = None
    wire: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def compute(self) -> timedelta | None:
        """CPU + GPU compute time, what ``computeTimePerYear`` limits; None if either is unknown."""
        return None if self.cpu is None or self.gpu is None else self.cpu + self.gpu

    @property
    def compute_used_fraction(self) -> float | None:
        """CPU + GPU compute time over ``compute_time_per_year``; None when unlimited or unknown."""
        limit = self.entitlements.compute_time_per_year
        used = self.compute
        return used_fraction(
            None if used is None else used.total_seconds(),
            None if limit is None else limit.total_seconds(),
        )

    @property
    def gpu_used_fraction(self) -> float | None:
        """GPU compute time over ``gpu_compute_time_per_year``; None when unlimited or unknown."""
        limit = self.entitlements.gpu_compute_time_per_year
        return used_fraction(
            None if self.gpu is None else self.gpu.total_seconds(),
            None if limit is None else limit.total_seconds(),
        )

    @property
    def storage_used_fraction(self) -> float | None:
        """Storage used over the storage entitlement; None when unlimited or unknown."""
        return used_fraction(self.storage_bytes, self.entitlements.storage_bytes)

    @property
    def highest_used_fraction(self) -> float | None:
        """The largest of the three fractions (what an alert looks at); None if none is known."""
        fractions = (
            self.compute_used_fraction,
            self.gpu_used_fraction,
            self.storage_used_fraction,
        )
        known = [f for f in fractions if f is not None]
        return max(known) if known else None

    def to_dict(self, unit: Unit | str = Unit.MINUTES) -> dict[str, Any]:
        """Return plain JSON-ready values, durations as numbers of ``unit``.

        Fractions are numbers (1.0 = the whole entitlement), null when there is no limit, and the
        string ``"infinite"`` for use against a limit of zero (JSON has no infinity).
        """
        u = as_unit(unit)
        return {
            "organization_id": self.organization_id,
            "inner_organization_id": self.inner_organization_id,
            "inner_organization_name": self.inner_organization_name,
            "inner_organization_deleted": self.inner_organization_deleted,
            "unit": u.value,
            "cpu": _in(u, self.cpu),
            "gpu": _in(u, self.gpu),
            "total": _in(u, self.total),
            "compute": _in(u, self.compute),
            "contract_since": None
            if self.contract_since is None
            else format_iso_z(self.contract_since),
            "storage_bytes": self.storage_bytes,
            "billable": self.billable,
            "entitlements": self.entitlements.to_dict(u),
            "compute_used_fraction": _fraction(self.compute_used_fraction),
            "gpu_used_fraction": _fraction(self.gpu_used_fraction),
            "storage_used_fraction": _fraction(self.storage_used_fraction),
        }


def _fraction(value: float | None) -> float | str | None:
    return "infinite" if value is not None and math.isinf(value) else value
