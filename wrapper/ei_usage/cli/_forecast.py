"""``ei-usage forecast`` and ``check --forecast``: forecasts from the history store, and outputs.

The store (``ei_usage.store``) is imported only when a command opens it; this module reads it
through the few methods it needs (:class:`StoreReader`), so tests can pass a fake.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, TextIO

from ei_usage.forecast import Crossing, Forecast, forecast_usage

from . import _safe, _store
from ._store import StoreUnavailableError as StoreUnavailableError  # what open_store raises

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from ei_usage import ComputeTime, EntitlementReport, InnerOrganizationUsage, Unit


class StoreReader(Protocol):
    """What a forecast reads from the store (``ei_usage.store.Store``)."""

    def monthly_compute_time(
        self, organization_id: int, inner_ids: Iterable[int] | None = None
    ) -> dict[int, list[ComputeTime]]:
        """Monthly compute time per inner id, time order."""
        ...

    def contract_snapshots(
        self,
        organization_id: int,
        inner_ids: Iterable[int] | None = None,
        *,
        since: datetime | None = None,
    ) -> dict[int, list[tuple[datetime, InnerOrganizationUsage]]]:
        """Contract-usage snapshots per inner id, time order (fetched from ``since`` on)."""
        ...

    def latest_contracts(self, organization_id: int) -> dict[int, InnerOrganizationUsage]:
        """Each inner organization's latest contract usage."""
        ...

    def close(self) -> None:
        """Close the store."""
        ...


def open_store(db: str | None) -> StoreReader:
    """Open the history store for reading (never creating it); tests replace this.

    Raises:
        StoreUnavailableError: the store extra is missing, or the store cannot be opened.
    """
    opened: StoreReader = _store.open_store(db, create=False, purpose="forecasts read")
    return opened


_MARGIN = timedelta(days=1)  # a snapshot taken at the contract's first instant is in


def current_time() -> datetime:
    """The time a forecast of usage read just now starts from (tests replace it)."""
    return datetime.now(UTC)


def store_errors() -> tuple[type[Exception], ...]:
    """The store's own error (``StoreError``), when the store is installed."""
    try:
        from ei_usage import store
    except ImportError:
        return ()
    error: type[Exception] = store.StoreError
    return (error,)


def has_limit(usage: InnerOrganizationUsage) -> bool:
    """Whether the organization has a compute or GPU limit (what a forecast measures against)."""
    limits = usage.entitlements
    return limits.compute_time_per_year is not None or limits.gpu_compute_time_per_year is not None


def forecasts(
    store: StoreReader,
    organization_id: int,
    *,
    warn_at: float,
    fail_at: float,
    usages: Mapping[int, InnerOrganizationUsage] | None = None,
    now: datetime | None = None,
) -> dict[int, Forecast]:
    """Forecast every inner organization with a compute or GPU limit, from the store.

    Args:
        store: the history store.
        organization_id: the white label.
        warn_at: the warning threshold, a fraction.
        fail_at: the failing threshold, a fraction.
        usages: contract usage read just now (``check --forecast``); None for the store's latest
            snapshots, each forecast from when it was fetched.
        now: when ``usages`` were read (default: the current time).

    Returns:
        Forecasts by inner organization id.
    """
    from_store = usages is None
    latest = store.latest_contracts(organization_id) if usages is None else dict(usages)
    limited = {inner: usage for inner, usage in latest.items() if has_limit(usage)}
    if not limited:
        return {}
    monthly = store.monthly_compute_time(organization_id, sorted(limited))
    # Only the running contracts' snapshots: years of daily ones would cost seconds to read,
    # and the model ignores those from before a renewal anyway.
    starts = [usage.contract_since for usage in limited.values()]
    known = [start for start in starts if start is not None]
    since = min(known) if known and len(known) == len(starts) else None
    snapshots = store.contract_snapshots(
        organization_id, sorted(limited), since=None if since is None else since - _MARGIN
    )
    result = {}
    for inner, usage in sorted(limited.items()):
        history = snapshots.get(inner, [])
        when = now or current_time()
        if from_store and history:
            when = history[-1][0]  # the latest snapshot is the usage: forecast from its time
        result[inner] = forecast_usage(
            usage,
            monthly.get(inner, []),
            history,
            now=when,
            warn_at=warn_at,
            fail_at=fail_at,
        )
    return result


