"""Typed client for Edge Impulse organization usage: white-label compute time and metrics.

>>> from ei_usage import Client
>>> with Client.from_env() as client:  # doctest: +SKIP
...     usage = client.compute_time(1, 2, "2024-Q2")
...     print(usage.total)

Every public name is importable from here; the modules behind them are private. Names load on
first use, so ``import ei_usage`` stays cheap for command-line tools that start often.

This module imports nothing but ``_version`` (no ``typing``, no ``__future__``): it runs before
the command line's ``main`` can guard against Ctrl-C, so what it does is all the time a
Ctrl-C at start-up could print a traceback in (``tests/wrapper/cli``).
"""

from ._version import __version__

# typing.TYPE_CHECKING without importing typing (mypy and ruff know the name).
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from ._client import AsyncClient, Client
    from ._dates import DateRange, Every
    from ._errors import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        EdgeImpulseError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ReportError,
        ReportInterrupted,
        RequestInfo,
        ResponseTooLargeError,
        ResponseValidationError,
        ServerError,
    )
    from ._history import StoredComputeTime, UsageHistory
    from ._listing import (
        AsyncOrganizationListing,
        IncompleteListingWarning,
        ListingFailure,
        OrganizationListing,
    )
    from ._models import (
        ComputeTime,
        Entitlements,
        InnerOrganization,
        InnerOrganizationUsage,
        OrganizationMetrics,
        ProjectVisibility,
    )
    from ._ratelimit import RateStats
    from ._raw import RawResponse
    from ._report import (
        EntitlementFailure,
        EntitlementReport,
        ProgressCallback,
        Report,
        ReportFailure,
        UsageTotals,
    )
    from ._units import Unit, convert
    from .forecast import Crossing, Forecast, LimitForecast, forecast_usage

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AsyncOrganizationListing",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ComputeTime",
    "Crossing",
    "DateRange",
    "EdgeImpulseError",
    "EntitlementFailure",
    "EntitlementReport",
    "Entitlements",
    "Every",
    "Forecast",
    "IncompleteListingWarning",
    "InnerOrganization",
    "InnerOrganizationUsage",
    "LimitForecast",
    "ListingFailure",
    "NotFoundError",
    "OrganizationListing",
    "OrganizationMetrics",
    "PermissionDeniedError",
    "ProgressCallback",
    "ProjectVisibility",
    "RateLimitError",
    "RateStats",
    "RawResponse",
    "Report",
    "ReportError",
    "ReportFailure",
    "ReportInterrupted",
    "RequestInfo",
    "ResponseTooLargeError",
    "ResponseValidationError",
    "ServerError",
    "StoredComputeTime",
    "Unit",
    "UsageHistory",
    "UsageTotals",
    "__version__",
    "convert",
    "forecast_usage",
]

_HOMES = {
    "AsyncClient": "_client",
    "Client": "_client",
    "DateRange": "_dates",
    "Every": "_dates",
    "APIConnectionError": "_errors",
    "APIError": "_errors",
    "APIStatusError": "_errors",
    "APITimeoutError": "_errors",
    "AuthenticationError": "_errors",
    "BadRequestError": "_errors",
    "EdgeImpulseError": "_errors",
    "NotFoundError": "_errors",
    "PermissionDeniedError": "_errors",
    "RateLimitError": "_errors",
    "ReportError": "_errors",
    "ReportInterrupted": "_errors",
    "RequestInfo": "_errors",
    "ResponseTooLargeError": "_errors",
    "ResponseValidationError": "_errors",
    "ServerError": "_errors",
    "Crossing": "forecast",
    "Forecast": "forecast",
    "LimitForecast": "forecast",
    "forecast_usage": "forecast",
    "StoredComputeTime": "_history",
    "UsageHistory": "_history",
    "AsyncOrganizationListing": "_listing",
    "IncompleteListingWarning": "_listing",
    "ListingFailure": "_listing",
    "OrganizationListing": "_listing",
    "ComputeTime": "_models",
    "Entitlements": "_models",
    "InnerOrganization": "_models",
    "InnerOrganizationUsage": "_models",
    "OrganizationMetrics": "_models",
    "ProjectVisibility": "_models",
    "EntitlementFailure": "_report",
    "EntitlementReport": "_report",
    "ProgressCallback": "_report",
    "RateStats": "_ratelimit",
    "RawResponse": "_raw",
    "Report": "_report",
    "ReportFailure": "_report",
    "UsageTotals": "_report",
    "Unit": "_units",
    "convert": "_units",
}


def __getattr__(name: str) -> "Any":
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # here, not at the top: see the module docstring

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
