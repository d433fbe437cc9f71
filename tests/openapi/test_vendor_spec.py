"""Tests of openapi/tools/vendor_spec.py, the slicer that vendors part of the Edge Impulse spec."""

from __future__ import annotations

import copy
import difflib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import pytest
import yaml

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "openapi" / "tools" / "vendor_spec.py"
OPERATIONS = ROOT / "openapi" / "operations.txt"
COMMITTED = ROOT / "openapi" / "edge-impulse.yaml"
# The full spec comes from the `full_spec` fixture (conftest.py: $EI_FULL_SPEC or ../shared).
SEEDS = ROOT.parent / "shared" / "seeds"
NO_SEEDS = "../shared/seeds not present: the seed documents are not available in this checkout"

# The two operations the project was created from (the seed pages in ../shared/seeds).
SEED_OPERATIONS = ["getOrganizationMetrics", "whitelabelAdminGetOrganizationComputeTimeUsage"]
OUR_OPERATIONS = [
    "getOrganizationMetrics",
    "whitelabelAdminGetOrganizationComputeTimeUsage",
    "whitelabelAdminGetOrganizationInfo",
    "whitelabelAdminGetOrganizations",
]
METRICS_PATH = "/api/organizations/{organizationId}/metrics"
COMPUTE_TIME_PATH = (
    "/api/organizations/{organizationId}/whitelabel/organizations/{innerOrganizationId}"
    "/usage/computeTime"
)
SECURITY_SCHEMES = [
    "ApiKeyAuthentication",
    "JWTAuthentication",
    "JWTHttpHeaderAuthentication",
    "OAuth2",
]
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _import_slicer() -> ModuleType:
    # The script imports spec_diff from its own directory, as it does when run.
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("_vendor_spec_under_test", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while building the classes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


vs = _import_slicer()


# --- helpers -------------------------------------------------------------------------------


def mini_spec() -> dict[str, Any]:
    """A small OpenAPI document exercising every kind of reference the slicer follows."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Mini", "version": "1"},
        "servers": [{"url": "https://example.invalid/v1"}],
        "tags": [{"name": "Things"}],
        "paths": {
            "/things/{thingId}": {
                "parameters": [{"$ref": "#/components/parameters/ThingId"}],
                "get": {
                    "operationId": "getThing",
                    "description": "Get a thing.",
                    "security": [{"Key": []}],
                    "responses": {
                        "200": {"$ref": "#/components/responses/ThingResponse"},
                        "default": {
                            "description": "Error",
                            "headers": {"X-Rate": {"$ref": "#/components/headers/Rate"}},
                        },
                    },
                },
                "put": {
                    "operationId": "putThing",
                    "requestBody": {"$ref": "#/components/requestBodies/ThingBody"},
                    "responses": {"204": {"description": "Done"}},
                },
            },
            "/other": {
                "get": {
                    "operationId": "getOther",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Unused"}
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "Global": {"type": "apiKey", "in": "header", "name": "x-global"},
                "Key": {"type": "apiKey", "in": "header", "name": "x-key"},
                "Unused": {"type": "apiKey", "in": "cookie", "name": "unused"},
            },
            "parameters": {
                "ThingId": {
                    "name": "thingId",
                    "in": "path",
                    "required": True,
                    "schema": {"$ref": "#/components/schemas/Id"},
                },
                "UnusedParameter": {"name": "q", "in": "query", "schema": {"type": "string"}},
            },
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Thing"},
                        },
                        "meta": {
                            "type": "object",
                            "additionalProperties": {"$ref": "#/components/schemas/Meta"},
                        },
                        "kind": {"allOf": [{"$ref": "#/components/schemas/Kind"}]},
                    },
                },
                "Id": {"type": "integer"},
                "Meta": {"type": "string", "description": "Free text."},
                "Kind": {"type": "string", "enum": ["a", "b"]},
                "ThingInput": {
                    "type": "object",
                    "properties": {"shape": {"$ref": "#/components/schemas/Shape"}},
                },
                "Shape": {
                    "type": "object",
                    "properties": {"kind": {"type": "string"}},
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"circle": "#/components/schemas/Circle", "square": "Square"},
                    },
                },
                "Circle": {"type": "object", "properties": {"radius": {"type": "number"}}},
                "Square": {"type": "object", "properties": {"side": {"type": "number"}}},
                "Unused": {"type": "string"},
            },
            "responses": {
                "ThingResponse": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}
                    },
                }
            },
            "headers": {"Rate": {"schema": {"type": "integer"}}},
            "requestBodies": {
                "ThingBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ThingInput"}}
                    }
                }
            },
        },
        "security": [{"Global": []}],
    }


def write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_operations(path: Path, *operation_ids: str) -> Path:
    path.write_text("# test list\n" + "".join(f"{name}\n" for name in operation_ids))
    return path


def references(node: Any) -> Iterator[str]:
    """Every `$ref` value in a document, found independently of the slicer's own walk."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolve(document: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = document
    for token in ref[2:].split("/"):
        token = unquote(token).replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert token in node, ref
        node = node[token]
    return node


def without_extensions(node: Any, where: tuple[str, ...], stripped: list[tuple[str, ...]]) -> Any:
    """Copy `node` without `x-` keys, recording where each dropped key was."""
    if isinstance(node, dict):
        kept = {}
        for key, value in node.items():
            if isinstance(key, str) and key.startswith("x-"):
                stripped.append((*where, key))
            else:
                kept[key] = without_extensions(value, (*where, str(key)), stripped)
        return kept
    if isinstance(node, list):
        return [without_extensions(item, where, stripped) for item in node]
    return node


def where(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character position."""
    return text.count("\n", 0, position) + 1, position - text.rfind("\n", 0, position)


def seed_documents() -> list[dict[str, Any]]:
    documents = []
    for seed in sorted(SEEDS.glob("*.txt")):
        blocks = re.findall(
            r"^````yaml [^\n]*\n(.*?)^````$", seed.read_text(encoding="utf-8"), re.S | re.M
        )
        assert len(blocks) == 1, f"{seed.name}: expected one yaml block, found {len(blocks)}"
        documents.append(yaml.load(blocks[0], Loader=_LOADER))
    return documents


def merge_seeds(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One document from the per-operation seed slices; anything they share must agree."""
    merged: dict[str, Any] = {"paths": {}, "components": {}}
    for document in documents:
        for key, value in document.items():
            if key == "paths":
                assert not set(value) & set(merged["paths"]), "two seeds hold the same path"
                merged["paths"].update(value)
            elif key == "components":
                for section, entries in value.items():
                    target = merged["components"].setdefault(section, {})
                    for name, entry in entries.items():
                        assert target.setdefault(name, entry) == entry, f"seeds differ on {name}"
            else:
                assert merged.setdefault(key, value) == value, f"seeds differ on {key}"
    return merged


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_source(full_spec: Path) -> Any:
    """The full Edge Impulse spec, parsed once for the module."""
    return vs.load_spec(full_spec)


@pytest.fixture(scope="module")
def full_slice(full_source: Any) -> dict[str, Any]:
    result: dict[str, Any] = vs.slice_spec(full_source.document, OUR_OPERATIONS)
    return result


# --- the committed slice ----------------------------------------------------------------------


def test_operations_file_lists_our_operations() -> None:
    assert vs.read_operations(OPERATIONS) == OUR_OPERATIONS


def test_committed_slice_is_what_the_slicer_makes(tmp_path: Path, full_spec: Path) -> None:
    output = tmp_path / "edge-impulse.yaml"
    result = vs.vendor(full_spec, OPERATIONS, output)
    assert result.changed
    stale = f"openapi/edge-impulse.yaml is stale: run make vendor-spec FROM={full_spec}"
    assert output.read_bytes() == COMMITTED.read_bytes(), stale


def test_committed_slice_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(yaml.safe_load(COMMITTED.read_text(encoding="utf-8")))


def test_committed_slice_holds_exactly_our_operations_and_resolves() -> None:
    document = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
    operations = [
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
    ]
    assert sorted(operations) == sorted(OUR_OPERATIONS)
    assert sorted(document["components"]["securitySchemes"]) == SECURITY_SCHEMES
    refs = set(references(document))
    assert refs, "the slice should use references"
    for ref in refs:
        resolve(document, ref)
    # Every component is reachable: nothing is vendored that the operations do not use.
    used = {tuple(ref.split("/")[2:4]) for ref in refs}
    used |= {("securitySchemes", name) for name in SECURITY_SCHEMES}
    vendored = {
        (section, name) for section, entries in document["components"].items() for name in entries
    }
    assert vendored == used


def test_committed_slice_starts_with_its_header() -> None:
    header = COMMITTED.read_text(encoding="utf-8").split("openapi:", 1)[0]
    assert "Vendored slice of the Edge Impulse OpenAPI spec" in header
    assert "openapi/operations.txt" in header
    assert "make vendor-spec FROM=" in header
    assert "Do not edit by hand" in header
    assert re.search(r"^# Source sha256: [0-9a-f]{64}$", header, re.M)


# --- the real spec against the seed documents -----------------------------------------------


def test_slice_of_full_spec_equals_the_seed_documents(full_source: Any) -> None:
    """A slice of the seed operations carries the same API as the two seed pages, merged.

    Differences tolerated, and only these:
    - `x-` extension keys: the docs pages drop them, the full spec has `x-middleware` on
      whitelabelAdminGetOrganizationComputeTimeUsage (asserted to be the only one);
    - the order of keys within mappings (the slicer sorts paths and component names and puts
      component sections in the specification's order; the pages keep the renderer's order).
    Everything else is compared strictly, lists (tags, parameters, required, enum, allOf,
    security) in order included.
    """
    if not SEEDS.is_dir():
        pytest.skip(NO_SEEDS)
    seeds = merge_seeds(seed_documents())
    seed_slice = vs.slice_spec(full_source.document, SEED_OPERATIONS)
    stripped_slice: list[tuple[str, ...]] = []
    stripped_seeds: list[tuple[str, ...]] = []
    ours = without_extensions(seed_slice, (), stripped_slice)
    theirs = without_extensions(seeds, (), stripped_seeds)
    assert stripped_slice == [("paths", COMPUTE_TIME_PATH, "get", "x-middleware")]
    assert stripped_seeds == []
    assert ours == theirs


# --- what may and may not reach the output ----------------------------------------------------


def test_unrelated_changes_to_the_full_spec_do_not_change_the_slice(
    full_source: Any, full_slice: dict[str, Any]
) -> None:
    modified = copy.deepcopy(full_source.document)
    paths = modified["paths"]
    schemas = modified["components"]["schemas"]
    kept_schemas = set(full_slice["components"]["schemas"])
    # Operations removed and added elsewhere, including a sibling on one of our paths.
    del paths["/api-login"]
    paths["/api/brand-new"] = {
        "get": {
            "operationId": "brandNew",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BrandNew"}}
                    },
                }
            },
        }
    }
    paths[METRICS_PATH]["post"] = {
        "operationId": "postOrganizationMetrics",
        "requestBody": {"$ref": "#/components/requestBodies/SiblingOnly"},
        "security": [{"UnrelatedScheme": []}],
        "responses": {"204": {"description": "Done"}},
    }
    # Descriptions changed everywhere outside our closure.
    for path, item in paths.items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") not in OUR_OPERATIONS:
                operation["description"] = f"changed {method} {path}"
    for name, schema in schemas.items():
        if name not in kept_schemas:
            schema["description"] = f"changed {name}"
    # New, unrelated components and top-level fields.
    schemas["BrandNew"] = {"type": "string"}
    schemas["Orphan"] = {"$ref": "#/components/schemas/GenericApiResponse"}
    modified["components"]["requestBodies"] = {
        "SiblingOnly": {"content": {"application/json": {"schema": {"type": "object"}}}}
    }
    modified["components"]["securitySchemes"]["UnrelatedScheme"] = {
        "type": "http",
        "scheme": "bearer",
    }
    modified["components"]["examples"] = {"Unused": {"value": 1}}
    modified["tags"] = [{"name": "Organizations", "description": "not vendored"}]
    modified["externalDocs"] = {"url": "https://example.invalid"}

    sliced = vs.slice_spec(modified, OUR_OPERATIONS)
    assert sliced == full_slice
    sha = full_source.sha256
    assert vs.render(sliced, source_sha256=sha) == vs.render(full_slice, source_sha256=sha)


