"""FakeStudio follows the vendored spec the client is generated from (checked by schemathesis).

Schemathesis generates requests from ``openapi/edge-impulse.yaml`` (bounded examples, a few
seconds) and checks every 200 against the response schema, so the simulator that records our
cassettes cannot drift from the spec unnoticed. Every vendored operation must have had some of
its 200 answers validated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from ei_usage.testing import FakeStudio

SPEC = Path(__file__).resolve().parents[3] / "openapi" / "edge-impulse.yaml"
KEY = "contract-test-key"
# Inner organizations that answer 200 without includeDeleted=true (the default data has a deleted
# one, which is a 404 by design).
INNER = [organization.id for organization in FakeStudio().inner_organizations(1)]

schema = schemathesis.openapi.from_path(str(SPEC))
OPERATIONS = {item["get"]["operationId"] for item in schema.raw_schema["paths"].values()}
VALIDATED: list[str] = []  # operations whose 200 answers passed the schema check


@pytest.fixture(scope="module")
def studio() -> Iterator[FakeStudio]:
    with FakeStudio(api_key=KEY, record_requests=False) as running:
        yield running


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fake_studio_follows_the_vendored_spec(case: schemathesis.Case, studio: FakeStudio) -> None:
    # Aim at organizations the studio serves, so most generated cases can get a 200.
    if "organizationId" in (case.path_parameters or {}):
        case.path_parameters["organizationId"] = 1
    if "innerOrganizationId" in (case.path_parameters or {}):
        inner = case.path_parameters["innerOrganizationId"]
        case.path_parameters["innerOrganizationId"] = INNER[hash(str(inner)) % len(INNER)]
    response = case.call(base_url=studio.base_url, headers={"x-api-key": KEY}, timeout=10)
    if case.method.upper() not in ("GET", "HEAD"):  # schemathesis tries undeclared methods too
        assert response.status_code == 405, response.text
        assert "GET" in str(response.headers["allow"])
        return
    assert response.status_code in (200, 400), response.text
    if case.method.upper() == "HEAD":
        return
    if response.status_code == 200:
        case.validate_response(
            response, checks=[response_schema_conformance, content_type_conformance]
        )
        VALIDATED.append(case.operation.definition.raw["operationId"])
    else:
        body = json.loads(response.text)
        assert body["success"] is False
        assert isinstance(body["error"], str)
        assert body["error"]


def test_the_contract_check_validated_successes_of_every_operation() -> None:
    # Runs after the generated cases (file order): a check that only ever saw 400s proves little.
    assert len(OPERATIONS) == 4
    counts = {operation: VALIDATED.count(operation) for operation in OPERATIONS}
    assert all(count >= 3 for count in counts.values()), counts