def ordered(items: Iterable[Forecast]) -> list[Forecast]:
    """Most at risk first: the highest projected ratio, then id; unknown ratios last."""

    def key(forecast: Forecast) -> tuple[bool, float, int]:
        ratio = forecast.highest_ratio
        return (ratio is None, -(ratio or 0.0), forecast.inner_organization_id)

    return sorted(items, key=key)


def _date(moment: datetime | None) -> str:
    return "-" if moment is None else moment.date().isoformat()


def crossing_text(crossing: Crossing | None) -> str:
    """``reached``, ``2025-03-02 (2025-02-20..2025-03-30)``, or ``-`` (not before the end)."""
    if crossing is None:
        return "-"
    if crossing.reached:
        return "reached"
    if crossing.at is None and crossing.earliest is None:
        return "-"
    latest = "after end" if crossing.latest is None else _date(crossing.latest)
    return f"{_date(crossing.at)} ({_date(crossing.earliest)}..{latest})"


def _percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.0%}"


def _ratio_text(forecast: Forecast) -> str:
    compute = forecast.compute
    if compute is None or compute.ratio is None:
        return "-"
    return (
        f"{_percent(compute.ratio)} ({_percent(compute.ratio_low)}..{_percent(compute.ratio_high)})"
    )


FORECAST_COLUMNS = (
    "inner_organization_id",
    "inner_organization_name",
    "unit",
    "now",
    "contract_since",
    "contract_end",
    "used",
    "limit",
    "projected",
    "projected_low",
    "projected_high",
    "ratio",
    "ratio_low",
    "ratio_high",
    "warn_at",
    "warn_earliest",
    "warn_latest",
    "fail_at",
    "fail_earliest",
    "fail_latest",
    "gpu_ratio",
    "gpu_ratio_low",
    "gpu_ratio_high",
    "method",
    "months",
    "notes",
)


def csv_row(forecast: Forecast, unit: Unit) -> dict[str, object]:
    """One forecast as a CSV row of ``FORECAST_COLUMNS`` (dates ISO 8601 UTC, empty: none)."""
    data = forecast.to_dict(unit)
    compute, gpu = data["compute"] or {}, data["gpu"] or {}
    warn, fail = compute.get("warn") or {}, compute.get("fail") or {}
    return {
        "inner_organization_id": data["inner_organization_id"],
        "inner_organization_name": data["inner_organization_name"],
        "unit": data["unit"],
        "now": data["now"],
        "contract_since": data["contract_since"],
        "contract_end": data["contract_end"],
        **{k: compute.get(k) for k in ("used", "limit", "projected")},
        **{k: compute.get(k) for k in ("projected_low", "projected_high")},
        **{k: compute.get(k) for k in ("ratio", "ratio_low", "ratio_high")},
        "warn_at": warn.get("at"),
        "warn_earliest": warn.get("earliest"),
        "warn_latest": warn.get("latest"),
        "fail_at": fail.get("at"),
        "fail_earliest": fail.get("earliest"),
        "fail_latest": fail.get("latest"),
        "gpu_ratio": gpu.get("ratio"),
        "gpu_ratio_low": gpu.get("ratio_low"),
        "gpu_ratio_high": gpu.get("ratio_high"),
        "method": data["method"],
        "months": data["months"],
        "notes": "; ".join(data["notes"]),
    }


