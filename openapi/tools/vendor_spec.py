"""Slice the full Edge Impulse OpenAPI spec down to the operations this project vendors.

Edge Impulse publishes one OpenAPI 3.0 document with hundreds of operations; this project uses
only those listed in ``openapi/operations.txt``. This script copies those operations, and exactly
the components they reach, into ``openapi/edge-impulse.yaml``, which the client generator reads::

    python openapi/tools/vendor_spec.py --from SPEC [--operations FILE] [--output FILE]
        [--wrapper-fields FILE] [--dry-run [--json]]

(or ``make vendor-spec FROM=path/to/openapi.yml``, then ``make generate``). The operations list
defaults to ``openapi/operations.txt`` and the output to ``openapi/edge-impulse.yaml``.

Before writing, it prints what changed for our operations between the existing output and the new
slice, each change tagged breaking or compatible for users of the wrapper (``spec_diff.py`` has
the rules; ``openapi/wrapper-fields.yaml`` says what the wrapper uses), then a one-line verdict,
and warns on stderr when something is breaking. It still exits 0 then, so that
``make vendor-spec && make generate`` goes on: the report is for the person reviewing the change.

``--dry-run`` (``make spec-diff FROM=...``) slices in memory, prints the same report and writes
nothing; ``--json`` prints the report as JSON instead (an error as a JSON object too). Its exit
status is the verdict, for CI (:data:`VERDICTS_HELP`, ``--help``): 0 no change, compatible, or
regenerate (wrapper unaffected); 4 breaking; 1 error (no verdict); 2 usage error. Before an OK
verdict on a slice that would change (and before ``make vendor-spec`` reports one), it proves it
(``proof.prove``; ``--no-generate`` skips it, and the verdict is then labelled unproven): in a
temporary tree, it regenerates the client, imports the wrapper against it, runs
``mypy --strict`` on ``wrapper/`` and the fast wrapper tests; a failure is breaking, with the
first error. The slicer pins the generated names the wrapper imports (:func:`pin_names`), so
upstream tags and component names cannot move them.

What the input is comes first: an empty file, a JSON error body, a Swagger 2.0 file or a document
without ``paths`` is an error naming the file, not a report of every operation removed. Input is
bounded: a file over :data:`MAX_SPEC_BYTES` is refused unread, and a document whose YAML aliases
expand to over :data:`MAX_SPEC_NODES` nodes is refused right after parsing
(:func:`check_expansion`).

What reaches the output: ``openapi``, ``info``, ``servers`` and the top-level ``security``; under
``paths`` each listed operation with its path item's shared fields (``parameters``, ``servers``,
``summary``, ...) but none of the path's other operations; under ``components`` the transitive
closure of every ``$ref`` and discriminator mapping in them, plus the security schemes named by
the top-level and the operations' ``security`` requirements. Nothing else from the source does.

The output is deterministic, so that an upstream change is a small readable diff: paths sorted,
component sections in the order the OpenAPI specification lists them, names sorted within a
section, keys inside an object in source order, and a header carrying the sha256 of the source.
It is written atomically (temporary file, then ``os.replace``) and only once everything succeeded:
on any error the existing output is left untouched.

Control characters: published copies of the spec have carried stray control characters inside
description text, and PyYAML refuses to load them. They carry no meaning in an API description,
so instead of refusing to vendor over a cosmetic upstream defect, the slicer removes C0 controls
other than tab, LF and CR, DEL, and C1 controls (U+0080-U+009F) before parsing, and warns once per
removed character with its line and column (at most 20 lines, then a count) so the defect stays
visible and can be reported upstream.

Limits: only local references into ``#/components/`` are followed; external references are an
error, since the slice must stand alone. A ``$ref`` key whose value is a string counts as a
reference wherever it appears, even inside a literal example.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import difflib
import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import proof
import yaml

# This script's directory is on sys.path when it runs; the tests put it there to import it.
from spec_diff import (
    BREAKING,
    HTTP_METHODS,
    REGENERATE,
    Change,
    Pins,
    Report,
    SpecDiffError,
    WrapperFields,
    diff,
    load_wrapper_fields,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OPERATIONS = REPO_ROOT / "openapi" / "operations.txt"
DEFAULT_OUTPUT = REPO_ROOT / "openapi" / "edge-impulse.yaml"
DEFAULT_WRAPPER_FIELDS = REPO_ROOT / "openapi" / "wrapper-fields.yaml"
GENERATOR_CONFIG = REPO_ROOT / "generator-config.yaml"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BREAKING = 4

# The order in which the OpenAPI 3.0 specification lists the Components Object's fields.
COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
)
MAX_CONTROL_WARNINGS = 20
YAML_WIDTH = 88
# Bounds on the input, checked before it is used: the full spec is about 1 MB and 58,000 nodes.
MAX_SPEC_BYTES = 8 * 1024 * 1024
"""A spec file larger than this is refused unread (8 MiB, eight times today's full spec)."""
MAX_SPEC_NODES = 2_000_000
"""A spec whose YAML aliases expand to more nodes than this is refused (an alias bomb)."""
GENERATE_TIMEOUT_SECONDS = 120.0
"""How long the generator may take on a new slice (it takes about 2 s)."""

_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The full spec is about 32k lines: libyaml parses it in well under a second, pure Python
# takes several. Both build the same data.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_HEADER = """\
# Vendored slice of the Edge Impulse OpenAPI spec: the operations listed in
# {operations_file} and exactly the components they reference.
# Made by `make vendor-spec FROM=path/to/openapi.yml` (openapi/tools/vendor_spec.py).
# Do not edit by hand: change the operations list or slice a newer spec, then `make generate`.
# Source sha256: {sha256}
"""


class SpecError(Exception):
    """The spec or the operations list cannot be sliced; the message says why and where."""


@dataclass(frozen=True)
class RemovedCharacter:
    """A control character removed from the source text before parsing.

    Attributes:
        line: 1-based line in the source file.
        column: 1-based column (in characters) in that line.
        codepoint: The removed character's code point.

    """

    line: int
    column: int
    codepoint: int

    def __str__(self) -> str:
        where = f"line {self.line} col {self.column}"
        return f"{where}: removed control character U+{self.codepoint:04X}"


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source spec.

    Attributes:
        document: The parsed YAML, not yet checked to be an OpenAPI document.
        sha256: Hex digest of the source file's bytes, as read.
        removed: Control characters removed before parsing.

    """

    document: Any
    sha256: str
    removed: tuple[RemovedCharacter, ...]


@dataclass(frozen=True)
class VendorResult:
    """What a vendoring run did.

    Attributes:
        output: The output file.
        operations: Number of operations vendored.
        components: Number of components vendored, all sections together.
        changed: False when the output already held exactly this text (and was not rewritten).
        content_changed: False when the output differed at most in its leading comment header
            (the source's sha256): the slice itself is the same.
        report: What changed for our operations; None when the existing output could not be
            compared (a warning said why).
        dry_run: True when nothing was written (``changed`` says what writing would do).
        proof: Whether an OK verdict was proven: :data:`PROVEN` (with what ran), :data:`FAILED`,
            :data:`UNPROVEN` (``--no-generate``) or :data:`NOT_NEEDED`.

    """

    output: Path
    operations: int
    components: int
    changed: bool
    content_changed: bool = True
    report: Report | None = None
    dry_run: bool = False
    proof: str = "not needed"


def strip_control_characters(text: str) -> tuple[str, list[RemovedCharacter]]:
    """Remove the control characters PyYAML cannot load.

    Args:
        text: The source text.

    Returns:
        The text without C0 controls (except tab, LF, CR), DEL and C1 controls, and where each
        removed character was.

    """
    removed: list[RemovedCharacter] = []
    line, line_start, scanned = 1, 0, 0
    for match in _CONTROL_CHARACTERS.finditer(text):
        position = match.start()
        newlines = text.count("\n", scanned, position)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, position) + 1
        scanned = position
        removed.append(RemovedCharacter(line, position - line_start + 1, ord(match.group())))
    if not removed:
        return text, removed
    return _CONTROL_CHARACTERS.sub("", text), removed


