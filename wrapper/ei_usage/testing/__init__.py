"""Offline test support for ei-usage: a fake Edge Impulse Studio.

``FakeStudio`` is a local HTTP server that simulates the two Studio operations the ei-usage
client calls, with deterministic data, injectable faults and a request log::

    from ei_usage.testing import FakeStudio, Fault

    with FakeStudio(api_key="k") as studio:
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
    DEFAULT_INNER_ORGANIZATION_IDS,
    DEFAULT_NOW,
    DEFAULT_ORGANIZATION_ID,
    DEMO_API_KEY,
    Credential,
    CredentialKind,
    FakeOrganization,
    Operation,
    default_organizations,
)
from ._studio import FakeStudio, Now, RecordedRequest

__all__ = [
    "DEFAULT_CONTRACT_START",
    "DEFAULT_CREATED_AT",
    "DEFAULT_INNER_ORGANIZATION_IDS",
    "DEFAULT_NOW",
    "DEFAULT_ORGANIZATION_ID",
    "DEMO_API_KEY",
    "Credential",
    "CredentialKind",
    "FakeOrganization",
    "FakeStudio",
    "Fault",
    "FaultKind",
    "Headers",
    "JsonValue",
    "Now",
    "Operation",
    "RecordedRequest",
    "default_organizations",
    "format_retry_after",
]