def test_changed_description_inside_the_closure_is_a_one_line_diff(
    full_source: Any, full_slice: dict[str, Any]
) -> None:
    modified = copy.deepcopy(full_source.document)
    success = modified["components"]["schemas"]["GenericApiResponse"]["properties"]["success"]
    success["description"] = "Whether the call succeeded"
    before = vs.render(full_slice, source_sha256=full_source.sha256).splitlines()
    after = vs.render(
        vs.slice_spec(modified, OUR_OPERATIONS), source_sha256=full_source.sha256
    ).splitlines()
    changes = [
        line
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changes == [
        "-          description: Whether the operation succeeded",
        "+          description: Whether the call succeeded",
    ]


def test_slice_keeps_the_operation_and_path_level_fields_only() -> None:
    source = mini_spec()
    sliced = vs.slice_spec(source, ["getThing"])
    components = source["components"]
    assert sliced == {
        "openapi": "3.0.3",
        "info": source["info"],
        "servers": source["servers"],
        "security": source["security"],
        "paths": {
            "/things/{thingId}": {
                "parameters": source["paths"]["/things/{thingId}"]["parameters"],
                "get": source["paths"]["/things/{thingId}"]["get"],
            }
        },
        "components": {
            "schemas": {
                name: components["schemas"][name] for name in ["Id", "Kind", "Meta", "Thing"]
            },
            "responses": components["responses"],
            "parameters": {"ThingId": components["parameters"]["ThingId"]},
            "headers": components["headers"],
            "securitySchemes": {
                name: components["securitySchemes"][name] for name in ["Global", "Key"]
            },
        },
    }
    # Sections in the specification's order, names sorted, and nothing shared with the source.
    assert list(sliced["components"]) == [
        "schemas",
        "responses",
        "parameters",
        "headers",
        "securitySchemes",
    ]
    assert list(sliced["components"]["schemas"]) == ["Id", "Kind", "Meta", "Thing"]
    sliced["components"]["schemas"]["Id"]["type"] = "string"
    assert source == mini_spec()


def test_slice_follows_request_bodies_and_discriminator_mappings_and_sorts_paths() -> None:
    sliced = vs.slice_spec(mini_spec(), ["putThing", "getOther", "getThing"])
    assert list(sliced["paths"]) == ["/other", "/things/{thingId}"]
    assert list(sliced["paths"]["/things/{thingId}"]) == ["parameters", "get", "put"]
    assert list(sliced["components"]["schemas"]) == [
        "Circle",
        "Id",
        "Kind",
        "Meta",
        "Shape",
        "Square",
        "Thing",
        "ThingInput",
        "Unused",
    ]
    assert list(sliced["components"]["requestBodies"]) == ["ThingBody"]


def test_self_referencing_schemas_terminate() -> None:
    source = mini_spec()
    schemas = source["components"]["schemas"]
    # Thing already refers to itself; add a two-schema cycle too.
    schemas["Meta"] = {
        "type": "object",
        "properties": {"back": {"$ref": "#/components/schemas/Loop"}},
    }
    schemas["Loop"] = {"type": "array", "items": {"$ref": "#/components/schemas/Meta"}}
    sliced = vs.slice_spec(source, ["getThing"])
    assert list(sliced["components"]["schemas"]) == ["Id", "Kind", "Loop", "Meta", "Thing"]


def test_sliced_mini_spec_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(vs.slice_spec(mini_spec(), ["getThing", "putThing"]))


# --- output format ----------------------------------------------------------------------------


def test_vendoring_twice_gives_identical_bytes_and_leaves_the_file_alone(tmp_path: Path) -> None:
    spec = write_yaml(tmp_path / "spec.yml", mini_spec())
    operations = write_operations(tmp_path / "operations.txt", "getThing", "putThing")
    output = tmp_path / "out.yaml"
    first = vs.vendor(spec, operations, output)
    content = output.read_bytes()
    stamp = output.stat().st_mtime_ns
    second = vs.vendor(spec, operations, output)
    assert first.changed
    assert not second.changed
    assert output.read_bytes() == content
    assert output.stat().st_mtime_ns == stamp
    assert (first.operations, first.components) == (2, 14)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["operations.txt", "out.yaml", "spec.yml"]


def test_render_records_the_source_and_round_trips() -> None:
    sliced = vs.slice_spec(mini_spec(), ["getThing"])
    sliced["components"]["schemas"]["Meta"]["description"] = "Free text,\nover two lines — é."
    text = vs.render(sliced, source_sha256="ab" * 32)
    assert text.startswith("# Vendored slice of the Edge Impulse OpenAPI spec")
    assert f"# Source sha256: {'ab' * 32}\n" in text
    assert "description: |-\n" in text
    assert "— é" in text
    assert "&id" not in text
    assert yaml.safe_load(text) == sliced
    assert vs.render(sliced, source_sha256="ab" * 32) == text


def test_header_records_the_sha256_of_the_source_file_bytes(tmp_path: Path) -> None:
    import hashlib

    spec = tmp_path / "spec.yml"
    spec.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(mini_spec()).encode())
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    output = tmp_path / "out.yaml"
    vs.vendor(spec, operations, output)
    sha = hashlib.sha256(spec.read_bytes()).hexdigest()
    assert f"# Source sha256: {sha}\n" in output.read_text(encoding="utf-8")