def control_character_warnings(
    removed: Sequence[RemovedCharacter], limit: int = MAX_CONTROL_WARNINGS
) -> list[str]:
    """Describe removed control characters: one line each, at most ``limit`` lines plus a count."""
    lines = [str(character) for character in removed[:limit]]
    if len(removed) > limit:
        lines.append(f"{len(removed) - limit} more control characters removed")
    return lines


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def read_operations(path: Path) -> list[str]:
    """Read the list of operationIds to vendor.

    Args:
        path: A text file with one operationId per line; ``#`` starts a comment.

    Returns:
        The operationIds, in file order.

    Raises:
        SpecError: The file cannot be read, a line holds more than one word, an operationId is
            listed twice, or the file lists none.

    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read operations file {path}: {_reason(error)}") from error
    operation_ids: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if len(entry.split()) != 1:
            raise SpecError(f"{path}:{number}: expected one operationId per line, got {entry!r}")
        if entry in operation_ids:
            raise SpecError(f"{path}:{number}: operationId {entry!r} is listed twice")
        operation_ids.append(entry)
    if not operation_ids:
        raise SpecError(f"operations file {path} lists no operations")
    return operation_ids


def load_spec(path: Path) -> SourceSpec:
    """Read and parse a spec file, removing control characters first.

    Args:
        path: The full OpenAPI spec, YAML (or JSON) in UTF-8; a leading BOM is ignored.

    Returns:
        The parsed document with the source's sha256 and the removed control characters.

    Raises:
        SpecError: The file cannot be read, is not UTF-8, or does not parse.

    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        raise SpecError(f"cannot read spec {path}: {_reason(error)}") from error
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(
            f"{path} is over {MAX_SPEC_BYTES // (1024 * 1024)} MiB, the cap on a spec "
            "(the full Edge Impulse spec is about 1 MB): not read"
        )
    if not raw.strip():
        raise SpecError(f"{path} is empty: not an OpenAPI document")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(f"{path} is not UTF-8: invalid byte at offset {error.start}") from error
    text, removed = strip_control_characters(text.removeprefix("\ufeff"))
    try:
        document = yaml.load(text, Loader=_LOADER)  # noqa: S506 - the loader is a safe one
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = "; ".join(part for part in (error.context, error.problem) if part)
        raise SpecError(f"{path} is not valid YAML: at {where}: {problem}") from error
    except yaml.YAMLError as error:
        raise SpecError(f"{path} is not valid YAML: {error}") from error
    except RecursionError as error:
        raise SpecError(f"{path} nests too deeply to be an OpenAPI document") from error
    check_expansion(document, str(path))
    return SourceSpec(document, hashlib.sha256(raw).hexdigest(), tuple(removed))


