"""Tests of the spec-change report: openapi/tools/spec_diff.py and `make spec-diff`.

Every change here is made to a copy of the committed slice (or to a small synthetic full spec built
from it), so none of these tests needs ../shared.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from .conftest import load_tools

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "openapi" / "tools"
COMMITTED = ROOT / "openapi" / "edge-impulse.yaml"
OPERATIONS = ROOT / "openapi" / "operations.txt"
WRAPPER_FIELDS = ROOT / "openapi" / "wrapper-fields.yaml"

METRICS = "getOrganizationMetrics"
COMPUTE_TIME = "whitelabelAdminGetOrganizationComputeTimeUsage"
INFO = "whitelabelAdminGetOrganizationInfo"
ORGANIZATIONS = "whitelabelAdminGetOrganizations"
OUR_OPERATIONS = [METRICS, COMPUTE_TIME, INFO, ORGANIZATIONS]
METRICS_PATH = "/api/organizations/{organizationId}/metrics"
INFO_PATH = "/api/organizations/{organizationId}/whitelabel/organizations/{innerOrganizationId}"


sd, vs = load_tools("_vendor_spec_for_spec_diff")
SLICE: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
WRAPPER = sd.load_wrapper_fields(WRAPPER_FIELDS)


# --- helpers -------------------------------------------------------------------------------------


def changed_slice(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    document = copy.deepcopy(SLICE)
    change(document)
    return document


def report_for(change: Callable[[dict[str, Any]], None], wrapper: Any = WRAPPER) -> Any:
    return sd.diff(SLICE, changed_slice(change), OUR_OPERATIONS, wrapper)


def lines(report: Any) -> list[str]:
    return [str(change) for change in report.changes]


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["components"]["schemas"]
    return result


def parameters(document: dict[str, Any], path: str) -> list[Any]:
    result: list[Any] = document["paths"][path]["get"]["parameters"]
    return result


def properties(document: dict[str, Any], schema: str) -> dict[str, Any]:
    result: dict[str, Any] = schemas(document)[schema]["properties"]
    return result


def synthetic_full_spec() -> dict[str, Any]:
    """The committed slice plus an operation that is not ours, with components of its own."""
    document = copy.deepcopy(SLICE)
    document["paths"]["/api/other"] = {
        "get": {
            "operationId": "getOther",
            "parameters": [{"$ref": "#/components/parameters/OtherParameter"}],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Other"}}
                    },
                }
            },
        }
    }
    schemas(document)["Other"] = {
        "allOf": [
            {"$ref": "#/components/schemas/GenericApiResponse"},
            {
                "type": "object",
                "required": ["seconds"],
                "properties": {
                    "seconds": {"type": "number", "description": "Time, in seconds"},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                },
            },
        ]
    }
    document["components"]["parameters"]["OtherParameter"] = {
        "name": "other",
        "in": "query",
        "schema": {"type": "string", "enum": ["x", "y"]},
    }
    return document


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


# --- what the wrapper uses ----------------------------------------------------------------------


def test_every_wrapper_field_exists_in_the_committed_slice() -> None:
    assert sd.unknown_wrapper_fields(SLICE, WRAPPER) == []
    # Every operation we vendor is one the wrapper uses, and says what it uses.
    assert sorted(WRAPPER.operations) == sorted(vs.read_operations(OPERATIONS))


def test_unknown_wrapper_fields_are_found() -> None:
    wrapper = sd.parse_wrapper_fields(
        {
            METRICS: {
                "parameters": {"projectVisibility": ["a"], "projectVisibilty": ["b"]},
                "responses": {200: {"metrics.totalStorage": ["c"], "metrics.storage": ["d"]}},
            },
            "getNothing": {"parameters": {"x": ["e"]}},
            INFO: {"responses": {"404": {"error": ["f"]}}},
        },
        "test",
    )
    assert sd.unknown_wrapper_fields(SLICE, wrapper) == [
        "getNothing: no such operation",
        f"{METRICS} 200 metrics.storage: not in the spec",
        f"{METRICS} parameters projectVisibilty: not in the spec",
        f"{INFO} 404 error: not in the spec",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["getThing"], "test: expected a mapping of operationIds"),
        ({"getThing": ["x"]}, "test: getThing: expected an operationId with a mapping of sections"),
        ({"getThing": {"fields": {}}}, "test: getThing fields: expected parameters, body or"),
        ({"getThing": {"responses": {"200": {"a": []}}}}, "test: getThing 200 a: expected a non"),
        ({"getThing": {"parameters": {"a": "Name"}}}, "test: getThing parameters a: expected"),
        ({"getThing": {"parameters": {"a": [""]}}}, "test: getThing parameters a: expected"),
        ({"getThing": {"parameters": ["a"]}}, "test: getThing parameters: expected a mapping"),
    ],
)
def test_malformed_wrapper_fields_are_errors(data: Any, message: str) -> None:
    with pytest.raises(sd.SpecDiffError) as caught:
        sd.parse_wrapper_fields(data, "test")
    assert str(caught.value).startswith(message)


def test_unreadable_wrapper_fields_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "wrapper-fields.yaml"
    path.write_text("a: [\n", encoding="utf-8")
    with pytest.raises(sd.SpecDiffError, match="cannot read wrapper fields"):
        sd.load_wrapper_fields(path)


def test_wrapper_names_cover_the_field_and_everything_under_it() -> None:
    names = WRAPPER.names(ORGANIZATIONS, "200", "organizations[].entitlementLimits")
    assert names == (
        "Entitlements.compute_time_per_year",
        "Entitlements.gpu_compute_time_per_year",
        "Entitlements.storage_bytes",
        "Entitlements.projects",
        "Entitlements.users",
    )
    assert WRAPPER.names(METRICS, "query", "projectVisibility") == ("project_visibility argument",)
    # A sibling whose name starts the same is not under it.
    assert WRAPPER.names(METRICS, "200", "metrics.total") == ()
    assert WRAPPER.names(ORGANIZATIONS, "200", "organizations[].logo") == ()


# --- flattening ---------------------------------------------------------------------------------


def test_references_and_all_of_are_resolved_to_the_paths_users_see() -> None:
    index = sd._index(SLICE, "the slice")
    fields = sd.flatten(SLICE, index[ORGANIZATIONS])
    limit = fields[("200", "organizations[].entitlementLimits.computeTimePerYear")]
    assert limit == sd.Field("number", units=frozenset({"seconds"}))
    assert fields[("200", "success")] == sd.Field("boolean", required=True)  # from allOf
    assert fields[("200", "organizations[].created")].kind == "string(date-time)"
    assert fields[("query", "active")] == sd.Field("integer", units=frozenset({"days"}))
    assert fields[("path", "organizationId")] == sd.Field("integer", required=True)
    metrics = sd.flatten(SLICE, index[METRICS])
    visibility = metrics[("query", "projectVisibility")]
    assert visibility.enum == ('"private"', '"public"')


def test_recursive_schemas_terminate() -> None:
    document = {
        "openapi": "3.0.0",
        "paths": {
            "/tree": {
                "get": {
                    "operationId": "getTree",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Node"}
                                }
                            },
                        },
                        "204": {"description": "Nothing"},
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                        "value": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            }
        },
    }
    fields = sd.flatten(document, sd._index(document, "test")["getTree"])
    assert fields == {
        ("200", ""): sd.Field("object", required=True),
        ("200", "children"): sd.Field("array"),
        ("200", "children[]"): sd.Field("recursive Node", required=True),
        ("200", "value"): sd.Field("integer|string"),
        ("200", "tags"): sd.Field("object"),
        ("200", "tags{}"): sd.Field("string", required=True),
        ("204", ""): sd.Field("no content", required=True),
    }


def test_nesting_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(sd.MAX_DEPTH + 5):
        deep = {"type": "object", "properties": {"a": deep}}
    document = {
        "paths": {
            "/deep": {
                "get": {
                    "operationId": "getDeep",
                    "responses": {"200": {"content": {"application/json": {"schema": deep}}}},
                }
            }
        }
    }
    with pytest.raises(sd.SpecDiffError, match="nests over"):
        sd.flatten(document, sd._index(document, "test")["getDeep"])


def test_unresolved_reference_is_an_error() -> None:
    def dangle(document: dict[str, Any]) -> None:
        properties(document, "EntitlementLimits")["x"] = {"$ref": "#/components/schemas/Gone"}

    with pytest.raises(sd.SpecDiffError, match="unresolved \\$ref '#/components/schemas/Gone'"):
        report_for(dangle)


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("CPU compute time in seconds of all jobs", {"seconds"}),
        ("in minutes used by an organization, calculated as CPU + GPU minutes.", {"minutes"}),
        ("Storage entitlement, in bytes", {"bytes"}),
        ("Storage, in KB (or KiB?)", {"kilobytes", "kibibytes"}),
        ("latency in ms, at most 2 hrs", {"milliseconds", "hours"}),
        ("Active in the last X days", {"days"}),
        ("Organization ID; the minimum of the secondary", set()),
        ("in \u00b5s, \u03bcs or \u039cS; 2 \u212aB", {"microseconds", "kilobytes"}),
        ("in hundredths of a second", {"1/100 seconds"}),
        ("thousands of bytes, in 100ms steps", {"1000 bytes", "100 milliseconds"}),
        ("in tenths of seconds or centiseconds", {"1/10 seconds", "centiseconds"}),
        ("The organization's name (and its id)", set()),
    ],
)
def test_units_of_descriptions(text: str, units: set[str]) -> None:
    assert sd.units_of(text) == units


# --- classification: the required cases ----------------------------------------------------


def test_no_change_is_an_empty_report() -> None:
    report = sd.diff(SLICE, copy.deepcopy(SLICE), OUR_OPERATIONS, WRAPPER)
    assert report.changes == ()
    assert report.verdict == "none"
    assert report.summary() == "no changes to our operations"


def test_new_optional_response_field_is_compatible() -> None:
    def add(document: dict[str, Any]) -> None:
        properties(document, "OrganizationComputeTimeUsage")["cpuComputeTimeMs"] = {
            "type": "integer",
            "description": "CPU compute time in milliseconds",
        }

    report = report_for(add)
    # The component is shared: the field appears in both operations that use it.
    assert lines(report) == [
        f"compatible  {COMPUTE_TIME} 200 cpuComputeTimeMs: added (optional integer)",
        f"compatible  {INFO} 200 cpuComputeTimeMs: added (optional integer)",
    ]
    assert report.verdict == "compatible"
    assert all(change.wrapper == () for change in report.changes)  # no wrapper field reads it


def test_new_optional_query_parameter_is_compatible() -> None:
    def add(document: dict[str, Any]) -> None:
        parameters(document, METRICS_PATH).append(
            {"name": "includeArchived", "in": "query", "schema": {"type": "boolean"}}
        )

    assert lines(report_for(add)) == [
        f"compatible  {METRICS} query includeArchived: added (optional boolean)"
    ]


def test_new_required_parameter_is_breaking() -> None:
    def add(document: dict[str, Any]) -> None:
        parameters(document, METRICS_PATH).append(
            {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
        )

    report = report_for(add)
    assert lines(report) == [f"BREAKING    {METRICS} query region: added (required string)"]
    assert report.verdict == "breaking"


def test_renamed_response_field_is_breaking_and_names_the_wrapper_fields() -> None:
    def rename(document: dict[str, Any]) -> None:
        limits = properties(document, "EntitlementLimits")
        limits["maxUsers"] = limits.pop("numberOfUsers")

    report = report_for(rename)
    assert lines(report) == [
        f"BREAKING    {INFO} 200 entitlementLimits.numberOfUsers: likely renamed to maxUsers "
        "(same schema); wrapper: InnerOrganizationUsage.entitlements, Entitlements.users",
        f"BREAKING    {ORGANIZATIONS} 200 organizations[].entitlementLimits.numberOfUsers: "
        "likely renamed to maxUsers (same schema); wrapper: Entitlements.users",
    ]


def test_rename_pairs_the_most_similar_name_with_the_same_schema() -> None:
    def rename(document: dict[str, Any]) -> None:
        usage = properties(document, "OrganizationComputeTimeUsage")
        usage["gpuSeconds"] = usage.pop("gpuComputeTime")
        usage["cpuSeconds"] = usage.pop("cpuComputeTime")
        usage["totalComputeTime"]["type"] = "integer"
        usage["totalMinutes"] = usage.pop("totalComputeTime")

    changes = [c for c in report_for(rename).changes if c.operation == COMPUTE_TIME]
    assert [(c.path, c.what, c.breaking) for c in changes] == [
        ("cpuComputeTime", "likely renamed to cpuSeconds (same schema)", True),
        ("gpuComputeTime", "likely renamed to gpuSeconds (same schema)", True),
        ("totalComputeTime", "removed (was optional number)", True),
        ("totalMinutes", "added (optional integer)", False),
    ]


def test_type_change_of_a_read_field_is_breaking() -> None:
    def retype(document: dict[str, Any]) -> None:
        metrics = schemas(document)["OrganizationMetricsResponse"]["allOf"][1]
        metrics["properties"]["metrics"]["properties"]["projectCount"]["type"] = "string"

    assert lines(report_for(retype)) == [
        f"BREAKING    {METRICS} 200 metrics.projectCount: type integer -> string; "
        "wrapper: OrganizationMetrics.project_count"
    ]


def test_enum_value_removed_from_a_request_parameter_is_breaking() -> None:
    def narrow(document: dict[str, Any]) -> None:
        schemas(document)["ProjectVisibility"]["enum"] = ["private", "internal"]

    assert lines(report_for(narrow)) == [
        f'compatible  {METRICS} query projectVisibility: enum values added: "internal"; '
        "wrapper: project_visibility argument",
        f'BREAKING    {METRICS} query projectVisibility: enum values removed: "public"; '
        'the wrapper sends "public"; wrapper: project_visibility argument',
    ]


@pytest.mark.parametrize(
    ("schema", "field", "text", "expected"),
    [
        (
            "OrganizationComputeTimeUsage",
            "gpuComputeTime",
            "GPU compute time in minutes of all jobs in the organization.",
            [
                f"BREAKING    {COMPUTE_TIME} 200 gpuComputeTime: unit seconds -> minutes; "
                "wrapper: ComputeTime.gpu",
                f"BREAKING    {INFO} 200 gpuComputeTime: unit seconds -> minutes; "
                "wrapper: InnerOrganizationUsage.gpu",
            ],
        ),
        (
            "EntitlementLimits",
            "totalStorage",
            "Storage entitlement, in KB",
            [
                f"BREAKING    {INFO} 200 entitlementLimits.totalStorage: unit bytes -> kilobytes; "
                "wrapper: InnerOrganizationUsage.entitlements, Entitlements.storage_bytes",
                f"BREAKING    {ORGANIZATIONS} 200 organizations[].entitlementLimits.totalStorage: "
                "unit bytes -> kilobytes; wrapper: Entitlements.storage_bytes",
            ],
        ),
    ],
)
def test_unit_change_in_a_description_is_breaking(
    schema: str, field: str, text: str, expected: list[str]
) -> None:
    def reunit(document: dict[str, Any]) -> None:
        properties(document, schema)[field]["description"] = text

    assert lines(report_for(reunit)) == expected


def test_description_change_without_a_unit_change_is_not_reported() -> None:
    def reword(document: dict[str, Any]) -> None:
        usage = properties(document, "OrganizationComputeTimeUsage")
        usage["cpuComputeTime"]["description"] = "CPU time, in seconds, of every job."

    assert report_for(reword).changes == ()


def test_unit_stated_for_the_first_time_on_a_read_field_is_breaking() -> None:
    # The wrapper assumed a unit the spec did not state; now the spec states one: check it.
    def state(document: dict[str, Any]) -> None:
        info = schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]
        info["properties"]["totalStorage"]["description"] = "Total storage used, in MiB."

    assert lines(report_for(state)) == [
        f"BREAKING    {INFO} 200 totalStorage: unit (none) -> mebibytes; "
        "wrapper: InnerOrganizationUsage.storage_bytes"
    ]


def test_change_in_a_component_only_another_operation_uses_is_not_reported() -> None:
    before = synthetic_full_spec()
    after = copy.deepcopy(before)
    other = schemas(after)["Other"]["allOf"][1]
    other["properties"]["seconds"] = {"type": "string", "description": "Time, in minutes"}
    other["properties"]["kind"]["enum"] = ["a"]
    other["required"] = []
    after["components"]["parameters"]["OtherParameter"]["required"] = True
    after["paths"]["/api/other"]["get"]["operationId"] = "getOtherThing"
    # The old side is the committed slice, as in `make spec-diff`.
    assert vs.slice_spec(before, OUR_OPERATIONS) == SLICE
    report = sd.diff(SLICE, after, OUR_OPERATIONS, WRAPPER)
    assert report.changes == ()
    # Seen from the other operation's side, the same edit is reported: it was a real change.
    theirs = sd.diff(vs.slice_spec(before, ["getOther"]), after, ["getOther"], sd.WrapperFields())
    assert len(theirs.changes) == 6


# --- classification: the other rules -------------------------------------------------------


def test_unread_fields_follow_the_generated_model() -> None:
    def change(document: dict[str, Any]) -> None:
        fields = schemas(document)["AdminGetOrganizationsResponseOrganizationsItem"]
        fields["required"].remove("privateProjectCount")
        del fields["properties"]["privateProjectCount"]  # required, and read
        del fields["properties"]["logo"]  # optional
        fields["properties"]["domain"]["type"] = "integer"  # passed through as is
        fields["properties"]["readme"] = {"type": "object"}  # a string became an object
        fields["properties"]["created"]["nullable"] = True  # read

    assert lines(report_for(change)) == [
        f"BREAKING    {ORGANIZATIONS} 200 organizations[].created: now nullable; "
        "wrapper: InnerOrganization.created",
        f"compatible  {ORGANIZATIONS} 200 organizations[].domain: type string -> integer",
        f"compatible  {ORGANIZATIONS} 200 organizations[].logo: removed (was optional string)",
        f"BREAKING    {ORGANIZATIONS} 200 organizations[].privateProjectCount: removed "
        "(was required integer); wrapper: InnerOrganization.private_project_count",
        f"compatible  {ORGANIZATIONS} 200 organizations[].readme: type string -> object",
    ]


def test_converted_fields_of_a_used_operation_break_even_unread() -> None:
    def change(document: dict[str, Any]) -> None:
        schemas(document)["DailyMetricsRecord"]["properties"]["date"]["format"] = "unix-time"
        info = schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]["properties"]
        info["dailyMetrics"]["nullable"] = False
        item = schemas(document)["AdminGetOrganizationsResponseOrganizationsItem"]["properties"]
        item["experiments"] = {"type": "string"}  # an array of strings is passed through

    # A field under one that changed type is not reported again.
    assert lines(report_for(change)) == [
        f"compatible  {INFO} 200 dailyMetrics: no longer nullable",
        f"BREAKING    {INFO} 200 dailyMetrics[].date: type string(date-time) -> "
        "string(unix-time); the generated model converts it",
        f"compatible  {ORGANIZATIONS} 200 organizations[].experiments: type array -> string",
    ]


def test_response_enum_value_added_breaks_used_operations_only() -> None:
    def add(document: dict[str, Any]) -> None:
        schemas(document)["EntitlementLimits"]["properties"]["tier"] = {
            "type": "string",
            "enum": ["free", "pro"],
        }

    def extend(document: dict[str, Any]) -> None:
        add(document)
        properties(document, "EntitlementLimits")["tier"]["enum"].append("enterprise")

    before = changed_slice(add)
    after = changed_slice(extend)
    report = sd.diff(before, after, OUR_OPERATIONS, WRAPPER)
    assert lines(report) == [
        f'BREAKING    {INFO} 200 entitlementLimits.tier: enum values added: "enterprise"; '
        "the generated enum rejects unknown values",
        f"BREAKING    {ORGANIZATIONS} 200 organizations[].entitlementLimits.tier: enum values "
        'added: "enterprise"; the generated enum rejects unknown values',
    ]
    # An operation the wrapper does not call has no generated model in the way.
    unused = sd.diff(before, after, OUR_OPERATIONS, sd.WrapperFields())
    assert [change.breaking for change in unused.changes] == [False, False]
    # Values removed from a response enum are never seen again: compatible.
    removed = sd.diff(after, before, OUR_OPERATIONS, WRAPPER)
    assert [change.breaking for change in removed.changes] == [False, False]


def test_required_and_nullable_changes() -> None:
    def change(document: dict[str, Any]) -> None:
        for parameter in document["components"]["parameters"].values():
            if parameter["name"] == "limit":
                parameter["required"] = True
            if parameter["name"] == "endDate":
                parameter["required"] = False
        metrics = schemas(document)["OrganizationMetricsResponse"]["allOf"][1]
        metrics["properties"]["metrics"]["required"].remove("userCount")
        usage = properties(document, "OrganizationComputeTimeUsage")
        usage["totalComputeTime"]["nullable"] = True

    assert lines(report_for(change)) == [
        f"BREAKING    {METRICS} 200 metrics.userCount: now optional; "
        "wrapper: OrganizationMetrics.user_count",
        f"compatible  {COMPUTE_TIME} query endDate: now optional; wrapper: period argument",
        f"BREAKING    {COMPUTE_TIME} 200 totalComputeTime: now nullable; "
        "wrapper: ComputeTime.total",
        f"BREAKING    {INFO} 200 totalComputeTime: now nullable; "
        "wrapper: InnerOrganizationUsage.total",
        f"BREAKING    {ORGANIZATIONS} query limit: now required; "
        "wrapper: Client.inner_organizations paging",
    ]


def test_removed_parameters_break_only_when_sent() -> None:
    def remove(document: dict[str, Any]) -> None:
        path = "/api/organizations/{organizationId}/whitelabel/organizations"
        document["paths"][path]["get"]["parameters"] = [
            parameter
            for parameter in parameters(document, path)
            if not parameter["$ref"].endswith(("/FiltersQueryParameter", "/SearchQueryParameter"))
        ]

    assert lines(report_for(remove)) == [
        f"compatible  {ORGANIZATIONS} query filters: removed (was optional string)",
        f"BREAKING    {ORGANIZATIONS} query search: removed (was optional string); "
        "wrapper: search argument",
    ]


def test_whole_objects_are_one_change() -> None:
    def remove(document: dict[str, Any]) -> None:
        info = schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]["properties"]
        del info["entitlementLimits"]

    report = report_for(remove)
    assert lines(report) == [
        f"BREAKING    {INFO} 200 entitlementLimits: removed (was optional object); wrapper: "
        "InnerOrganizationUsage.entitlements, Entitlements.compute_time_per_year, "
        "Entitlements.gpu_compute_time_per_year, Entitlements.storage_bytes, "
        "Entitlements.projects, Entitlements.users"
    ]


# --- operations --------------------------------------------------------------------------------


def test_operation_removed_renamed_moved_and_added() -> None:
    after = copy.deepcopy(SLICE)
    paths = after["paths"]
    paths[METRICS_PATH]["get"]["operationId"] = "getOrgMetrics"
    paths[INFO_PATH.replace("/organizations/{inner", "/orgs/{inner")] = paths.pop(INFO_PATH)
    del paths["/api/organizations/{organizationId}/whitelabel/organizations"]
    paths["/api/new"] = {"get": {"operationId": "getNew", "responses": {"204": {}}}}
    wrapper = sd.parse_wrapper_fields({METRICS: {"parameters": {"organizationId": ["org"]}}}, "t")

    report = sd.diff(SLICE, after, [*OUR_OPERATIONS, "getNew"], wrapper)

    assert lines(report) == [
        "compatible  getNew: operation added (GET /api/new)",
        f"BREAKING    {METRICS}: operationId renamed to getOrgMetrics; wrapper: org",
        f"BREAKING    {INFO}: moved from GET {INFO_PATH} to GET "
        "/api/organizations/{organizationId}/whitelabel/orgs/{innerOrganizationId}",
        f"BREAKING    {ORGANIZATIONS}: operation removed (was GET "
        "/api/organizations/{organizationId}/whitelabel/organizations)",
    ]


def test_operation_dropped_from_the_list_is_breaking() -> None:
    report = sd.diff(SLICE, SLICE, [METRICS, COMPUTE_TIME, INFO], WRAPPER)
    assert [(c.operation, c.what, c.breaking) for c in report.changes] == [
        (ORGANIZATIONS, "no longer vendored (not in operations.txt)", True)
    ]


def test_report_is_sorted_and_serializes() -> None:
    def many(document: dict[str, Any]) -> None:
        usage = properties(document, "OrganizationComputeTimeUsage")
        usage["zeta"] = {"type": "number"}
        usage["alpha"] = {"type": "number"}
        parameters(document, METRICS_PATH).insert(
            0, {"name": "q", "in": "query", "schema": {"type": "string"}}
        )
        schemas(document)["ProjectVisibility"]["enum"] = ["private"]

    report = report_for(many)
    keys = [(c.operation, c.group, c.path) for c in report.changes]
    assert keys == [
        (METRICS, "query", "projectVisibility"),
        (METRICS, "query", "q"),
        (COMPUTE_TIME, "200", "alpha"),
        (COMPUTE_TIME, "200", "zeta"),
        (INFO, "200", "alpha"),
        (INFO, "200", "zeta"),
    ]
    data = json.loads(json.dumps(report.to_json()))
    assert data["verdict"] == "breaking"
    assert (data["breaking"], data["compatible"]) == (1, 5)
    assert data["changes"][0] == {
        "operation": METRICS,
        "location": f"{METRICS} query projectVisibility",
        "change": 'enum values removed: "public"; the wrapper sends "public"',
        "breaking": True,
        "severity": "breaking",
        "wrapper": ["project_visibility argument"],
    }
    assert report.summary() == (
        "BREAKING for users of the wrapper; changes: 1 breaking, 5 compatible"
    )


# --- the command line: make spec-diff and make vendor-spec ------------------------------------


@pytest.fixture
def checkout(tmp_path: Path) -> dict[str, Path]:
    """A committed slice and a synthetic full spec it was sliced from, in a temporary directory."""
    output = tmp_path / "edge-impulse.yaml"
    output.write_bytes(COMMITTED.read_bytes())
    full = write_yaml(tmp_path / "openapi.yml", synthetic_full_spec())
    return {"output": output, "full": full, "dir": tmp_path}


def spec_diff_main(checkout: dict[str, Path], *extra: str) -> int:
    argv = ["--from", str(checkout["full"]), "--output", str(checkout["output"]), *extra]
    result: int = vs.main([*argv, "--dry-run"])
    return result


def edit_full_spec(checkout: dict[str, Path], change: Callable[[dict[str, Any]], None]) -> None:
    document = yaml.safe_load(checkout["full"].read_text(encoding="utf-8"))
    change(document)
    write_yaml(checkout["full"], document)


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_dry_run_with_no_change_exits_0_and_writes_nothing(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(checkout["dir"])
    assert spec_diff_main(checkout) == 0
    out = capsys.readouterr().out
    assert out == (
        "spec-diff: no changes to our operations\n"
        f"spec-diff: {checkout['output']} would change only in its header (the source sha256)\n"
    )
    assert snapshot(checkout["dir"]) == before


def test_dry_run_with_compatible_changes_exits_0(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    def add(document: dict[str, Any]) -> None:
        properties(document, "EntitlementLimits")["numberOfDevices"] = {"type": "integer"}

    edit_full_spec(checkout, add)
    before = snapshot(checkout["dir"])
    assert spec_diff_main(checkout) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3] == "spec-diff: compatible: 2 changes, none breaking for users of the wrapper"
    assert out[-2] == "spec-diff: proven: stand-in (0 s)"
    assert out[-1].endswith(f"would change: run make vendor-spec FROM={checkout['full']}")
    assert snapshot(checkout["dir"]) == before


def test_dry_run_with_a_breaking_change_exits_4(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    def remove(document: dict[str, Any]) -> None:
        del properties(document, "OrganizationComputeTimeUsage")["totalComputeTime"]

    edit_full_spec(checkout, remove)
    before = snapshot(checkout["dir"])
    assert spec_diff_main(checkout) == 4
    out = capsys.readouterr().out
    assert (
        f"  BREAKING    {COMPUTE_TIME} 200 totalComputeTime: removed (was optional number); "
        "wrapper: ComputeTime.total\n"
    ) in out
    assert "spec-diff: BREAKING for users of the wrapper; changes: 2 breaking, 0 compatible" in out
    assert snapshot(checkout["dir"]) == before


def test_dry_run_json(checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    def retype(document: dict[str, Any]) -> None:
        properties(document, "OrganizationComputeTimeUsage")["cpuComputeTime"]["type"] = "string"

    edit_full_spec(checkout, retype)
    assert spec_diff_main(checkout, "--json") == 4
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "breaking"
    assert data["slice"] == "changed"
    assert [c["location"] for c in data["changes"]] == [
        f"{COMPUTE_TIME} 200 cpuComputeTime",
        f"{INFO} 200 cpuComputeTime",
    ]
    assert data["changes"][0]["wrapper"] == ["ComputeTime.cpu"]


def test_dry_run_reports_an_operation_vendoring_would_not_find(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    def rename(document: dict[str, Any]) -> None:
        document["paths"][METRICS_PATH]["get"]["operationId"] = "getOrgMetrics"

    edit_full_spec(checkout, rename)
    assert spec_diff_main(checkout) == 4
    captured = capsys.readouterr()
    assert f"  BREAKING    {METRICS}: operationId renamed to getOrgMetrics; wrapper: " in (
        captured.out
    )
    assert captured.err.startswith(
        f"spec-diff: error: operationId '{METRICS}' not found in {checkout['full']}"
    )


def test_dry_run_errors_exit_1(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    checkout["full"].unlink()
    assert spec_diff_main(checkout) == 1
    assert capsys.readouterr().err.startswith("spec-diff: error: cannot read spec")


def test_dry_run_against_something_that_is_not_a_slice_exits_1(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    checkout["output"].write_text("previous slice\n", encoding="utf-8")
    assert spec_diff_main(checkout) == 1
    assert "is not an OpenAPI document" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--dry-run"], ["--from", "x.yml", "--json"], ["--from", "x.yml", "--dry-run", "--bogus"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        vs.main(argv)
    assert caught.value.code == 2
    assert "usage: vendor-spec" in capsys.readouterr().err


def test_vendor_spec_writes_reports_and_warns_loudly_but_exits_0(
    checkout: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    def remove(document: dict[str, Any]) -> None:
        metrics = schemas(document)["OrganizationMetricsResponse"]["allOf"][1]
        del metrics["properties"]["metrics"]["properties"]["userCount"]
        metrics["properties"]["metrics"]["required"].remove("userCount")

    edit_full_spec(checkout, remove)
    argv = ["--from", str(checkout["full"]), "--output", str(checkout["output"])]
    assert vs.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"vendor-spec: changes to our operations, {checkout['output']} -> {checkout['full']}:",
        f"  BREAKING    {METRICS} 200 metrics.userCount: removed (was required integer); "
        "wrapper: OrganizationMetrics.user_count",
        "vendor-spec: BREAKING for users of the wrapper; changes: 1 breaking, 0 compatible",
        f"vendor-spec: wrote {checkout['output']} (operations: 4, components: 27)",
    ]
    assert captured.err.startswith("vendor-spec: warning: 1 BREAKING change for users of the")
    assert "userCount" not in checkout["output"].read_text(encoding="utf-8")
    # Written: the next comparison starts from the new slice.
    assert spec_diff_main(checkout) == 0


def test_make_spec_diff_runs_the_dry_run(tmp_path: Path) -> None:
    full = write_yaml(tmp_path / "openapi.yml", synthetic_full_spec())
    result = subprocess.run(
        [sys.executable, str(TOOLS / "vendor_spec.py"), "--from", str(full), "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("spec-diff: no changes to our operations\n")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert 'openapi/tools/vendor_spec.py --from "$(FROM)" --dry-run' in makefile


# --- the real spec ------------------------------------------------------------------------------


def test_committed_slice_has_no_changes_against_the_full_spec(full_spec: Path) -> None:
    source = vs.load_spec(full_spec)
    report = sd.diff(SLICE, source.document, OUR_OPERATIONS, WRAPPER)
    stale = f"the committed slice is stale: run make spec-diff FROM={full_spec}"
    assert lines(report) == [], stale


def test_every_wrapper_name_exists_in_the_wrapper() -> None:
    """`Class.attribute` names in wrapper-fields.yaml are real public names of ei_usage."""
    import inspect

    import attrs

    import ei_usage

    names = {
        name
        for sections in WRAPPER.operations.values()
        for fields in sections.values()
        for wrapper_names in fields.values()
        for name in wrapper_names
    }
    checked = 0
    for name in sorted(names):
        head = name.split(" ", 1)[0]
        if head.endswith("argument") or "." not in head:
            # "x argument": an argument of the client's methods; "APIError": a class.
            if "." not in head and not name.endswith("argument"):
                assert isinstance(getattr(ei_usage, head, None), type), name
            continue
        cls_name, attribute = head.split(".", 1)
        cls = getattr(ei_usage, cls_name, None)
        assert isinstance(cls, type), f"{name}: no class {cls_name} in ei_usage"
        fields = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
        init = set(inspect.signature(cls.__init__).parameters)
        assert attribute in fields | init or hasattr(cls, attribute), name
        checked += 1
    assert checked >= 30
    arguments = {name.split(" ", 1)[0] for name in names if name.endswith(" argument")}
    methods = [
        ei_usage.Client.compute_time,
        ei_usage.Client.metrics,
        ei_usage.Client.inner_organizations,
        ei_usage.Client.inner_organization,
    ]
    known = {p for method in methods for p in inspect.signature(method).parameters}
    assert arguments <= known, arguments - known
