"""Offline test support for ei-usage: a fake Edge Impulse Studio.

``FakeStudio`` is a local HTTP server that simulates the Studio operations the ei-usage client
calls (white-label compute time, organization metrics, the white-label organization listing and
organization info), with deterministic data, injectable faults, an optional rate limit and a
request log::

    from ei_usage.testing import FakeStudio, Fault

    with FakeStudio(api_key="k", inner_organizations=250, rate_limit=20) as studio:
        studio.inject(Fault.rate_limited(retry_after=1), times=2)
        ...  # point a client at studio.base_url with API key "k"

It depends on the standard library and attrs only. ``python -m ei_usage.testing`` runs one from
the command line.
"""

from ._faults import Fault, FaultKind, JsonValue, format_retry_after
from ._http import Headers
from ._model import (
    DEFAULT_CONTRACT_START,
    DEFAULT_CREATED_AT,
    DEFAULT_INNER_ORGANIZATION_COUNT,
    DEFAULT_INNER_ORGANIZATION_IDS,
    DEFAULT_NOW,
    DEFAULT_ORGANIZATION_ID,
    DEFAULT_WHITELABEL_ID,
    DEMO_API_KEY,
    MAX_INNER_ORGANIZATIONS,
    Credential,
    CredentialKind,
    EntitlementLimits,
    FakeOrganization,
    Operation,
    default_name,
    default_organizations,
)
from ._quirks import ListingQuirks
from ._studio import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, FakeStudio, Now, RecordedRequest
from ._usage import UsageShape

__all__ = [
    "DEFAULT_CONTRACT_START",
    "DEFAULT_CREATED_AT",
    "DEFAULT_INNER_ORGANIZATION_COUNT",
    "DEFAULT_INNER_ORGANIZATION_IDS",
    "DEFAULT_NOW",
    "DEFAULT_ORGANIZATION_ID",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_WHITELABEL_ID",
    "DEMO_API_KEY",
    "MAX_INNER_ORGANIZATIONS",
    "MAX_PAGE_SIZE",
    "Credential",
    "CredentialKind",
    "EntitlementLimits",
    "FakeOrganization",
    "FakeStudio",
    "Fault",
    "FaultKind",
    "Headers",
    "JsonValue",
    "ListingQuirks",
    "Now",
    "Operation",
    "RecordedRequest",
    "UsageShape",
    "default_name",
    "default_organizations",
    "format_retry_after",
]