def check_expansion(document: Any, source: str, limit: int = MAX_SPEC_NODES) -> None:
    """Refuse a document whose YAML aliases expand it beyond ``limit`` nodes, or into a loop.

    The YAML loaders (libyaml's CSafeLoader as well as the pure-Python SafeLoader) build each
    anchored node once and share it wherever an alias names it, so loading an alias bomb is
    cheap; walking the result (slicing, comparing, writing) is what would expand it, 10 aliases
    of 10 aliases ... into 10^9 nodes. This counts nodes as a walk would see them, each shared
    object once (so in linear time), and stops at the first count over ``limit``.

    Raises:
        SpecError: The document expands to over ``limit`` nodes or contains itself.

    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list):
            continue  # a scalar document
        children = list(node.values()) if isinstance(node, dict) else node
        key = id(node)
        if done:
            open_.discard(key)
            total = 1 + (len(node) if isinstance(node, dict) else 0)
            total += sum(sizes[id(c)] if isinstance(c, dict | list) else 1 for c in children)
            if total > limit:
                raise SpecError(
                    f"{source} expands to over {limit:,} YAML nodes through its aliases "
                    "(&anchor / *alias): refused (an alias bomb?)"
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_:
            raise SpecError(f"{source} has a YAML alias inside its own anchor (a loop): refused")
        open_.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, dict | list))


_ERROR_KEYS = frozenset({"success", "error", "message", "errors", "status", "detail", "title"})


def check_openapi3(document: Any, source: str) -> dict[str, Any]:
    """Check that ``document`` is an OpenAPI 3.x document with paths; say what it is if not.

    Raises:
        SpecError: It is empty, not a mapping, an error body, Swagger 2.0, another OpenAPI
            version, or has no ``paths`` mapping; the message names ``source``.

    """
    if document is None:
        raise SpecError(f"{source} is empty: not an OpenAPI document")
    if not isinstance(document, dict):
        kind = f"a {type(document).__name__}, not a mapping"
        raise SpecError(f"{source} is not an OpenAPI document: its top level is {kind}")
    if "openapi" not in document:
        if "swagger" in document:
            raise SpecError(
                f"{source} is a Swagger {document['swagger']} document, not OpenAPI 3.x; "
                "only OpenAPI 3.x is supported"
            )
        if document and set(map(str, document)) <= _ERROR_KEYS:
            body = json.dumps(document, default=str)
            body = body if len(body) <= 200 else f"{body[:200]}..."
            raise SpecError(
                f"{source} is an API error response, not an OpenAPI document: {body} "
                "(was the download refused?)"
            )
        raise SpecError(f"{source} has no 'openapi' key: not an OpenAPI 3.x document")
    version = document["openapi"]
    if not isinstance(version, str) or not version.startswith("3."):
        raise SpecError(f"{source} declares openapi {version!r}; only OpenAPI 3.x is supported")
    if not isinstance(document.get("paths"), dict):
        raise SpecError(f"{source} has no 'paths' mapping: an OpenAPI document without operations")
    return document


_check_openapi3 = check_openapi3


def _index_operations(paths: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    index: dict[str, list[tuple[str, str]]] = {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                index.setdefault(operation["operationId"], []).append((path, method))
    return index


def _references(node: Any) -> Iterator[str]:
    """Yield every reference in ``node``: ``$ref`` values and discriminator mapping targets."""
    # Iterative, so that deeply nested schemas cannot hit the recursion limit.
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str):
                yield ref
            discriminator = current.get("discriminator")
            if isinstance(discriminator, dict) and isinstance(discriminator.get("mapping"), dict):
                for target in discriminator["mapping"].values():
                    if not isinstance(target, str):
                        continue
                    # A mapping value is a reference or, if it has no '/' or '#', a schema name.
                    is_name = "/" not in target and "#" not in target
                    yield f"#/components/schemas/{target}" if is_name else target
            stack.extend(reversed(current.values()))
        elif isinstance(current, list):
            stack.extend(reversed(current))


def _component_of(ref: str, user: str, components: Mapping[str, Any]) -> tuple[str, str]:
    """Check that ``ref`` resolves and return the (section, name) of the component it is in."""
    if not ref.startswith("#"):
        raise SpecError(
            f"external $ref {ref!r} in {user}: only references within the spec are supported"
        )
    if not ref.startswith("#/components/"):
        raise SpecError(f"unsupported $ref {ref!r} in {user}: only #/components/... is supported")
    # A JSON pointer in a URI fragment: percent-decode, then unescape ~1 before ~0 (RFC 6901).
    tokens = [unquote(token).replace("~1", "/").replace("~0", "~") for token in ref[2:].split("/")]
    if len(tokens) < 3:
        raise SpecError(f"unsupported $ref {ref!r} in {user}: it names no single component")
    node: Any = components
    for token in tokens[1:]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SpecError(f"unresolved $ref {ref!r} in {user}")
    return tokens[1], tokens[2]


def _section_order(section: str) -> tuple[int, str]:
    if section in COMPONENT_SECTIONS:
        return COMPONENT_SECTIONS.index(section), section
    return len(COMPONENT_SECTIONS), section


def slice_spec(
    document: Any, operation_ids: Sequence[str], source: str = "the spec"
) -> dict[str, Any]:
    """Cut the listed operations and everything they reference out of a full spec.

    Args:
        document: A parsed OpenAPI 3.x document; it is not modified.
        operation_ids: The operationIds to keep.
        source: How to name the document in error messages.

    Returns:
        A new, self-contained OpenAPI document sharing no objects with ``document``.

    Raises:
        SpecError: ``document`` is not OpenAPI 3.x, an operationId is missing or not unique,
            a reference is external or does not resolve, or a security scheme is not defined.

    """
    spec = _check_openapi3(document, source)
    if not operation_ids:
        raise SpecError("no operations to vendor")
    paths: dict[str, Any] = spec["paths"]
    index = _index_operations(paths)
    wanted: dict[str, set[str]] = {}
    for operation_id in operation_ids:
        locations = index.get(operation_id, [])
        if not locations:
            message = f"operationId {operation_id!r} not found in {source}"
            close = difflib.get_close_matches(operation_id, list(index), n=3)
            if close:
                message += f"; did you mean {' or '.join(repr(name) for name in close)}?"
            raise SpecError(message)
        if len(locations) > 1:
            where = " and ".join(f"{method.upper()} {path}" for path, method in locations)
            raise SpecError(f"operationId {operation_id!r} appears more than once: {where}")
        path, method = locations[0]
        wanted.setdefault(path, set()).add(method)

    out_paths: dict[str, Any] = {}
    # (who uses it, node): starting points of the reference walk, and of security requirements.
    roots: list[tuple[str, Any]] = []
    requirements: list[tuple[str, Any]] = [("the top-level security", spec.get("security"))]
    for path in sorted(wanted):
        kept: dict[str, Any] = {}
        for key, value in paths[path].items():
            if key in HTTP_METHODS:
                if key not in wanted[path]:
                    continue
                user = f"operation {value['operationId']} ({key.upper()} {path})"
                requirements.append((user, value.get("security")))
            else:
                user = f"path item {path}"
            kept[key] = value
            roots.append((user, value))
        out_paths[path] = kept

    components = spec.get("components")
    if not isinstance(components, dict):
        components = {}
    included: set[tuple[str, str]] = set()
    pending = list(reversed(roots))

    def include(section: str, name: str) -> None:
        if (section, name) not in included:
            included.add((section, name))
            pending.append((f"#/components/{section}/{name}", components[section][name]))

    schemes = components.get("securitySchemes")
    for user, requirement_list in requirements:
        if requirement_list is None:
            continue
        if not isinstance(requirement_list, list):
            raise SpecError(f"the security of {user} is not a list")
        for requirement in requirement_list:
            if not isinstance(requirement, dict):
                raise SpecError(f"the security of {user} holds a {type(requirement).__name__}")
            for scheme in requirement:
                if not isinstance(schemes, dict) or scheme not in schemes:
                    raise SpecError(
                        f"security scheme {scheme!r} required by {user} is not defined "
                        "in #/components/securitySchemes"
                    )
                include("securitySchemes", scheme)

    while pending:
        user, node = pending.pop()
        for ref in _references(node):
            include(*_component_of(ref, user, components))

    sliced: dict[str, Any] = {"openapi": spec["openapi"]}
    for key in ("info", "servers", "security"):
        if key in spec:
            sliced[key] = spec[key]
    sliced["paths"] = out_paths
    if included:
        sections = sorted({section for section, _ in included}, key=_section_order)
        sliced["components"] = {
            section: {
                name: components[section][name]
                for name in sorted(name for part, name in included if part == section)
            }
            for section in sections
        }
    return copy.deepcopy(sliced)


# --- pinned generated names -----------------------------------------------------------------------

_SCHEMA_REF = "#/components/schemas/"
_PATH_STEP = re.compile(r"\[\]|\{\}|\.?([^.\[{]+)")


def _resolve_ref(document: Mapping[str, Any], node: Any) -> Any:
    """Follow a chain of local ``$ref``s (a cycle stops where it closes)."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        seen.add(node["$ref"])
        target: Any = document
        for token in node["$ref"].removeprefix("#/").split("/"):
            name = unquote(token).replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or name not in target:
                return None
            target = target[name]
        node = target
    return node


