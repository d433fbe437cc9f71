"""The definition of the spec-diff verdicts: a table of spec changes and what `make spec-diff` says.

Each row is a change to the committed slice (as part of a small full spec, so that it goes through
the whole ``vendor_spec.py --from FILE --dry-run --json``, as ``make spec-diff`` runs it), or a file
that is not a spec at all, with the verdict, exit status and words the report must give:

- ``none`` (exit 0): nothing changed for our operations;
- ``compatible`` (exit 0): changes neither the wrapper nor the generated client's users act on;
- ``regenerate`` (exit 0): "regenerate; wrapper unaffected": the generated client changes, the
  wrapper does not need to (vendor and regenerate);
- ``breaking`` (exit 4): ei-usage as released fails, regenerating needs wrapper changes, or
  ``make generate`` fails on the new slice;
- ``error`` (exit 1): no verdict; the message names the file and says what it is.

An OK verdict (exit 0) on a changed slice means the generator ran on it and succeeded. Rows marked
``generator`` run the real pinned generator (a few seconds each); the others get a stand-in that
says it succeeded (``tests/openapi/conftest.py``), and a test below checks it is called.

When a verdict rule changes, change this table first: it is the specification of the rules in
``openapi/tools/spec_diff.py`` and the exit codes in ``openapi/tools/vendor_spec.py``.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
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
WRAPPER_FIELDS = ROOT / "openapi" / "wrapper-fields.yaml"

METRICS = "getOrganizationMetrics"
COMPUTE_TIME = "whitelabelAdminGetOrganizationComputeTimeUsage"
INFO = "whitelabelAdminGetOrganizationInfo"
ORGANIZATIONS = "whitelabelAdminGetOrganizations"
METRICS_PATH = "/api/organizations/{organizationId}/metrics"
LIST_PATH = "/api/organizations/{organizationId}/whitelabel/organizations"


sd, vs = load_tools("_vendor_spec_for_verdicts")
SLICE: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
Document = dict[str, Any]


# --- what a row changes -------------------------------------------------------------------------


def schemas(document: Document) -> dict[str, Any]:
    result: dict[str, Any] = document["components"]["schemas"]
    return result


def properties(document: Document, schema: str) -> dict[str, Any]:
    result: dict[str, Any] = schemas(document)[schema]["properties"]
    return result


def parameter(name: str, document: Document) -> dict[str, Any]:
    """A parameter component by its ``name``."""
    for value in document["components"]["parameters"].values():
        if value["name"] == name:
            result: dict[str, Any] = value
            return result
    raise KeyError(name)


def metrics(document: Document) -> dict[str, Any]:
    result: dict[str, Any] = schemas(document)["OrganizationMetricsResponse"]["allOf"][1]
    return result["properties"]["metrics"]


def organization_item(document: Document) -> dict[str, Any]:
    result: dict[str, Any] = schemas(document)["AdminGetOrganizationsResponseOrganizationsItem"]
    return result


def describe(schema: str, name: str, text: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        properties(document, schema)[name]["description"] = text

    return change


def constrain(name: str, **keywords: Any) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        parameter(name, document)["schema"].update(keywords)

    return change


def rename_path_parameter(document: Document) -> None:
    parameter("organizationId", document)["name"] = "orgId"
    document["paths"] = {
        path.replace("{organizationId}", "{orgId}"): item
        for path, item in document["paths"].items()
    }


def optional_field_required(document: Document) -> None:
    schemas(document)["OrganizationComputeTimeUsage"]["required"] = ["cpuComputeTime"]


def required_field_optional(document: Document) -> None:
    metrics(document)["required"].remove("userCount")


def number_to_integer(document: Document) -> None:
    properties(document, "OrganizationComputeTimeUsage")["cpuComputeTime"]["type"] = "integer"


def integer_to_number(document: Document) -> None:
    metrics(document)["properties"]["projectCount"]["type"] = "number"


def daily_date_format(document: Document) -> None:
    properties(document, "DailyMetricsRecord")["date"]["format"] = "date"


def visibility_with_internal(document: Document) -> None:
    schemas(document)["ProjectVisibility"]["enum"] = ["private", "public", "internal"]


def visibility_enum(*values: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        schemas(document)["ProjectVisibility"]["enum"] = list(values)

    return change


def api_key_header(document: Document) -> None:
    document["components"]["securitySchemes"]["ApiKeyAuthentication"]["name"] = "x-ei-api-key"


def api_key_scheme_added(document: Document) -> None:
    document["components"]["securitySchemes"]["ApiKeyQuery"] = {
        "type": "apiKey",
        "in": "query",
        "name": "apiKey",
    }
    document["security"].append({"ApiKeyQuery": []})


def servers(*urls: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        document["servers"] = [{"url": url} for url in urls]

    return change


def alias_cycle(document: Document) -> None:
    properties(document, "EntitlementLimits")["tier"] = {"$ref": "#/components/schemas/TierA"}
    schemas(document)["TierA"] = {"$ref": "#/components/schemas/TierB"}
    schemas(document)["TierB"] = {"$ref": "#/components/schemas/TierA"}


def self_alias(document: Document) -> None:
    properties(document, "EntitlementLimits")["tier"] = {"$ref": "#/components/schemas/Tier"}
    schemas(document)["Tier"] = {"$ref": "#/components/schemas/Tier"}


def new_response_field(document: Document) -> None:
    properties(document, "OrganizationComputeTimeUsage")["cpuComputeTimeMs"] = {
        "type": "integer",
        "description": "CPU compute time in milliseconds",
    }


def new_query_parameter(document: Document, required: bool = False) -> None:
    document["paths"][METRICS_PATH]["get"]["parameters"].append(
        {"name": "region", "in": "query", "required": required, "schema": {"type": "string"}}
    )


def rename_read_field(document: Document) -> None:
    limits = properties(document, "EntitlementLimits")
    limits["maxUsers"] = limits.pop("numberOfUsers")


def retype_read_field(document: Document) -> None:
    metrics(document)["properties"]["projectCount"]["type"] = "string"


def remove_search(document: Document) -> None:
    get = document["paths"][LIST_PATH]["get"]
    get["parameters"] = [
        p for p in get["parameters"] if not p["$ref"].endswith("/SearchQueryParameter")
    ]


def unread_field_retyped(document: Document) -> None:
    organization_item(document)["properties"]["domain"]["type"] = "integer"


def response_enum_extended(document: Document) -> None:
    properties(document, "EntitlementLimits")["tier"] = {"type": "string", "enum": ["free", "pro"]}


def response_enum_value_added(document: Document) -> None:
    response_enum_extended(document)
    properties(document, "EntitlementLimits")["tier"]["enum"].append("enterprise")


def reword(document: Document) -> None:
    describe("OrganizationComputeTimeUsage", "cpuComputeTime", "CPU time, in seconds.")(document)


def remove_operation(document: Document) -> None:
    del document["paths"][METRICS_PATH]


def rename_operation(document: Document) -> None:
    document["paths"][METRICS_PATH]["get"]["operationId"] = "getOrgMetrics"


def dangling_reference(document: Document) -> None:
    properties(document, "EntitlementLimits")["x"] = {"$ref": "#/components/schemas/Gone"}


# --- issue 21: changes the generated names or the wrapper must survive -------------------------

COMPUTE_TIME_PATH = (
    "/api/organizations/{organizationId}/whitelabel/organizations/{innerOrganizationId}"
    "/usage/computeTime"
)


def retag(document: Document) -> None:
    document["paths"][METRICS_PATH]["get"]["tags"] = ["WhiteLabel"]


def rename_schema(old: str, new: str) -> Callable[[Document], None]:
    """Rename a schema component, every ``$ref`` following (as upstream would)."""

    def change(document: Document) -> None:
        text = json.dumps(document).replace(
            f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"'
        )
        renamed = json.loads(text)
        renamed["components"]["schemas"][new] = renamed["components"]["schemas"].pop(old)
        document.clear()
        document.update(renamed)

    return change


def inline_visibility(document: Document) -> None:
    """The $ref'd enum inlined into the parameter, with the same values."""
    enum = copy.deepcopy(schemas(document)["ProjectVisibility"])
    parameter("projectVisibility", document)["schema"] = enum
    del schemas(document)["ProjectVisibility"]


