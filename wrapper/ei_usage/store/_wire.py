"""The API's numbers as stored: exact JSON numbers keyed by their wire names.

The store keeps what the API sent (``cpuComputeTime`` and ``gpuComputeTime`` in seconds,
``totalComputeTime`` in minutes), not a conversion of it, and rebuilds results through the same
unit rules as the network path. Until ``ComputeTime.wire`` lands in the core, the numbers are
computed back from the exact timedeltas (:func:`compute_time_wire` is the one place to change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ei_usage._models import ComputeTime, Entitlements, InnerOrganizationUsage
from ei_usage._units import minutes, seconds

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from ei_usage._dates import DateRange

Wire = dict[str, int | float]

CPU, GPU, TOTAL = "cpuComputeTime", "gpuComputeTime", "totalComputeTime"
STORAGE = "totalStorage"


def _number(value: float) -> int | float:
    # The wire's integers stay integers (12, not 12.0): what JSON had.
    return int(value) if float(value).is_integer() else value


def _seconds(duration: timedelta) -> int | float:
    return _number(duration.total_seconds())


def _minutes(duration: timedelta) -> int | float:
    return _number(duration.total_seconds() / 60)


def _given(row: object) -> Wire | None:
    wire = getattr(row, "wire", None)  # ComputeTime.wire once the core has it
    return dict(wire) if isinstance(wire, Mapping) else None


def compute_time_wire(row: ComputeTime) -> Wire:
    """Return the numbers the API sent for ``row``, keyed by wire name."""
    given = _given(row)
    if given is not None:
        return given
    wire: Wire = {}
    if row.cpu is not None:
        wire[CPU] = _seconds(row.cpu)
    if row.gpu is not None:
        wire[GPU] = _seconds(row.gpu)
    if row.total is not None:
        wire[TOTAL] = _minutes(row.total)
    return wire


def usage_wire(usage: InnerOrganizationUsage) -> Wire:
    """Return the numbers organization info sent for ``usage``, keyed by wire name."""
    given = _given(usage)
    if given is not None:
        return given
    wire: Wire = {}
    if usage.cpu is not None:
        wire[CPU] = _seconds(usage.cpu)
    if usage.gpu is not None:
        wire[GPU] = _seconds(usage.gpu)
    if usage.total is not None:
        wire[TOTAL] = _minutes(usage.total)
    if usage.storage_bytes is not None:
        wire[STORAGE] = usage.storage_bytes
    return wire


def dumps(wire: Mapping[str, int | float]) -> str:
    """Return the canonical JSON text of ``wire`` (sorted keys, numbers as Python writes them)."""
    return json.dumps(dict(wire), sort_keys=True, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Wire:
    """Read back what :func:`dumps` wrote."""
    value: Any = json.loads(text)
    return {str(k): v for k, v in value.items()}


def _duration(wire: Mapping[str, int | float], key: str) -> timedelta | None:
    value = wire.get(key)
    if value is None:
        return None
    return minutes(value) if key == TOTAL else seconds(value)


def compute_time_from_wire(
    wire: Mapping[str, int | float],
    *,
    organization_id: int,
    inner_organization_id: int,
    period: DateRange,
) -> ComputeTime:
    """Rebuild a row from stored wire numbers, with the network path's unit rules."""
    return ComputeTime(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        period=period,
        cpu=_duration(wire, CPU),
        gpu=_duration(wire, GPU),
        total=_duration(wire, TOTAL),
    )


def usage_from_wire(
    wire: Mapping[str, int | float],
    *,
    organization_id: int,
    inner_organization_id: int,
    contract_since: datetime | None,
    billable: bool | None,
    entitlements: Entitlements,
) -> InnerOrganizationUsage:
    """Rebuild a contract-usage snapshot from stored wire numbers."""
    storage = wire.get(STORAGE)
    return InnerOrganizationUsage(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        cpu=_duration(wire, CPU),
        gpu=_duration(wire, GPU),
        total=_duration(wire, TOTAL),
        contract_since=contract_since,
        storage_bytes=None if storage is None else round(storage),
        billable=billable,
        entitlements=entitlements,
    )