def _final_schema_name(document: Mapping[str, Any], node: Any) -> str | None:
    """The schema component a ``$ref`` (chain) ends at, or None if ``node`` is no reference."""
    name = None
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith(_SCHEMA_REF) or "/" in ref[len(_SCHEMA_REF) :] or ref in seen:
            return name
        seen.add(ref)
        name = ref[len(_SCHEMA_REF) :]
        node = document.get("components", {}).get("schemas", {}).get(name)
    return name


def _property_holder(document: Mapping[str, Any], node: Any, name: str) -> dict[str, Any] | None:
    """The ``properties`` mapping that defines ``name``, looking into allOf/oneOf/anyOf."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        schema = _resolve_ref(document, stack.pop())
        if not isinstance(schema, dict) or id(schema) in seen:
            continue
        seen.add(id(schema))
        properties = schema.get("properties")
        if isinstance(properties, dict) and name in properties:
            return properties
        for keyword in ("anyOf", "oneOf", "allOf"):
            parts = schema.get(keyword)
            stack.extend(reversed(parts) if isinstance(parts, list) else ())
    return None


def _schema_place(
    document: dict[str, Any], location: tuple[str, str, str]
) -> tuple[dict[str, Any], str] | None:
    """Find the mapping and key holding the schema at a pinned location, or None."""
    operation_id, group, path = location
    for path_item in document.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method) if isinstance(path_item, dict) else None
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                break
        else:
            continue
        break
    else:
        return None
    if group in ("path", "query", "header", "cookie"):
        holder = None
        for raw in [*(operation.get("parameters") or ()), *(path_item.get("parameters") or ())]:
            parameter = _resolve_ref(document, raw)
            if isinstance(parameter, dict) and (parameter.get("in"), parameter.get("name")) == (
                group,
                path,
            ):
                holder, path = parameter, ""
                break
    else:
        response = _resolve_ref(document, (operation.get("responses") or {}).get(group))
        content = response.get("content") if isinstance(response, dict) else None
        holder = None
        if isinstance(content, dict) and content:
            holder = content.get("application/json", content[sorted(content)[0]])
    if not isinstance(holder, dict) or "schema" not in holder:
        return None
    place: tuple[dict[str, Any], str] = (holder, "schema")
    for match in _PATH_STEP.finditer(path):
        step, node = match.group(0), place[0][place[1]]
        if step in ("[]", "{}"):
            target = _resolve_ref(document, node)
            keyword = "items" if step == "[]" else "additionalProperties"
            if not isinstance(target, dict) or not isinstance(target.get(keyword), dict):
                return None
            place = (target, keyword)
        else:
            properties = _property_holder(document, node, match.group(1))
            if properties is None:
                return None
            place = (properties, match.group(1))
    return place


def _rename_schema(document: dict[str, Any], old: str, new: str) -> None:
    """Rename a schema component and every reference to it (discriminator mappings included)."""
    schemas = document["components"]["schemas"]
    schemas[new] = schemas.pop(old)
    old_ref, new_ref = f"{_SCHEMA_REF}{old}", f"{_SCHEMA_REF}{new}"
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (ref == old_ref or ref.startswith(f"{old_ref}/")):
                node["$ref"] = new_ref + ref[len(old_ref) :]
            discriminator = node.get("discriminator")
            mapping = discriminator.get("mapping") if isinstance(discriminator, dict) else None
            if isinstance(mapping, dict):
                for key, target in mapping.items():
                    if target in (old, old_ref):
                        mapping[key] = new if target == old else new_ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def pin_names(document: dict[str, Any], operation_ids: Sequence[str], pins: Pins) -> None:
    """Pin the generated names the wrapper imports, in a slice (changed in place).

    Every vendored operation gets the tag ``pins.tag`` (openapi-python-client puts an operation's
    module under its first tag), and each pinned model's place becomes a ``$ref`` to a schema
    component of the pinned name: a component with another name is renamed (every reference
    follows), an inline schema is moved into the component, and a component already holding
    that name for something else moves aside, to ``<name>Upstream``. So an upstream tag change,
    component rename, or schema moved inline or out of line leaves the names the wrapper
    imports where they were (the generated client changes at most where the wrapper does not
    look). A place that is not in the document is left to spec-diff, which reports it.
    """
    if pins.tag:
        for path_item in document.get("paths", {}).values():
            for method in HTTP_METHODS:
                operation = path_item.get(method)
                if isinstance(operation, dict) and operation.get("operationId") in operation_ids:
                    operation["tags"] = [pins.tag]
    # Outer places first: an inner one is found through the (pinned) outer component.
    ordered = sorted(pins.models.items(), key=lambda item: (len(item[1][2]), item[1]))
    claimed: set[str] = set()
    for name, location in ordered:
        place = _schema_place(document, location)
        if place is None:
            continue
        holder, key = place
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        current = _final_schema_name(document, holder[key])
        if current == name:
            holder[key] = {"$ref": f"{_SCHEMA_REF}{name}"}
            claimed.add(name)
            continue
        if current is None and schemas.get(name) == holder[key]:
            current = name  # inlined from a component still there: the same schema
        elif name in schemas:
            aside, number = f"{name}Upstream", 1
            while aside in schemas:
                number += 1
                aside = f"{name}Upstream{number}"
            _rename_schema(document, name, aside)
        if current is None:
            schemas[name] = holder[key]
        elif current == name:
            pass
        elif current in claimed:
            schemas[name] = copy.deepcopy(schemas[current])
        else:
            _rename_schema(document, current, name)
        holder[key] = {"$ref": f"{_SCHEMA_REF}{name}"}
        claimed.add(name)
    if "components" in document and "schemas" in document["components"]:
        schemas = document["components"]["schemas"]
        document["components"]["schemas"] = {key: schemas[key] for key in sorted(schemas)}


class _Dumper(yaml.SafeDumper):
    """Safe dumper for readable, stable output."""

    def ignore_aliases(self, data: Any) -> bool:
        # Objects shared in memory (or YAML anchors in the source) are written out in full:
        # generated anchor names like &id001 would shift whenever anything above them changed.
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent block sequences under their key, as the upstream spec does.
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text as a literal block, which diffs line by line; PyYAML falls back to a
    # quoted scalar when a literal block cannot hold the text exactly.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(
    document: Mapping[str, Any],
    *,
    source_sha256: str,
    operations_file: str = "openapi/operations.txt",
) -> str:
    """Serialize a sliced spec, with the vendoring header.

    Args:
        document: The sliced document.
        source_sha256: Hex digest of the source spec file, recorded in the header.
        operations_file: How the header names the operations list.

    Returns:
        The YAML text; the same input always gives the same text.

    """
    header = _HEADER.format(operations_file=operations_file, sha256=source_sha256)
    body = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=YAML_WIDTH,
        default_flow_style=False,
    )
    return header + str(body)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: readers see the old file or the new one.

    Raises:
        SpecError: The file cannot be written; ``path`` is then unchanged.

    """
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise SpecError(f"cannot write {path}: {_reason(error)}") from error
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file readable by its owner only.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise SpecError(f"cannot write {path}: {_reason(error)}") from error
        raise


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def strip_header(text: str) -> str:
    """Return a slice without its leading comment block: provenance, not content."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return "".join(lines[index:])
    return ""


def _print_warning(message: str) -> None:
    print(f"vendor-spec: warning: {message}", file=sys.stderr)


def _read_previous(path: Path) -> str | None:
    """Return the existing output's text, or None if there is none."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"cannot read the existing slice {path}: {_reason(error)}") from error


