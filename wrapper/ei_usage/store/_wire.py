"""The API's answers as stored: exact JSON, keyed by wire name.

The store keeps what the API sent (:attr:`ComputeTime.wire`: ``cpuComputeTime`` and
``gpuComputeTime`` in seconds, ``totalComputeTime`` in minutes; :attr:`InnerOrganizationUsage.wire`:
organization info's fields), not a conversion of it, and rebuilds results through the network
path's own checks and unit rules (``ei_usage._parse.*_from_wire``), so a stored row equals the
API's. A result built by hand (no ``wire``) is stored as the numbers its durations stand for.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import attrs

from ei_usage import _parse
from ei_usage._models import ComputeTime
from ei_usage._units import minutes, seconds

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime, timedelta

    from ei_usage._dates import DateRange
    from ei_usage._models import Entitlements, InnerOrganizationUsage

Wire = dict[str, Any]

CPU, GPU, TOTAL = "cpuComputeTime", "gpuComputeTime", "totalComputeTime"
STORAGE = "totalStorage"
LIMITS = "entitlementLimits"
_CONVERT: dict[str, Callable[[float], timedelta]] = {CPU: seconds, GPU: seconds, TOTAL: minutes}


def _number(value: float) -> int | float:
    # Whole numbers as integers (12, not 12.0), as JSON would carry them.
    return int(value) if float(value).is_integer() else value


def _seconds(duration: timedelta) -> int | float:
    return _number(duration.total_seconds())


def _minutes(duration: timedelta) -> int | float:
    return _number(duration.total_seconds() / 60)


def _given(result: ComputeTime | InnerOrganizationUsage) -> Wire | None:
    wire = result.wire
    return {k: v for k, v in wire.items() if k != "success"} if wire is not None else None


def _durations(result: ComputeTime | InnerOrganizationUsage) -> Wire:
    wire: Wire = {}
    if result.cpu is not None:
        wire[CPU] = _seconds(result.cpu)
    if result.gpu is not None:
        wire[GPU] = _seconds(result.gpu)
    if result.total is not None:
        wire[TOTAL] = _minutes(result.total)
    return wire


def compute_time_wire(row: ComputeTime) -> Wire:
    """Return the numbers the API sent for ``row``, keyed by wire name."""
    given = _given(row)
    return given if given is not None else _durations(row)


def usage_wire(usage: InnerOrganizationUsage) -> Wire:
    """Return the fields organization info sent for ``usage``, keyed by wire name."""
    given = _given(usage)
    if given is not None:
        return given
    wire = _durations(usage)
    if usage.storage_bytes is not None:
        wire[STORAGE] = usage.storage_bytes
    return wire


def dumps(wire: Mapping[str, Any]) -> str:
    """Return the canonical JSON text of ``wire`` (sorted keys, numbers as Python writes them)."""
    return json.dumps(dict(wire), sort_keys=True, separators=(",", ":"), allow_nan=False)


def loads(text: str) -> Wire:
    """Read back what :func:`dumps` wrote."""
    value: Any = json.loads(text)
    return dict(value)


def numbers(wire: Mapping[str, Any]) -> dict[str, float | None]:
    """The three compute-time numbers of ``wire`` (for the store's SQL-friendly columns)."""

    def number(key: str) -> float | None:
        value = wire.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    return {"cpu_seconds": number(CPU), "gpu_seconds": number(GPU), "total_minutes": number(TOTAL)}


def compute_time_from_wire(
    wire: Mapping[str, Any],
    *,
    organization_id: int,
    inner_organization_id: int,
    period: DateRange,
    source: str,
) -> ComputeTime:
    """Rebuild a row from stored wire numbers, with the network path's checks and units.

    The usual record (the three numbers, each a finite number >= 0) is converted here with the
    network path's own unit functions (``_units.seconds``, ``_units.minutes``), which is all the
    parser would do with it, at a fraction of the cost (a warm report reads thousands); anything
    else goes through the parser, for its checks and its error.

    Raises:
        ResponseValidationError: the stored numbers are not what an answer may hold.
    """
    durations: dict[str, timedelta] = {}
    for key, value in wire.items():
        convert = _CONVERT.get(key)
        if convert is None or type(value) not in (int, float) or not 0 <= value < math.inf:
            break
        try:
            durations[key] = convert(value)
        except (ValueError, OverflowError):
            break
    else:
        if durations:
            return ComputeTime(
                organization_id=organization_id,
                inner_organization_id=inner_organization_id,
                period=period,
                cpu=durations.get(CPU),
                gpu=durations.get(GPU),
                total=durations.get(TOTAL),
                wire=dict(wire),
            )
    return _parse.compute_time_from_wire(
        wire,
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        period=period,
        source=source,
    )


def usage_from_wire(
    wire: Mapping[str, Any],
    *,
    organization_id: int,
    inner_organization_id: int,
    contract_since: datetime | None,
    billable: bool | None,
    entitlements: Entitlements,
    source: str,
) -> InnerOrganizationUsage:
    """Rebuild a contract-usage snapshot from its stored fields.

    A snapshot stored from the API's answer has everything in its wire fields; one stored from
    a result built by hand takes its date, billable flag and limits from the store's columns.
    """
    usage = _parse.organization_info_from_wire(
        wire,
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        source=source,
    )
    if LIMITS not in wire:
        usage = attrs.evolve(usage, entitlements=entitlements)
    if usage.contract_since is None and contract_since is not None:
        usage = attrs.evolve(usage, contract_since=contract_since)
    if usage.billable is None and billable is not None:
        usage = attrs.evolve(usage, billable=billable)
    return usage