def render(
    organization_id: int,
    items: Mapping[int, Forecast],
    unit: Unit,
    fmt: str,
    out: TextIO,
    *,
    warn_at: float,
    fail_at: float,
    without_limit: Sequence[int] = (),
) -> None:
    """Write ``ei-usage forecast``'s output in ``fmt`` (table, csv, json or html)."""
    rows = ordered(items.values())
    if fmt == "json":
        data = {
            "organization_id": organization_id,
            "unit": unit.value,
            "warn_at": warn_at,
            "fail_at": fail_at,
            "forecasts": [f.to_dict(unit) for f in rows],
            "without_limit": list(without_limit),
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        _safe.write_csv(out, FORECAST_COLUMNS, (csv_row(f, unit) for f in rows))
        return
    if fmt == "html":
        from . import _html, _render

        _render._document(
            out, _html.forecast_html(organization_id, rows, unit, warn_at=warn_at, fail_at=fail_at)
        )
        return
    table(
        rows,
        unit,
        out,
        title=f"Forecast of white label {organization_id}'s inner organizations to their "
        f"contracts' end (warn at {warn_at:.0%}, fail at {fail_at:.0%})",
        extra_caption=f" {len(without_limit):,} without a compute or GPU limit left out."
        if without_limit
        else "",
    )


def table(
    rows: Sequence[Forecast], unit: Unit, out: TextIO, *, title: str, extra_caption: str = ""
) -> None:
    """Print forecasts as a table (most at risk first)."""
    from . import _render

    grid = _render._Grid(
        [
            _render._Col("Inner org", "right"),
            _render._Col("Name", role="name", drop=1, max_width=32),
            _render._Col(f"Used ({unit.value})", "right"),
            _render._Col(f"Projected at end ({unit.value})", "right"),
            _render._Col("Projected % (range)", "right"),
            _render._Col("Contract end"),
            _render._Col("Crosses warn (range)"),
            _render._Col("Crosses fail (range)"),
            _render._Col("Method"),
        ],
        title=title,
        caption="Compute = CPU + GPU against compute per year; a trailing rate of recent "
        "months (see README, Forecasts). Crossings of the compute limit (GPU's: --format json); "
        "dates UTC; '-': not before the contract ends." + extra_caption,
    )
    for forecast in rows:
        compute = forecast.compute
        used = projected = "-"
        if compute is not None:
            used = _render._number(compute.used, unit)
            projected = _render._number(compute.projected, unit)
        ratio = _ratio_text(forecast)
        if forecast.gpu is not None and forecast.gpu.ratio is not None:
            ratio += f", GPU {_percent(forecast.gpu.ratio)}"
        grid.add_row(
            str(forecast.inner_organization_id),
            _render._plain(forecast.inner_organization_name or ""),
            used,
            projected,
            ratio,
            _date(forecast.contract_end),
            crossing_text(None if compute is None else compute.warn),
            crossing_text(None if compute is None else compute.fail),
            forecast.method + ("" if forecast.months else ", no history"),
        )
    grid.print(out)


def check_output(
    report: EntitlementReport,
    items: Mapping[int, Forecast],
    unit: Unit,
    fmt: str,
    out: TextIO,
    warn_at: float,
    fail_at: float,
) -> None:
    """Write ``check --forecast``'s output: the check, plus each row's forecast."""
    from . import _render

    if fmt == "html":
        from . import _html

        _render._document(
            out,
            _html.check_html(report, unit, warn_at=warn_at, fail_at=fail_at, forecasts=items),
        )
        return
    if fmt == "json":
        data = report.to_dict(unit)
        data["warn_at"], data["fail_at"] = warn_at, fail_at
        for row, usage in zip(data["rows"], report.rows, strict=True):
            row["status"] = _render.status(usage, warn_at, fail_at)
            forecast = items.get(usage.inner_organization_id)
            row["forecast"] = None if forecast is None else forecast.to_dict(unit)
        out.write(json.dumps(data, indent=2) + "\n")
        return
    if fmt == "csv":
        extra = ("projected", "projected_ratio", "warn_crossing", "fail_crossing", "method")
        columns = (*_render.CHECK_COLUMNS, *extra)

        def row(usage: InnerOrganizationUsage) -> dict[str, object]:
            base = _render._check_row(usage, unit, warn_at, fail_at)
            forecast = items.get(usage.inner_organization_id)
            if forecast is None:
                return {**base, **dict.fromkeys(extra)}
            data = csv_row(forecast, unit)
            return {
                **base,
                "projected": data["projected"],
                "projected_ratio": data["ratio"],
                "warn_crossing": data["warn_at"],
                "fail_crossing": data["fail_at"],
                "method": data["method"],
            }

        _safe.write_csv(out, columns, (row(usage) for usage in report.rows))
        return
    _render.entitlements(report, unit, fmt, out, warn_at, fail_at)
    in_order = [
        items[u.inner_organization_id] for u in report.rows if u.inner_organization_id in items
    ]
    out.write("\n")
    table(
        in_order,
        unit,
        out,
        title=f"Forecast to each contract's end (warn at {warn_at:.0%}, fail at {fail_at:.0%})",
    )