def _compare(
    previous: str | None,
    document: Any,
    operation_ids: Sequence[str],
    wrapper: WrapperFields,
    output: Path,
    source: Path,
) -> Report:
    """Report what changed for our operations from the existing output to ``document``.

    Raises:
        SpecError: The existing output is not a slice, or a document cannot be compared.

    """
    try:
        old = yaml.load(previous, Loader=_LOADER) if previous is not None else {}  # noqa: S506
    except yaml.YAMLError as error:
        raise SpecError(f"the existing slice {output} is not valid YAML") from error
    check_expansion(old, f"the existing slice {output}")
    if not isinstance(old, dict) or not isinstance(document, dict):
        which = f"the existing slice {output}" if not isinstance(old, dict) else "the new spec"
        raise SpecError(f"{which} is not an OpenAPI document")
    try:
        return diff(old, document, operation_ids, wrapper)
    except SpecDiffError as error:
        raise SpecError(f"comparing {output} with {source}: {error}") from error


def vendor(
    source: Path,
    operations_file: Path = DEFAULT_OPERATIONS,
    output: Path = DEFAULT_OUTPUT,
    warn: Callable[[str], None] = _print_warning,
    *,
    wrapper_fields: Path = DEFAULT_WRAPPER_FIELDS,
    dry_run: bool = False,
    on_report: Callable[[Report], None] | None = None,
    check_generation: Callable[[str], proof.Proof] | None = None,
) -> VendorResult:
    """Slice ``source`` for the operations in ``operations_file`` and write ``output``.

    Args:
        source: The full OpenAPI spec.
        operations_file: The list of operationIds to vendor.
        output: Where the slice goes; rewritten only if its content changes. Its previous
            content (none if it does not exist) is what the change report compares with.
        warn: Called with each warning (removed control characters; a report that could not
            be made).
        wrapper_fields: What the wrapper uses of each operation (``wrapper-fields.yaml``).
        dry_run: Write nothing; a report that cannot be made is then an error.
        on_report: Called with the change report as soon as it is made, before the new spec is
            sliced, so that it is seen even when slicing then fails (an operation renamed
            upstream, say).
        check_generation: When nothing in the report is breaking and the slice's content
            would change: called with the new slice's text to prove the verdict
            (:func:`proof.prove`: regenerate, import, mypy, tests); a failure is added to the
            report as a breaking change.

    Returns:
        What was done (or, with ``dry_run``, would be).

    Raises:
        SpecError: Anything went wrong; ``output`` is then unchanged.

    """
    operation_ids = read_operations(operations_file)
    try:
        wrapper = load_wrapper_fields(wrapper_fields)
    except SpecDiffError as error:
        raise SpecError(str(error)) from error
    previous = _read_previous(output)
    loaded = load_spec(source)
    for message in control_character_warnings(loaded.removed):
        warn(message)
    # What it is comes first: a JSON error body is not "every operation removed".
    check_openapi3(loaded.document, str(source))
    report: Report | None = None
    try:
        report = _compare(previous, loaded.document, operation_ids, wrapper, output, source)
    except SpecError as error:
        if dry_run:
            raise
        warn(f"no change report: {error}")
    if report is not None and on_report is not None:
        on_report(report)
    sliced = slice_spec(loaded.document, operation_ids, source=str(source))
    pin_names(sliced, operation_ids, wrapper.pins)
    text = render(sliced, source_sha256=loaded.sha256, operations_file=_display(operations_file))
    changed = previous != text
    if changed and not dry_run:
        write_atomically(output, text)
    components = sum(len(section) for section in sliced.get("components", {}).values())
    content_changed = previous is None or strip_header(previous) != strip_header(text)
    proven = NOT_NEEDED
    if report is not None and not report.breaking and content_changed:
        proven = UNPROVEN
        if check_generation is not None:
            found = check_generation(text)
            proven = f"{PROVEN}: {found.summary} ({found.seconds:.0f} s)"
            if found.problem is not None:
                proven = f"{FAILED} ({found.seconds:.0f} s)"
                report = Report((*report.changes, _proof_change(found)))
            elif found.client_changed and not report.changes:
                # Nothing the rules classify, but the generated client is not the committed one
                # (a component renamed or inlined where the wrapper does not look).
                what = "the generated client changes where the wrapper does not look"
                report = Report((Change("generator", "", "", what, REGENERATE),))
    return VendorResult(
        output, len(operation_ids), components, changed, content_changed, report, dry_run, proven
    )