# --- control characters ---------------------------------------------------------------------


def test_strip_control_characters_reports_line_and_column() -> None:
    text, removed = vs.strip_control_characters("a\x08b\n\tc\x7f\r\nd\x85e\x9f\nok\x00")
    assert text == "ab\n\tc\r\nde\nok"
    assert [(r.line, r.column, r.codepoint) for r in removed] == [
        (1, 2, 0x08),
        (2, 3, 0x7F),
        (3, 2, 0x85),
        (3, 4, 0x9F),
        (4, 3, 0x00),
    ]
    assert str(removed[0]) == "line 1 col 2: removed control character U+0008"


def test_control_character_warnings_are_capped() -> None:
    _, removed = vs.strip_control_characters("\x01" * 25)
    lines = vs.control_character_warnings(removed)
    assert len(lines) == 21
    assert lines[0] == "line 1 col 1: removed control character U+0001"
    assert lines[-1] == "5 more control characters removed"


def test_control_character_in_our_description_is_removed_with_a_warning(
    tmp_path: Path,
) -> None:
    text = yaml.safe_dump(mini_spec(), sort_keys=False).replace(
        "Get a thing.", "Get a\x08 thing.\x7f"
    )
    line, column = where(text, text.index("\x08"))
    spec = tmp_path / "spec.yml"
    spec.write_text(text, encoding="utf-8")
    output = tmp_path / "out.yaml"
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    warnings: list[str] = []
    vs.vendor(spec, operations, output, warn=warnings.append)
    assert warnings == [
        f"line {line} col {column}: removed control character U+0008",
        f"line {line} col {column + 8}: removed control character U+007F",
    ]
    written = output.read_text(encoding="utf-8")
    assert not CONTROL_CHARACTERS.search(written)
    assert yaml.safe_load(written)["paths"]["/things/{thingId}"]["get"]["description"] == (
        "Get a thing."
    )