def inline_listing_record(document: Document) -> None:
    """The listing record inline in the response (as upstream writes it)."""
    record = schemas(document).pop("AdminGetOrganizationsResponseOrganizationsItem")
    listing = schemas(document)["AdminGetOrganizationsResponse"]["allOf"][1]
    listing["properties"]["organizations"]["items"] = record


def closed_limits(document: Document) -> None:
    schemas(document)["EntitlementLimits"]["additionalProperties"] = False


def timezone_parameter(document: Document) -> None:
    document["paths"][COMPUTE_TIME_PATH]["get"]["parameters"].append(
        {
            "name": "timezone",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "default": "UTC"},
        }
    )


def info_field_required(name: str) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]["required"] = [name]

    return change


def all_of(*changes: Callable[[Document], None]) -> Callable[[Document], None]:
    def change(document: Document) -> None:
        for each in changes:
            each(document)

    return change


def int64(document: Document) -> None:
    metrics(document)["properties"]["projectCount"]["format"] = "int64"


def double(document: Document) -> None:
    properties(document, "OrganizationComputeTimeUsage")["cpuComputeTime"]["format"] = "double"


def operation_servers(*urls: str, level: str = "get") -> Callable[[Document], None]:
    def change(document: Document) -> None:
        item = document["paths"][COMPUTE_TIME_PATH]
        holder = item if level == "path" else item["get"]
        holder["servers"] = [{"url": url} for url in urls]

    return change


