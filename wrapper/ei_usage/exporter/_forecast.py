"""The one place the exporter asks for a forecast (``ei_usage.forecast``, when installed).

The forecast model lives in its own module (pure, no I/O): ``forecast_usage(...)`` returns a
``Forecast`` whose ``compute`` (a ``LimitForecast``: ``ratio``, and ``warn``/``fail`` crossings
with their ``at``) is what the exporter serves. When the module is not installed, or cannot
forecast an organization, :func:`forecast` returns None and the forecast metric families are
left out of the exposition rather than served as zeros.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._snapshot import ForecastValues

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from ei_usage._models import ComputeTime, InnerOrganizationUsage

logger = logging.getLogger("ei_usage.exporter")

WARN_AT = 0.8
FAIL_AT = 1.0


def _model() -> Any:
    try:
        return importlib.import_module("ei_usage.forecast")
    except ImportError:
        return None


def available() -> bool:
    """Whether a forecast model is installed."""
    return _model() is not None


def forecast(
    usage: InnerOrganizationUsage,
    monthly: Sequence[ComputeTime],
    *,
    now: datetime,
    snapshots: Sequence[tuple[datetime, InnerOrganizationUsage]] = (),
) -> ForecastValues | None:
    """Forecast one organization's contract compute, or None when no forecast can be made.

    Args:
        usage: its contract usage and entitlements.
        monthly: its monthly compute time, oldest first (the running month last): the store's
            history with ``--db``, else the running month alone.
        now: the instant to forecast from (aware UTC).
        snapshots: its contract-usage snapshots from the store, oldest first (refine the
            running month's rate), or none.
    """
    model = _model()
    if model is None or usage.entitlements.compute_time_per_year is None:
        return None
    result = model.forecast_usage(
        usage, monthly, snapshots=snapshots, now=now, warn_at=WARN_AT, fail_at=FAIL_AT
    )
    compute = result.compute  # the compute (CPU + GPU) limit's forecast, None when unknown
    if compute is None:
        return None
    return ForecastValues(
        compute_used_ratio=None if compute.ratio is None else float(compute.ratio),
        warn_at=None if compute.warn is None else compute.warn.at,
        fail_at=None if compute.fail is None else compute.fail.at,
    )