PROVEN = "proven"
"""``VendorResult.proof``: the proof passed (followed by what it ran)."""
FAILED = "failed"
"""``VendorResult.proof``: the proof failed (the report has it as a breaking change)."""
UNPROVEN = "unproven"
"""``VendorResult.proof``: an OK verdict on a changed slice, not proven (``--no-generate``)."""
NOT_NEEDED = "not needed"
"""``VendorResult.proof``: the slice does not change, or the rules already say breaking."""


def _proof_change(found: proof.Proof) -> Change:
    """The breaking change a failed proof adds to the report."""
    problem = found.problem or ""
    if found.step == "generate":
        what = f"make generate fails on the new slice: {_last_lines(problem)}"
        return Change("generator", "", "", what, BREAKING)
    what = f"the wrapper fails against the regenerated client: {problem}"
    return Change("proof", "", "", what, BREAKING)


def _last_lines(text: str, count: int = 12) -> str:
    """The end of a tool's output, where it says what went wrong, on one line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    kept = lines if len(lines) <= count + 1 else [lines[0], "...", *lines[-count:]]
    return " | ".join(kept)


def _check_generation(text: str) -> proof.Proof:
    """Prove a new slice in a temporary tree (never in the repository): :func:`proof.prove`."""
    return proof.prove(text, root=REPO_ROOT, timeout_seconds=GENERATE_TIMEOUT_SECONDS)


def _print_report(prog: str, report: Report, compared: str) -> None:
    if report.changes:
        print(f"{prog}: changes to our operations, {compared}:")
        for change in report.changes:
            print(f"  {change}")
    print(f"{prog}: {report.summary()}")


def _print_proof(prog: str, proven: str) -> None:
    if proven.startswith(PROVEN):
        print(f"{prog}: {proven}")
    elif proven == UNPROVEN:
        print(
            f"{prog}: UNPROVEN (--no-generate): this verdict rests on the rules alone; without "
            "--no-generate the client is regenerated and the wrapper type-checked and tested "
            "against it"
        )
    elif proven.startswith(FAILED):
        print(f"{prog}: proof {proven}: the wrapper does not work with the regenerated client")


def _slice_state(result: VendorResult, source: Path) -> tuple[str, str]:
    """Say what vendoring this spec would do to the slice: a JSON word and a sentence."""
    output = _display(result.output)
    if not result.changed:
        return "unchanged", f"{output} is up to date with this spec"
    if not result.content_changed:
        return "header", f"{output} would change only in its header (the source sha256)"
    run = f"run make vendor-spec FROM={source}"
    if result.report is not None and not result.report.changes:
        return "changed", (
            f"{output} would change in details the report does not classify "
            f"(descriptions, examples, ...): {run}"
        )
    return "changed", f"{output} would change: {run}"


VERDICTS_HELP = """\
verdicts of --dry-run (make spec-diff), and exit status:
  0  no change       nothing changed for our operations
  0  compatible      changes the wrapper and the generated client's users need not act on
  0  regenerate      regenerate; wrapper unaffected: the generated client changes (a path
                     parameter renamed in place, number -> integer, an enum value the
                     wrapper never sends removed, ...) but no wrapper code does: run
                     make vendor-spec and make generate, no wrapper change
  4  breaking        ei-usage as released fails or returns wrong values, regenerating
                     needs wrapper changes, or make generate fails on the new slice
  1  error           no verdict: the file is unreadable, empty, over {cap} MiB, an alias
                     bomb, an API error body, Swagger 2.0, has no paths, a $ref dangles...
  2  usage error