def test_control_character_in_the_full_spec_is_removed(tmp_path: Path, full_spec: Path) -> None:
    text = full_spec.read_text(encoding="utf-8")
    marker = "description: Get general metrics for this organization."
    assert text.count(marker) == 1
    position = text.index(marker) + len("description: Get general")
    broken = text[:position] + "\x08" + text[position:]
    line, column = where(broken, position)
    spec = tmp_path / "spec.yml"
    spec.write_text(broken, encoding="utf-8")
    output = tmp_path / "out.yaml"
    warnings: list[str] = []
    vs.vendor(spec, OPERATIONS, output, warn=warnings.append)
    assert warnings == [f"line {line} col {column}: removed control character U+0008"]
    written = output.read_text(encoding="utf-8")
    assert not CONTROL_CHARACTERS.search(written)
    # Only the recorded sha256 of the source differs from the clean slice.
    sha_line = re.compile(r"^# Source sha256: .*$", re.M)
    assert sha_line.sub("", written) == sha_line.sub("", COMMITTED.read_text(encoding="utf-8"))


# --- errors -----------------------------------------------------------------------------------


def _break_unresolved_in_operation(doc: dict[str, Any]) -> None:
    doc["paths"]["/things/{thingId}"]["get"]["responses"]["200"]["$ref"] = (
        "#/components/responses/Nope"
    )