def text_file(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


def oversized(path: Path) -> None:
    with path.open("wb") as handle:
        handle.write(b"openapi: 3.0.0\npaths: {}\n")
        handle.write(b"#" * vs.MAX_SPEC_BYTES)


def alias_bomb(path: Path) -> None:
    """Ten levels of ten aliases, 10^10 nodes once expanded, in an example of one of our fields.

    A few kilobytes on disk, loaded in milliseconds: only a walk (slicing, writing) expands it.
    """
    document = full_spec(None)
    properties(document, "EntitlementLimits")["totalStorage"]["example"] = "BOMB"
    text = yaml.safe_dump(document, sort_keys=False).replace("example: BOMB", "example: *a9")
    lines = ["x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"x-a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 10)]
    path.write_text("\n".join(lines) + "\n" + text, encoding="utf-8")


# --- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: a change and what spec-diff must say about it.

    Attributes:
        change: Applied to the full spec (the committed slice plus an operation not ours).
        verdict: ``none``, ``compatible``, ``regenerate``, ``breaking`` or ``error``.
        exit: The exit status of ``vendor_spec.py --dry-run``.
        words: Each must appear in the output (JSON report, or the error on stderr).
        before: Applied first to both the committed slice and the full spec: the state changed.
        file: Writes the spec file instead of ``change`` (inputs that are not a spec).

    """

    change: Callable[[Document], None] | None
    verdict: str
    exit: int
    words: tuple[str, ...] = ()
    before: Callable[[Document], None] | None = None
    file: Callable[[Path], None] | None = None


def row(name: str, case: Case, *, generator: bool = False) -> Any:
    marks = [pytest.mark.generator] if generator else []
    return pytest.param(case, id=name, marks=marks)


OK = 0
BREAKING = 4
ERROR = 1

CASES = [
    # -- no change, compatible ------------------------------------------------------------------
    row(
        "no change", Case(None, "none", OK, ("no changes to our operations", "only in its header"))
    ),
    row(
        "description reworded, same unit",
        Case(reword, "none", OK, ("no changes to our operations", "does not classify")),
    ),
    row(
        "new optional response field",
        Case(new_response_field, "compatible", OK, ("cpuComputeTimeMs: added (optional integer)",)),
    ),
    row("new optional parameter", Case(new_query_parameter, "compatible", OK, ("region",))),
    row(
        "enum value added to a sent parameter",
        Case(visibility_with_internal, "compatible", OK, ('enum values added: "internal"',)),
    ),
    row(
        "unread response field retyped (passed through)",
        Case(unread_field_retyped, "compatible", OK, ("domain: type string -> integer",)),
    ),
    row(
        "limit gains a maximum the wrapper stays under",
        Case(constrain("limit", maximum=1000), "compatible", OK, ("accepts what the wrapper",)),
    ),
    row(
        "search gains the wrapper's own maxLength",
        Case(constrain("search", maxLength=200), "compatible", OK, ("maxLength (none) -> 200",)),
    ),
    row(
        "a server added, ours kept",
        Case(
            servers("https://studio.edgeimpulse.com/v1", "https://eu.edgeimpulse.com/v1"),
            "compatible",
            OK,
            ("eu.edgeimpulse.com",),
        ),
    ),
    row(
        "an API key scheme added, x-api-key kept",
        Case(api_key_scheme_added, "compatible", OK, ("apikey in query",)),
    ),
    # -- issue 21: what regenerating must survive (pinned names, a tolerant wrapper) ------------
    row(
        "an operation's tag changed (the slicer pins it)",
        Case(retag, "none", OK, ("no changes to our operations", "only in its header")),
    ),
    row(
        "a component renamed, every $ref following (the slicer pins the name)",
        Case(
            rename_schema("EntitlementLimits", "OrganizationEntitlementLimits"),
            "none",
            OK,
            ("only in its header",),
        ),
    ),
    row(
        "a $ref'd enum inlined with the same values",
        Case(inline_visibility, "none", OK, ("only in its header",)),
    ),
    row(
        "an inline record schema moved to a $ref with the same content",
        Case(
            rename_schema("AdminGetOrganizationsResponseOrganizationsItem", "WhiteLabelOrg"),
            "none",
            OK,
            ("only in its header",),
        ),
    ),
    row(
        "a $ref'd record schema inlined (as upstream writes the listing record)",
        Case(inline_listing_record, "none", OK, ("only in its header",)),
    ),
    row(
        "format int64 added to an integer the wrapper reads (nothing generated changes)",
        Case(int64, "none", OK, ("no changes", "the regenerated client is the committed one")),
        generator=True,
    ),
    row(
        "format double added to a number the wrapper reads",
        Case(double, "none", OK, ("no changes to our operations",)),
    ),
    row(
        "additionalProperties: false on EntitlementLimits",
        Case(
            closed_limits,
            "regenerate",
            OK,
            ("entitlementLimits: additionalProperties: false", "proven"),
        ),
    ),
    row(
        "a new optional parameter with a default on computeTime",
        Case(timezone_parameter, "compatible", OK, ("query timezone: added (optional string)",)),
    ),
    row(
        "dailyMetrics (handed to the model as []) made required",
        Case(
            info_field_required("dailyMetrics"),
            "compatible",
            OK,
            ("dailyMetrics: now required; the wrapper hands the generated model []",),
        ),
    ),
    # The three above at once, proven for real (one proof: a few rows keep make test quick).
    row(
        "additionalProperties: false, a parameter with a default, dailyMetrics required: proven",
        Case(
            all_of(closed_limits, timezone_parameter, info_field_required("dailyMetrics")),
            "regenerate",
            OK,
            (
                "entitlementLimits: additionalProperties: false",
                "query timezone: added",
                "dailyMetrics: now required",
                "proven: regenerated the client; the wrapper imports; mypy --strict on wrapper/",
            ),
        ),
        generator=True,
    ),
    row(
        "entitlementLimits (removed before the model) made required",
        Case(
            info_field_required("entitlementLimits"),
            "breaking",
            BREAKING,
            ("entitlementLimits: now required; the wrapper removes it before the generated model",),
        ),
    ),
    row(
        "limit gains multipleOf 10 (the wrapper pages by 2 to 1000)",
        Case(
            constrain("limit", multipleOf=10),
            "breaking",
            BREAKING,
            ("multipleOf 10 but the wrapper sends 2",),
        ),
    ),
    row(
        "limit gains multipleOf 1",
        Case(constrain("limit", multipleOf=1), "compatible", OK, ("accepts what the wrapper",)),
    ),
    row(
        "organizationId gains a maximum (ids grow with the white label)",
        Case(
            constrain("organizationId", maximum=1000000),
            "breaking",
            BREAKING,
            ("maximum 1000000 but the wrapper sends any number from 0 up",),
        ),
    ),
    row(
        "organizationId gains minimum 1 (the wrapper allows id 0)",
        Case(
            constrain("organizationId", minimum=1),
            "breaking",
            BREAKING,
            ("minimum 1 but the wrapper sends 0",),
        ),
    ),
    row(
        "offset gains a maximum (offsets grow with the white label)",
        Case(
            constrain("offset", maximum=10000),
            "breaking",
            BREAKING,
            ("maximum 10000 but the wrapper sends any number from 0 up",),
        ),
    ),
    row(
        "search (free text) gains a pattern of lowercase words",
        Case(
            constrain("search", pattern="^[a-z ]+$"),
            "breaking",
            BREAKING,
            ("pattern '^[a-z ]+$' rejects",),
        ),
    ),
    row(
        "search gains a pattern any text matches",
        Case(constrain("search", pattern="^.+$"), "compatible", OK, ("accepts what the wrapper",)),
    ),
    row(
        "sort gains a const other than id",
        Case(constrain("sort", const="name"), "breaking", BREAKING, ('const "name"',)),
    ),
    row(
        "limit gains a not",
        Case(constrain("limit", **{"not": {"const": 7}}), "breaking", BREAKING, ("not {",)),
    ),
    row(
        "computeTime's path item moves to another host",
        Case(
            operation_servers("https://eu.edgeimpulse.com/v1", level="path"),
            "breaking",
            BREAKING,
            (f"{COMPUTE_TIME} servers: servers https://studio.edgeimpulse.com/v1 -> ",),
        ),
    ),
    row(
        "computeTime's operation moves to another host",
        Case(
            operation_servers("https://eu.edgeimpulse.com/v1"),
            "breaking",
            BREAKING,
            ("is not among them",),
        ),
    ),
    row(
        "computeTime's operation lists another host besides ours",
        Case(
            operation_servers("https://studio.edgeimpulse.com/v1", "https://eu.edgeimpulse.com/v1"),
            "compatible",
            OK,
            ("eu.edgeimpulse.com",),
        ),
    ),
    # -- regenerate; wrapper unaffected --------------------------------------------------------
    row(
        "path parameter renamed, same URL",
        Case(
            rename_path_parameter,
            "regenerate",
            OK,
            ("organizationId: likely renamed to orgId", "at the same place in the URL"),
        ),
    ),
    row(
        "dailyMetrics[].date date-time -> date (the wrapper drops dailyMetrics)",
        Case(daily_date_format, "regenerate", OK, ("dailyMetrics[].date", "does not read it")),
    ),
    row(
        "number -> integer for a field read as a number",
        Case(number_to_integer, "regenerate", OK, ("cpuComputeTime: type number -> integer",)),
    ),
    row(
        "enum value the wrapper never sends removed",
        Case(
            visibility_enum("private", "public"),
            "regenerate",
            OK,
            ('enum values removed: "internal"', "never sends"),
            before=visibility_with_internal,
        ),
    ),
    # -- breaking --------------------------------------------------------------------------------
    row(
        "optional read field becomes required",
        Case(optional_field_required, "breaking", BREAKING, ("cpuComputeTime: now required",)),
    ),
    row(
        "required read field becomes optional",
        Case(required_field_optional, "breaking", BREAKING, ("metrics.userCount: now optional",)),
    ),
    row(
        "integer -> number for a field read as an integer",
        Case(integer_to_number, "breaking", BREAKING, ("projectCount: type integer -> number",)),
    ),
    row(
        "seconds -> hundredths of a second",
        Case(
            describe(
                "OrganizationComputeTimeUsage",
                "cpuComputeTime",
                "CPU time in hundredths of a second",
            ),
            "breaking",
            BREAKING,
            ("unit seconds -> 1/100 seconds",),
        ),
    ),
    row(
        "seconds -> milliseconds",
        Case(
            describe("EntitlementLimits", "computeTimePerYear", "Compute entitlement, in ms"),
            "breaking",
            BREAKING,
            ("unit seconds -> milliseconds",),
        ),
    ),
    row(
        "seconds -> minutes",
        Case(
            describe("OrganizationComputeTimeUsage", "gpuComputeTime", "GPU time in minutes"),
            "breaking",
            BREAKING,
            ("unit seconds -> minutes", "ComputeTime.gpu"),
        ),
    ),
    row(
        "bytes -> kilobytes",
        Case(
            describe("EntitlementLimits", "totalStorage", "Storage entitlement, in kilobytes"),
            "breaking",
            BREAKING,
            ("unit bytes -> kilobytes",),
        ),
    ),
    row(
        "bytes -> thousands of bytes",
        Case(
            describe(
                "EntitlementLimits", "totalStorage", "Storage entitlement, in thousands of bytes"
            ),
            "breaking",
            BREAKING,
            ("unit bytes -> 1000 bytes",),
        ),
    ),
    row(
        "limit gains maximum 50, the wrapper pages by 100",
        Case(
            constrain("limit", maximum=50),
            "breaking",
            BREAKING,
            ("maximum 50 but the wrapper sends 1000",),
        ),
    ),
    row(
        "limit gains a minimum above the smallest page",
        Case(
            constrain("limit", minimum=10),
            "breaking",
            BREAKING,
            ("minimum 10 but the wrapper sends 2",),
        ),
    ),
    row(
        "search gains a maxLength below the wrapper's",
        Case(
            constrain("search", maxLength=50),
            "breaking",
            BREAKING,
            ("maxLength 50 but the wrapper sends up to 200",),
        ),
    ),
    row(
        "sort gains a pattern rejecting id",
        Case(
            constrain("sort", pattern="^(name|created)$"), "breaking", BREAKING, ("rejects", "id")
        ),
    ),
    row(
        "startDate date-time -> date",
        Case(
            constrain("startDate", format="date"),
            "breaking",
            BREAKING,
            ("startDate: type string(date-time) -> string(date)",),
        ),
    ),
    row(
        "sort restricted to an enum (the wrapper passes a str)",
        Case(
            constrain("sort", enum=["id", "name"]),
            "breaking",
            BREAKING,
            ("now restricted to enum values",),
        ),
    ),
    row(
        "enum value the wrapper sends removed",
        Case(visibility_enum("private"), "breaking", BREAKING, ('the wrapper sends "public"',)),
    ),
    row(
        "API key header renamed",
        Case(
            api_key_header,
            "breaking",
            BREAKING,
            ("x-ei-api-key in header", "sends its API key as x-api-key"),
        ),
    ),
    row(
        "servers changed",
        Case(servers("https://api.edgeimpulse.com/v2"), "breaking", BREAKING, ("base URL",)),
    ),
    row(
        "new required parameter",
        Case(
            lambda d: new_query_parameter(d, True),
            "breaking",
            BREAKING,
            ("region: added (required string)",),
        ),
    ),
    row(
        "read response field renamed",
        Case(rename_read_field, "breaking", BREAKING, ("likely renamed to maxUsers",)),
    ),
    row(
        "read response field retyped",
        Case(retype_read_field, "breaking", BREAKING, ("type integer -> string",)),
    ),
    row("sent parameter removed", Case(remove_search, "breaking", BREAKING, ("search: removed",))),
    row(
        "response enum value added",
        Case(
            response_enum_value_added,
            "breaking",
            BREAKING,
            ("generated enum rejects",),
            before=response_enum_extended,
        ),
    ),
    row("operation removed", Case(remove_operation, "breaking", BREAKING, ("operation removed",))),
    row(
        "operationId renamed",
        Case(rename_operation, "breaking", BREAKING, ("operationId renamed to getOrgMetrics",)),
    ),
    row(
        "$ref alias cycle A -> B -> A",
        Case(alias_cycle, "breaking", BREAKING, ("make generate fails", "TierA")),
        generator=True,
    ),
    row(
        "$ref self-reference",
        Case(self_alias, "breaking", BREAKING, ("make generate fails", "Tier")),
        generator=True,
    ),
    # -- errors: no verdict --------------------------------------------------------------------
    row("dangling $ref", Case(dangling_reference, "error", ERROR, ("unresolved $ref",))),
    row(
        "JSON error body",
        Case(
            None,
            "error",
            ERROR,
            ("openapi.yml is an API error response", "Unauthorized"),
            file=text_file('{"success": false, "error": "Unauthorized"}'),
        ),
    ),
    row(
        "Swagger 2.0",
        Case(
            None,
            "error",
            ERROR,
            ("openapi.yml is a Swagger 2.0 document",),
            file=text_file('{"swagger": "2.0", "info": {}, "paths": {}}'),
        ),
    ),
    row(
        "no paths",
        Case(
            None,
            "error",
            ERROR,
            ("openapi.yml has no 'paths' mapping",),
            file=text_file("openapi: 3.0.0\ninfo: {title: x}\n"),
        ),
    ),
    row("empty file", Case(None, "error", ERROR, ("openapi.yml is empty",), file=text_file(""))),
    row(
        "blank file",
        Case(None, "error", ERROR, ("openapi.yml is empty",), file=text_file("\n  \n")),
    ),
    row(
        "comments only",
        Case(None, "error", ERROR, ("openapi.yml is empty",), file=text_file("# nothing\n")),
    ),
    row(
        "an HTML page",
        Case(
            None,
            "error",
            ERROR,
            ("openapi.yml is not an OpenAPI document",),
            file=text_file("<html>Sign in</html>\n"),
        ),
    ),
    row(
        "not YAML",
        Case(None, "error", ERROR, ("openapi.yml is not valid YAML",), file=text_file("a: [\n")),
    ),
    row(
        "over the size cap",
        Case(None, "error", ERROR, ("openapi.yml is over 8 MiB",), file=oversized),
    ),
    row(
        "YAML alias bomb",
        Case(None, "error", ERROR, ("openapi.yml expands to over", "alias"), file=alias_bomb),
    ),
    row(
        "YAML alias loop",
        Case(
            None,
            "error",
            ERROR,
            ("alias inside its own anchor",),
            file=text_file("openapi: 3.0.0\npaths: &a {x: *a}\n"),
        ),
    ),
]


def full_spec(before: Callable[[Document], None] | None) -> Document:
    """The committed slice plus an operation that is not ours."""
    document = copy.deepcopy(SLICE)
    if before is not None:
        before(document)
    document["paths"]["/api/other"] = {
        "get": {"operationId": "getOther", "responses": {"204": {"description": "Nothing"}}}
    }
    return document


def spec_diff(tmp_path: Path, case: Case, *extra: str) -> tuple[int, str]:
    output = tmp_path / "edge-impulse.yaml"
    if case.before is None:
        output.write_bytes(COMMITTED.read_bytes())
    else:
        before = copy.deepcopy(SLICE)
        case.before(before)
        output.write_text(vs.render(before, source_sha256="0" * 64), encoding="utf-8")
    source = tmp_path / "openapi.yml"
    if case.file is not None:
        case.file(source)
    else:
        document = full_spec(case.before)
        if case.change is not None:
            case.change(document)
        source.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    argv = ["--from", str(source), "--output", str(output), "--dry-run", *extra]
    return vs.main(argv), str(source)


@pytest.mark.parametrize("case", CASES)
def test_verdict(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, source = spec_diff(tmp_path, case, "--json")
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert (data["verdict"], status) == (case.verdict, case.exit), captured.out + captured.err
    if case.verdict == "error":
        # The error names the file, in JSON as on stderr.
        assert source in data["error"]
        assert f"spec-diff: error: {data['error']}" in captured.err
    # The same words in the text report (or the error on stderr).
    assert spec_diff(tmp_path, case)[0] == case.exit
    captured = capsys.readouterr()
    text = captured.out + captured.err
    for word in case.words:
        assert word in text, f"{word!r} not in:\n{text}"
    # A dry run: nothing written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge-impulse.yaml", "openapi.yml"]


# --- around the table ---------------------------------------------------------------------------


def test_alias_bomb_fails_fast_in_a_real_run(tmp_path: Path) -> None:
    """The bomb ends in an error, not a hang (the timeout only guards the test run)."""
    alias_bomb(tmp_path / "openapi.yml")
    result = subprocess.run(
        [
            sys.executable,
            str(TOOLS / "vendor_spec.py"),
            *("--from", str(tmp_path / "openapi.yml")),
            *("--output", str(tmp_path / "edge-impulse.yaml")),
            *("--dry-run", "--no-generate"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "expands to over 2,000,000 YAML nodes through its aliases" in result.stderr
    assert not (tmp_path / "edge-impulse.yaml").exists()


def test_ok_verdicts_run_the_generator_on_the_slice_vendoring_would_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generated_slices: list[str]
) -> None:
    case = Case(new_response_field, "compatible", OK)
    assert spec_diff(tmp_path, case)[0] == OK
    assert len(generated_slices) == 1
    assert "cpuComputeTimeMs" in generated_slices[0]
    # Exactly what make vendor-spec writes.
    output = tmp_path / "edge-impulse.yaml"
    assert vs.main(["--from", str(tmp_path / "openapi.yml"), "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == generated_slices[0]
    capsys.readouterr()


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        (Case(None, "none", OK), ()),  # nothing to regenerate
        (Case(retype_read_field, "breaking", BREAKING), ()),  # already breaking
        (Case(new_response_field, "compatible", OK), ("--no-generate",)),
    ],
)
def test_the_generator_runs_only_where_it_can_change_an_ok_verdict(
    case: Case,
    extra: tuple[str, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    generated_slices: list[str],
) -> None:
    assert spec_diff(tmp_path, case, *extra)[0] == case.exit
    assert generated_slices == []
    capsys.readouterr()


def test_a_generator_failure_is_breaking_with_its_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = importlib.import_module("proof")
    message = "first\n" + "line\n" * 20 + "the end"
    monkeypatch.setattr(proof, "prove", lambda *_, **__: proof.Proof(message, "generate", 2.0))
    assert spec_diff(tmp_path, Case(new_response_field, "compatible", OK))[0] == BREAKING
    out = capsys.readouterr().out
    assert "BREAKING    generator: make generate fails on the new slice: first | ... | line" in out
    assert out.count("line") == 11
    assert "the end\n" in out


@pytest.mark.generator
def test_the_real_generator_step_is_bounded(tmp_path: Path) -> None:
    generate = importlib.import_module("generate")
    text = COMMITTED.read_text(encoding="utf-8")
    problem = generate.check_spec(text + "\n# not cached\n", ROOT / "generator-config.yaml", 0.01)
    assert problem is not None
    assert "did not finish within 0.01 s" in problem


def test_help_lists_every_verdict_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        vs.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for words in (
        "0 no change",
        "0 compatible",
        "0 regenerate regenerate; wrapper unaffected",
        "4 breaking",
        "1 error",
        "2 usage error",
        "over 8 MiB",
        '{"verdict": "error", "error": "..."}',
    ):
        assert words in out


def test_readme_documents_the_verdicts() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    section = readme[readme.index("## When Edge Impulse changes its spec") :]
    for words in ("regenerate; wrapper unaffected", "**4**", "**1**", "8 MiB", "--no-generate"):
        assert words in section, words


# --- what the wrapper sends, declared in wrapper-fields.yaml -----------------------------------


def test_declared_values_match_the_wrapper() -> None:
    from ei_usage import _calls, _config, _dates, _paging, _plan

    wrapper = sd.load_wrapper_fields(WRAPPER_FIELDS)
    limit = wrapper.sent[ORGANIZATIONS]["limit"]
    assert limit.values == (_paging.DEFAULT_PAGE_SIZE,)
    assert (limit.minimum, limit.maximum) == (2, _paging.MAX_PAGE_SIZE)
    search = wrapper.sent[ORGANIZATIONS]["search"]
    assert (search.min_length, search.max_length) == (1, _plan._MAX_SEARCH_LENGTH)
    assert wrapper.sent[ORGANIZATIONS]["sort"].values == ("id",)
    assert wrapper.client.base_url == _config.DEFAULT_BASE_URL
    credential = _config.make_credential("key", None, None)
    assert wrapper.client.api_key_header == credential.header
    from datetime import UTC, datetime

    start = wrapper.sent[COMPUTE_TIME]["startDate"]
    assert start.format == "date-time"
    assert start.values == (_dates.format_wire(datetime(2024, 5, 1, tzinfo=UTC)),)
    visibility = wrapper.sent[METRICS]["projectVisibility"]
    assert set(visibility.values) == set(_calls._VISIBILITIES)


def test_the_committed_slice_accepts_every_declared_value() -> None:
    wrapper = sd.load_wrapper_fields(WRAPPER_FIELDS)
    index = sd._index(SLICE, "the slice")
    checked = 0
    for operation_id, sent in wrapper.sent.items():
        fields = sd.flatten(SLICE, index[operation_id])
        for name, values in sent.items():
            (schema,) = [f for (g, p), f in fields.items() if p == name and g in ("path", "query")]
            assert sd._accepts(schema, values) == [], (operation_id, name)
            checked += 1
    assert checked == 17


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"client": {"base_url": "x"}}, "test: client: expected base_url and api_key_header"),
        ({"getThing": {"values": ["a"]}}, "test: getThing values: expected a mapping"),
        ({"getThing": {"values": {"a": {"max": 1}}}}, "test: getThing values a: expected a map"),
        ({"getThing": {"values": {"a": {"maximum": "1"}}}}, "test: getThing values a: values must"),
        ({"getThing": {"values": {"a": {"values": [1]}}}}, "test: getThing values a: not a param"),
    ],
)
def test_malformed_declared_values_are_errors(data: Any, message: str) -> None:
    with pytest.raises(sd.SpecDiffError) as caught:
        sd.parse_wrapper_fields(data, "test")
    assert str(caught.value).startswith(message)


# --- the generated names the wrapper imports, pinned by the slicer ------------------------------


def generated_imports() -> set[tuple[str, str]]:
    """(module, name) of every ``from edge_impulse_api_client... import name`` in the wrapper."""
    import ast

    found: set[tuple[str, str]] = set()
    for path in (ROOT / "wrapper" / "ei_usage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "edge_impulse_api_client"
            ):
                found.update((node.module or "", alias.name) for alias in node.names)
    return found


def test_every_generated_name_the_wrapper_imports_is_pinned() -> None:
    """A model class the wrapper imports is pinned in wrapper-fields.yaml; operations by tag."""
    pins = sd.load_wrapper_fields(WRAPPER_FIELDS).pins
    operations = set(vs.read_operations(ROOT / "openapi" / "operations.txt"))
    package = "edge_impulse_api_client"
    tag_module = f"{package}.api.{pins.tag.lower()}"
    models = {name for module, name in generated_imports() if module.startswith(f"{package}.mod")}
    assert models == set(pins.models)
    for module, name in generated_imports():
        if module.startswith(f"{package}.api"):
            assert module == tag_module
            snake = {"".join(f"_{c.lower()}" if c.isupper() else c for c in o) for o in operations}
            assert name in snake, name
        else:
            assert module.startswith((f"{package}.models.", f"{package}.types")), module
    # Each pinned place exists, and holds a $ref to the pinned component, in the committed slice.
    index = sd._index(SLICE, "the slice")
    for name, (operation_id, group, path) in pins.models.items():
        assert (group, path) in sd.flatten(SLICE, index[operation_id]), name
        holder, key = vs._schema_place(SLICE, (operation_id, group, path))
        assert holder[key] == {"$ref": f"#/components/schemas/{name}"}
    for item in SLICE["paths"].values():
        assert item["get"]["tags"] == [pins.tag]


def pinned_slice(change: Callable[[Document], None]) -> Document:
    document = full_spec(None)
    change(document)
    operations = vs.read_operations(ROOT / "openapi" / "operations.txt")
    sliced: Document = vs.slice_spec(document, operations)
    vs.pin_names(sliced, operations, sd.load_wrapper_fields(WRAPPER_FIELDS).pins)
    return sliced


def test_a_component_taking_a_pinned_name_moves_aside() -> None:
    def change(document: Document) -> None:
        rename_schema("EntitlementLimits", "Limits")(document)
        # Upstream reuses the name for something else the listing record refers to.
        schemas(document)["EntitlementLimits"] = {"type": "object", "properties": {}}
        organization = schemas(document)["AdminGetOrganizationsResponseOrganizationsItem"]
        organization["properties"]["plan"] = {"$ref": "#/components/schemas/EntitlementLimits"}

    sliced = pinned_slice(change)
    names = schemas(sliced)
    assert names["EntitlementLimits"] == schemas(SLICE)["EntitlementLimits"]
    assert names["EntitlementLimitsUpstream"] == {"type": "object", "properties": {}}
    plan = names["AdminGetOrganizationsResponseOrganizationsItem"]["properties"]["plan"]
    assert plan == {"$ref": "#/components/schemas/EntitlementLimitsUpstream"}
    assert "Limits" not in names


def test_a_pinned_place_upstream_removed_is_left_to_the_report() -> None:
    def change(document: Document) -> None:
        info = schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]["properties"]
        del info["entitlementLimits"]

    sliced = pinned_slice(change)  # no error: spec-diff reports the removed field
    assert "EntitlementLimits" in schemas(sliced)  # still used by the listing record


def test_no_generate_labels_an_ok_verdict_unproven(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], generated_slices: list[str]
) -> None:
    case = Case(new_response_field, "compatible", OK)
    assert spec_diff(tmp_path, case, "--no-generate")[0] == OK
    assert "spec-diff: UNPROVEN (--no-generate): this verdict rests on the rules alone" in (
        capsys.readouterr().out
    )
    assert spec_diff(tmp_path, case, "--no-generate", "--json")[0] == OK
    assert json.loads(capsys.readouterr().out)["proof"] == "unproven"
    assert spec_diff(tmp_path, case, "--json")[0] == OK
    assert json.loads(capsys.readouterr().out)["proof"] == "proven: stand-in (0 s)"
    assert spec_diff(tmp_path, Case(None, "none", OK), "--json")[0] == OK
    assert json.loads(capsys.readouterr().out)["proof"] == "not needed"
    assert len(generated_slices) == 1


def test_a_failed_proof_is_breaking_with_its_first_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proof = importlib.import_module("proof")
    first = 'mypy --strict wrapper/: wrapper/ei_usage/_parse.py:604: "X" has no attribute "y"'
    monkeypatch.setattr(proof, "prove", lambda *_, **__: proof.Proof(first, "mypy", 30.0))
    assert spec_diff(tmp_path, Case(new_response_field, "compatible", OK))[0] == BREAKING
    out = capsys.readouterr().out
    assert f"BREAKING    proof: the wrapper fails against the regenerated client: {first}" in out
    assert "spec-diff: proof failed (30 s)" in out


def test_a_client_change_the_rules_do_not_classify_is_regenerate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DailyMetricsRecord inlined: no field changes, but the generated class is another one."""
    proof = importlib.import_module("proof")
    monkeypatch.setattr(proof, "prove", lambda *_, **__: proof.Proof(None, "tests", 20.0, "ok"))

    def inline_daily(document: Document) -> None:
        info = schemas(document)["AdminOrganizationInfoResponse"]["allOf"][2]["properties"]
        info["dailyMetrics"]["items"] = schemas(document).pop("DailyMetricsRecord")

    assert spec_diff(tmp_path, Case(inline_daily, "regenerate", OK), "--json")[0] == OK
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "regenerate"
    assert data["changes"][0]["change"] == (
        "the generated client changes where the wrapper does not look"
    )