An OK verdict (0) on a slice that would change is proven: in a temporary tree the client is
regenerated, the wrapper imported against it, mypy --strict run on wrapper/ and the fast
wrapper tests run; any failure is breaking, quoting the first error. --no-generate skips the
proof (the fast path; the OK is then labelled UNPROVEN). With --json, errors are a JSON object too:
{{"verdict": "error", "error": "..."}}. Without --dry-run: 0 written (breaking changes
included: they are reported), 1 error, 2 usage error.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Writing: 0 done (breaking changes included: they are reported), 1 error, 2 usage error.
    With ``--dry-run``: 0 no change, compatible, or regenerate (wrapper unaffected); 4 something
    breaking (generation failing included); 1 error; 2 usage error (:data:`VERDICTS_HELP`).
    """
    parser = argparse.ArgumentParser(
        prog="vendor-spec",
        description="Slice the full Edge Impulse OpenAPI spec down to the vendored operations, "
        "reporting what changed for them.",
        epilog=VERDICTS_HELP.format(cap=MAX_SPEC_BYTES // (1024 * 1024)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="PATH",
        help="the full Edge Impulse OpenAPI spec (YAML or JSON, at most "
        f"{MAX_SPEC_BYTES // (1024 * 1024)} MiB)",
    )
    parser.add_argument(
        "--operations",
        type=Path,
        default=DEFAULT_OPERATIONS,
        metavar="PATH",
        help=f"operationIds to vendor (default: {_display(DEFAULT_OPERATIONS)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help=f"where to write the slice, and what to compare with (default: "
        f"{_display(DEFAULT_OUTPUT)})",
    )
    parser.add_argument(
        "--wrapper-fields",
        type=Path,
        default=DEFAULT_WRAPPER_FIELDS,
        metavar="PATH",
        help=f"what the wrapper uses (default: {_display(DEFAULT_WRAPPER_FIELDS)})",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only report, write nothing; the exit status is the verdict (below)",
    )
    parser.add_argument("--json", action="store_true", help="with --dry-run: the report as JSON")
    parser.add_argument(
        "--no-generate",
        action="store_true",
        help="do not prove an OK verdict (regenerate in a temporary tree, import the wrapper, "
        "mypy --strict, fast wrapper tests): the fast path, labelled UNPROVEN",
    )
    args = parser.parse_args(argv)
    if args.json and not args.dry_run:
        parser.error("--json needs --dry-run")
    prog = "spec-diff" if args.dry_run else "vendor-spec"
    compared = f"{_display(args.output)} -> {args.source}"
    reports: list[Report] = []

    def warn(message: str) -> None:
        print(f"{prog}: warning: {message}", file=sys.stderr)

    try:
        result = vendor(
            args.source,
            args.operations,
            args.output,
            warn,
            wrapper_fields=args.wrapper_fields,
            dry_run=args.dry_run,
            on_report=reports.append,
            check_generation=None if args.no_generate else _check_generation,
        )
    except SpecError as error:
        # A spec that cannot be vendored because an operation went away is still a verdict.
        breaking = args.dry_run and any(made.breaking for made in reports)
        for made in reports:
            if args.json:
                print(
                    json.dumps({**made.to_json(), "slice": "error", "error": str(error)}, indent=2)
                )
            else:
                _print_report(prog, made, compared)
        if args.json and not reports:
            print(
                json.dumps({"verdict": "error", "error": str(error), "exit": EXIT_ERROR}, indent=2)
            )
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_BREAKING if breaking else EXIT_ERROR
    report = result.report
    if args.dry_run:
        report = report or Report()
        state, sentence = _slice_state(result, args.source)
        if args.json:
            print(json.dumps({**report.to_json(), "slice": state, "proof": result.proof}, indent=2))
        else:
            _print_report(prog, report, compared)
            _print_proof(prog, result.proof)
            print(f"{prog}: {sentence}")
        return EXIT_BREAKING if report.breaking else EXIT_OK
    if report is not None:
        _print_report(prog, report, compared)
        _print_proof(prog, result.proof)
    state = "wrote" if result.changed else "up to date:"
    print(
        f"vendor-spec: {state} {_display(result.output)} "
        f"(operations: {result.operations}, components: {result.components})"
    )
    if report is not None and report.breaking:
        count = len(report.breaking)
        print(
            f"vendor-spec: warning: {count} BREAKING change{'s' if count != 1 else ''} for users "
            "of the wrapper (listed above): update wrapper/ and openapi/wrapper-fields.yaml "
            "before the next release (README: When Edge Impulse changes its spec)",
            file=sys.stderr,
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