def _break_unresolved_in_component(doc: dict[str, Any]) -> None:
    meta = doc["components"]["schemas"]["Thing"]["properties"]["meta"]
    meta["additionalProperties"]["$ref"] = "#/components/schemas/Missing"


def _break_unresolved_pointer(doc: dict[str, Any]) -> None:
    doc["components"]["parameters"]["ThingId"]["schema"]["$ref"] = (
        "#/components/schemas/Thing/properties/nope"
    )


def _break_external(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["Kind"] = {"$ref": "common.yaml#/components/schemas/Kind"}


def _break_outside_components(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["Kind"] = {"$ref": "#/paths/~1other"}


def _break_duplicate_operation_id(doc: dict[str, Any]) -> None:
    doc["paths"]["/other"]["get"]["operationId"] = "getThing"


def _break_security_scheme(doc: dict[str, Any]) -> None:
    doc["paths"]["/things/{thingId}"]["get"]["security"] = [{"Nope": []}]


def _break_top_level_security(doc: dict[str, Any]) -> None:
    doc["security"] = [{"Gone": []}]


@pytest.mark.parametrize(
    ("breaker", "expected"),
    [
        (
            _break_unresolved_in_operation,
            "unresolved $ref '#/components/responses/Nope' in operation getThing "
            "(GET /things/{thingId})",
        ),
        (
            _break_unresolved_in_component,
            "unresolved $ref '#/components/schemas/Missing' in #/components/schemas/Thing",
        ),
        (
            _break_unresolved_pointer,
            "unresolved $ref '#/components/schemas/Thing/properties/nope' "
            "in #/components/parameters/ThingId",
        ),
        (
            _break_external,
            "external $ref 'common.yaml#/components/schemas/Kind' in #/components/schemas/Kind",
        ),
        (_break_outside_components, "unsupported $ref '#/paths/~1other'"),
        (
            _break_duplicate_operation_id,
            "operationId 'getThing' appears more than once: GET /things/{thingId} and GET /other",
        ),
        (
            _break_security_scheme,
            "security scheme 'Nope' required by operation getThing (GET /things/{thingId}) "
            "is not defined",
        ),
        (_break_top_level_security, "security scheme 'Gone' required by the top-level security"),
    ],
)
def test_broken_references_are_errors(
    breaker: Callable[[dict[str, Any]], None], expected: str
) -> None:
    document = mini_spec()
    breaker(document)
    with pytest.raises(vs.SpecError) as caught:
        vs.slice_spec(document, ["getThing"])
    assert expected in str(caught.value)


def test_unknown_operation_suggests_close_matches() -> None:
    with pytest.raises(vs.SpecError) as caught:
        vs.slice_spec(mini_spec(), ["getThign"])
    assert str(caught.value) == (
        "operationId 'getThign' not found in the spec; did you mean 'getThing' or 'putThing'?"
    )


def test_unknown_operation_without_close_matches() -> None:
    with pytest.raises(vs.SpecError) as caught:
        vs.slice_spec(mini_spec(), ["listEverythingEverywhere"])
    assert str(caught.value) == "operationId 'listEverythingEverywhere' not found in the spec"


def test_unknown_operation_in_the_full_spec(full_source: Any) -> None:
    with pytest.raises(vs.SpecError, match="did you mean 'getOrganizationMetrics'"):
        vs.slice_spec(full_source.document, ["getOrganisationMetrics"])


def test_no_operations_is_an_error() -> None:
    with pytest.raises(vs.SpecError, match="no operations"):
        vs.slice_spec(mini_spec(), [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
            "is a Swagger 2.0 document",
        ),
        ("info: {title: t, version: '1'}\npaths: {}\n", "has no 'openapi' key"),
        ("openapi: 2.0.0\npaths: {}\n", "declares openapi '2.0.0'; only OpenAPI 3.x"),
        ("openapi: 3.0\npaths: {}\n", "declares openapi 3.0; only OpenAPI 3.x"),
        ("openapi: 3.0.0\ninfo: {title: t, version: '1'}\n", "has no 'paths' mapping"),
        ("- openapi: 3.0.0\n", "its top level is a list, not a mapping"),
        ("just text\n", "its top level is a str, not a mapping"),
        ("", "is empty: not an OpenAPI document"),
    ],
)
def test_documents_that_are_not_openapi_3_are_errors(
    tmp_path: Path, text: str, expected: str
) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text(text, encoding="utf-8")
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    with pytest.raises(vs.SpecError) as caught:
        vs.vendor(spec, operations, tmp_path / "out.yaml")
    assert str(spec) in str(caught.value)
    assert expected in str(caught.value)


def test_yaml_that_does_not_parse_names_line_and_column(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text("openapi: 3.0.0\npaths: {}\nfoo: bar: baz\n", encoding="utf-8")
    with pytest.raises(vs.SpecError) as caught:
        vs.load_spec(spec)
    message = str(caught.value)
    assert message.startswith(f"{spec} is not valid YAML: at line 3, column 9: mapping values")


def test_spec_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    content = b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n"
    spec.write_bytes(content)
    offset = content.index(b"\xe9")
    with pytest.raises(vs.SpecError, match=f"is not UTF-8: invalid byte at offset {offset}$"):
        vs.load_spec(spec)


def test_bom_is_ignored(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(mini_spec()).encode())
    assert vs.load_spec(spec).document == mini_spec()


def test_missing_or_unreadable_spec_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(vs.SpecError) as caught:
        vs.load_spec(missing)
    assert str(caught.value) == f"cannot read spec {missing}: No such file or directory"
    with pytest.raises(vs.SpecError, match=f"cannot read spec {re.escape(str(tmp_path))}: "):
        vs.load_spec(tmp_path)


def test_operations_file_format(tmp_path: Path) -> None:
    path = tmp_path / "operations.txt"
    path.write_text("# header\n\n  getThing   # trailing comment\nputThing\n   \n#getOther\n")
    assert vs.read_operations(path) == ["getThing", "putThing"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "cannot read operations file {path}: No such file or directory"),
        ("", "operations file {path} lists no operations"),
        ("# only a comment\n\n", "operations file {path} lists no operations"),
        (
            "getThing putThing\n",
            "{path}:1: expected one operationId per line, got 'getThing putThing'",
        ),
        ("getThing\n# again\ngetThing\n", "{path}:3: operationId 'getThing' is listed twice"),
    ],
)
def test_bad_operations_files_are_errors(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "operations.txt"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(vs.SpecError) as caught:
        vs.read_operations(path)
    assert str(caught.value) == expected.format(path=path)


# --- atomic output ----------------------------------------------------------------------------


def _spec_with_unknown_operation(tmp_path: Path) -> tuple[Path, Path]:
    spec = write_yaml(tmp_path / "spec.yml", mini_spec())
    return spec, write_operations(tmp_path / "operations.txt", "getThing", "nope")


def _spec_with_unresolved_ref(tmp_path: Path) -> tuple[Path, Path]:
    document = mini_spec()
    _break_unresolved_in_component(document)
    spec = write_yaml(tmp_path / "spec.yml", document)
    return spec, write_operations(tmp_path / "operations.txt", "getThing")


def _spec_that_does_not_parse(tmp_path: Path) -> tuple[Path, Path]:
    spec = tmp_path / "spec.yml"
    spec.write_text("openapi: [\n", encoding="utf-8")
    return spec, write_operations(tmp_path / "operations.txt", "getThing")


def _spec_missing(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "spec.yml", write_operations(tmp_path / "operations.txt", "getThing")


def _operations_missing(tmp_path: Path) -> tuple[Path, Path]:
    return write_yaml(tmp_path / "spec.yml", mini_spec()), tmp_path / "operations.txt"


@pytest.mark.parametrize(
    "setup",
    [
        _spec_with_unknown_operation,
        _spec_with_unresolved_ref,
        _spec_that_does_not_parse,
        _spec_missing,
        _operations_missing,
    ],
)
def test_errors_leave_the_output_untouched(
    tmp_path: Path, setup: Callable[[Path], tuple[Path, Path]]
) -> None:
    output = tmp_path / "out.yaml"
    output.write_text("previous slice\n", encoding="utf-8")
    spec, operations = setup(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(vs.SpecError):
        vs.vendor(spec, operations, output)
    assert output.read_text(encoding="utf-8") == "previous slice\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_failed_write_leaves_the_output_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_yaml(tmp_path / "spec.yml", mini_spec())
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    output = tmp_path / "out.yaml"
    output.write_text("previous slice\n", encoding="utf-8")

    def refuse(source: str, target: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(vs.os, "replace", refuse)
    with pytest.raises(vs.SpecError, match=f"cannot write {re.escape(str(output))}: Permission"):
        vs.vendor(spec, operations, output)
    monkeypatch.undo()
    assert output.read_text(encoding="utf-8") == "previous slice\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["operations.txt", "out.yaml", "spec.yml"]


def test_output_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    spec = write_yaml(tmp_path / "spec.yml", mini_spec())
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    output = tmp_path / "missing" / "out.yaml"
    with pytest.raises(vs.SpecError, match=f"cannot write {re.escape(str(output))}"):
        vs.vendor(spec, operations, output)


# --- command line -----------------------------------------------------------------------------


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_cli_error_exits_1_with_one_line_on_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    output = tmp_path / "out.yaml"
    result = run_cli("--from", missing, "--output", output)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"vendor-spec: error: cannot read spec {missing}: No such file or directory\n"
    )
    assert not output.exists()


def test_cli_reports_spec_errors_without_traceback(tmp_path: Path) -> None:
    spec = write_yaml(tmp_path / "spec.yml", mini_spec())
    operations = write_operations(tmp_path / "operations.txt", "getThign")
    result = run_cli("--from", spec, "--operations", operations, "--output", tmp_path / "o.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith("vendor-spec: error: operationId 'getThign' not found")
    assert "Traceback" not in result.stderr


def test_cli_writes_the_slice_and_warns_about_control_characters(tmp_path: Path) -> None:
    text = yaml.safe_dump(mini_spec(), sort_keys=False).replace("Get a thing.", "Get a\x08 thing.")
    line, column = where(text, text.index("\x08"))
    spec = tmp_path / "spec.yml"
    spec.write_text(text, encoding="utf-8")
    operations = write_operations(tmp_path / "operations.txt", "getThing")
    output = tmp_path / "out.yaml"
    # Not ei-usage's operations: nothing to prove the wrapper against.
    result = run_cli(
        "--from", spec, "--operations", operations, "--output", output, "--no-generate"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"vendor-spec: warning: line {line} col {column}: removed control character U+0008\n"
    )
    # No previous slice: the report compares with nothing, so the operation is new.
    assert result.stdout == (
        f"vendor-spec: changes to our operations, {output} -> {spec}:\n"
        "  compatible  getThing: operation added (GET /things/{thingId})\n"
        "vendor-spec: compatible: 1 change, none breaking for users of the wrapper\n"
        "vendor-spec: UNPROVEN (--no-generate): this verdict rests on the rules alone; without "
        "--no-generate the client is regenerated and the wrapper type-checked and tested "
        "against it\n"
        f"vendor-spec: wrote {output} (operations: 1, components: 9)\n"
    )
    assert yaml.safe_load(output.read_text(encoding="utf-8"))["paths"]
    again = run_cli("--from", spec, "--operations", operations, "--output", output)
    assert again.stdout == (
        "vendor-spec: no changes to our operations\n"
        f"vendor-spec: up to date: {output} (operations: 1, components: 9)\n"
    )


def test_cli_requires_from() -> None:
    result = run_cli()
    assert result.returncode == 2
    assert "--from" in result.stderr
