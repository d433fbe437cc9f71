"""What changed for our operations between two versions of the Edge Impulse spec, and for whom.

``make vendor-spec FROM=...`` prints this report (the committed slice against the new spec) before
it writes the slice; ``make spec-diff FROM=...`` prints it and writes nothing
(``openapi/tools/vendor_spec.py --dry-run``). This module only compares; it reads no files except
``openapi/wrapper-fields.yaml`` through :func:`load_wrapper_fields`.

**What is compared.** Each of our operations is flattened into fields, following every ``$ref``
and merging ``allOf`` (and ``oneOf``/``anyOf``: every alternative's properties, required only if
all alternatives require them), so a change inside a shared component is reported where a user of
the operation meets it::

    whitelabelAdminGetOrganizations 200 organizations[].entitlementLimits.computeTimePerYear

A location is the operationId; then ``path``/``query``/``header``/``cookie`` and a parameter name,
``body`` for the request body, or a response status; then the field: ``a.b`` for a property,
``a[]`` for array items, ``a{}`` for map values. A field has a type (``type`` plus ``format``,
e.g. ``string(date-time)``), nullable, required, enum values, the units its description names
(ms, seconds, minutes, hours, days; bytes, KB, KiB, MB, ... in their usual spellings, with a scale
word in front as part of the unit: "hundredths of a second" is ``1/100 seconds``); a different set
of units is a unit change; and for parameters, the validation keywords (``maximum``,
``maxLength``, ``pattern``, ...). Reported: operations added, removed, renamed (same method and
URL, new operationId) or moved (same operationId, new method or URL; path parameter names do not
count); parameters, body and response fields added, removed, or likely renamed (one removed and
one added in the same object with the same schema); changes of type, nullable, required, enum
values, units and parameter validation; the API key schemes each operation accepts; ``servers``.
Not reported: other description text, examples, defaults, media types.

**Classification, for users of the wrapper.** Each change is *compatible*, *regenerate* or
*breaking*, and the report's verdict is the most any change asks (``none`` without changes).
*Breaking* means that ei-usage as released would fail or return wrong values against the new API,
or that regenerating needs code changes. *Regenerate* ("regenerate; wrapper unaffected") means the
generated client changes where the wrapper does not look: vendor and regenerate, no wrapper
change. ``tests/openapi/test_spec_diff_verdicts.py`` is the table that defines them. What the
wrapper uses is declared in ``openapi/wrapper-fields.yaml``: the parameters it sends and the
response fields it reads, with the wrapper names they feed. A field is *read* (or a parameter
*sent*) when it or a field under it is listed there; an operation is *used* when it is listed.
The wrapper passes whole responses of used operations through the generated models, which pop
required fields without a default, convert objects, arrays of objects, dates and enums, and reject
enum values they do not know (``literal_enums: false``): so some changes to fields the wrapper
does not read break it too.

- Operations: added is compatible; removed, renamed, moved or dropped from ``operations.txt`` is
  breaking.
- Parameters and request body: added is breaking if required, else compatible; removed, renamed
  (likely), type changed or unit changed is breaking if sent, else compatible; but a path
  parameter renamed at the same place in the URL is regenerate (the wrapper passes them by
  position). An enum value removed is breaking if sent, unless ``wrapper-fields.yaml`` declares
  the values sent and none of them was removed (regenerate). Now restricted to an enum is breaking
  if sent (the wrapper passes text). Validation keywords changed: breaking if sent and the new
  ones reject a declared value sent (or nothing is declared), else compatible. Now required is
  breaking; now optional, an enum value added and nullable changes are compatible.
- Responses: a field or status added is compatible, required or not (the wrapper ignores what it
  does not read). Removed, renamed (likely) or now optional is breaking if read, or if the field
  was required in a used operation. Now required is breaking if read (the generated model makes it
  non-optional, which the wrapper's parse does not expect), else compatible. A status removed is
  breaking if read. Type changed or now nullable is breaking if read, or if the generated model
  converts the field in a used operation; but ``number`` -> ``integer`` of a read field, and
  ``date`` <-> ``date-time`` of a field not read (parsed by the same function), are regenerate.
  An enum value added is breaking in a used operation (our own decision: the generated enum
  rejects it, so the call fails however unimportant the field), else compatible; an enum value
  removed and no longer nullable are compatible. A unit change is breaking if read: the wrapper
  converts by unit.
- The whole API: ``servers`` changed is breaking if the wrapper's default base URL is no longer
  listed, else compatible. The API key schemes an operation accepts changed is breaking if the
  wrapper uses it and it no longer takes the key in the wrapper's header (``x-api-key``), else
  compatible.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import unquote

import yaml

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")
BODY = "body"
# Bounds on one operation's flattened view: a real response has a few hundred fields at most.
MAX_FIELDS = 20_000
MAX_DEPTH = 64
# What a parameter accepts beyond its type, format and enum: every validation keyword of JSON
# Schema (draft 2020-12, which OpenAPI 3.1 uses; 3.0 has a subset), compared with what the wrapper
# sends. Keywords for arrays and objects do not apply to the scalars the wrapper sends, but are
# still reported when they change.
VALIDATION_KEYWORDS = (
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "not",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minContains",
    "maxContains",
    "minProperties",
    "maxProperties",
    "required",
    "dependentRequired",
)
# Formats that change nothing in the generated client (an int is an int, a float a float): a
# field's kind leaves them out, so adding or removing one is no change.
NEUTRAL_FORMATS = {"integer": ("int32", "int64"), "number": ("float", "double")}

_UNIT_SPELLINGS = {
    "nanoseconds": ("ns", "nanosecond", "nanoseconds"),
    "microseconds": ("µs", "microsecond", "microseconds"),
    "milliseconds": ("ms", "msec", "msecs", "millisecond", "milliseconds"),
    "centiseconds": ("cs", "centisecond", "centiseconds"),
    "deciseconds": ("decisecond", "deciseconds"),
    "seconds": ("sec", "secs", "second", "seconds"),
    "minutes": ("min", "mins", "minute", "minutes"),
    "hours": ("hr", "hrs", "hour", "hours"),
    "days": ("day", "days"),
    "weeks": ("week", "weeks"),
    "months": ("month", "months"),
    "years": ("year", "years"),
    "bits": ("bit", "bits"),
    "bytes": ("byte", "bytes"),
    "kilobytes": ("kb", "kilobyte", "kilobytes"),
    "kibibytes": ("kib", "kibibyte", "kibibytes"),
    "megabytes": ("mb", "megabyte", "megabytes"),
    "mebibytes": ("mib", "mebibyte", "mebibytes"),
    "gigabytes": ("gb", "gigabyte", "gigabytes"),
    "gibibytes": ("gib", "gibibyte", "gibibytes"),
    "terabytes": ("tb", "terabyte", "terabytes"),
    "tebibytes": ("tib", "tebibyte", "tebibytes"),
    "petabytes": ("pb", "petabyte", "petabytes"),
}
# Words that scale the unit after them: "in hundredths of a second" is not "in seconds".
_SCALE_SPELLINGS = {
    "1/10": ("tenth", "tenths"),
    "1/100": ("hundredth", "hundredths"),
    "1/1000": ("thousandth", "thousandths"),
    "1/1000000": ("millionth", "millionths"),
    "10": ("ten", "tens"),
    "100": ("hundred", "hundreds"),
    "1000": ("thousand", "thousands"),
    "1000000": ("million", "millions"),
    "1000000000": ("billion", "billions"),
}
_SCALE_OF = {
    spelling: scale for scale, spellings in _SCALE_SPELLINGS.items() for spelling in spellings
}
# Keys casefolded, as matches are looked up: IGNORECASE also matches e.g. the Kelvin sign for "k".
_UNIT_OF = {
    spelling.casefold(): unit
    for unit, spellings in _UNIT_SPELLINGS.items()
    for spelling in spellings
}


# Literal alternatives between word boundaries: linear time on any description. A unit may
# follow a scale word ("hundredths of a second", "thousands of bytes"), or a number glued to it
# ("100ms" is the unit "100 ms"; "2 hrs" is two hours, the unit "hours").
def _alternatives_of(words: Iterable[str]) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_UNIT_WORD = re.compile(
    r"\b(?:(" + _alternatives_of(_SCALE_OF) + r")(?:\s+of)?(?:\s+(?:a|an|one))?\s+"
    r"|(\d+(?:\.\d+)?)(?=[a-zµμ]))?(" + _alternatives_of(_UNIT_OF) + r")\b",
    re.IGNORECASE,
)

# How much a change asks of us, least first. The verdict is the most a change asks.
COMPATIBLE = "compatible"
"""Nothing to do for the wrapper or the generated client's callers (listed for review)."""
REGENERATE = "regenerate"
"""The generated client changes where the wrapper does not look: vendor and regenerate, no code."""
BREAKING = "breaking"
"""ei-usage as released fails or returns wrong values, or regenerating needs wrapper changes."""
SEVERITIES = (COMPATIBLE, REGENERATE, BREAKING)
_TAGS = {COMPATIBLE: "compatible", REGENERATE: "regenerate", BREAKING: "BREAKING  "}

Key = tuple[str, str]
"""A field's place in an operation: (group, path), e.g. ("200", "metrics.totalStorage")."""


class SpecDiffError(Exception):
    """The documents or the wrapper fields cannot be compared; the message says why."""


def units_of(text: str) -> frozenset[str]:
    """Return the units a description names, e.g. ``{"seconds"}`` for "CPU time in seconds".

    A scale in front of a unit is part of it: "in hundredths of a second" is ``1/100 seconds``,
    "in 100ms steps" is ``100 milliseconds``.
    """
    found: set[str] = set()
    for scale_word, number, word in _UNIT_WORD.findall(text):
        unit = _UNIT_OF.get(word.casefold())
        if not unit:
            continue
        scale = _SCALE_OF.get(scale_word.casefold(), "") or number
        found.add(f"{scale} {unit}" if scale else unit)
    return frozenset(found)


@dataclass(frozen=True)
class Field:
    """One parameter, request body field or response field, as the spec describes it.

    Attributes:
        kind: The type, with the format if any: ``number``, ``string(date-time)``, ``object``,
            ``array``, ``integer|string`` (alternatives), ``any``, ``recursive Name``, or
            ``no content`` for a response without a body.
        nullable: Whether null is allowed.
        required: Whether it must be present (parameters: must be sent).
        enum: The allowed values as JSON text, sorted; None when not an enum.
        units: The units its description names.
        validation: Parameters only: the validation keywords (``maximum``, ``maxLength``,
            ``pattern``, ...) with their values as JSON text, sorted by keyword.
        closed: An object with ``additionalProperties: false`` (its generated model then keeps
            no unknown fields).

    """

    kind: str
    nullable: bool = False
    required: bool = False
    enum: tuple[str, ...] | None = None
    units: frozenset[str] = frozenset()
    validation: tuple[tuple[str, str], ...] = ()
    closed: bool = False

    def describe(self) -> str:
        """Say what the field is, e.g. ``required number, nullable``."""
        text = f"{'required' if self.required else 'optional'} {self.kind}"
        return f"{text}, nullable" if self.nullable else text


@dataclass(frozen=True)
class Change:
    """One change to one of our operations.

    Attributes:
        operation: The operationId, as in the previous slice (or the new one if added).
        group: ``""`` for the operation itself, a parameter location, ``body``, or a status.
        path: The field within the group (a parameter's name for parameters).
        what: What changed, in words.
        severity: :data:`COMPATIBLE`, :data:`REGENERATE` or :data:`BREAKING` (see the module
            docstring).
        wrapper: The wrapper names the changed field feeds, from ``wrapper-fields.yaml``.

    """

    operation: str
    group: str
    path: str
    what: str
    severity: str
    wrapper: tuple[str, ...] = ()

    @property
    def breaking(self) -> bool:
        """Whether it breaks the wrapper."""
        return self.severity == BREAKING

    @property
    def location(self) -> str:
        """The operation, group and field, space separated."""
        return " ".join(part for part in (self.operation, self.group, self.path) if part)

    def __str__(self) -> str:
        line = f"{_TAGS[self.severity]}  {self.location}: {self.what}"
        return f"{line}; wrapper: {', '.join(self.wrapper)}" if self.wrapper else line

    def to_json(self) -> dict[str, Any]:
        """Return the change as JSON-ready data."""
        return {
            "operation": self.operation,
            "location": self.location,
            "change": self.what,
            "breaking": self.breaking,
            "severity": self.severity,
            "wrapper": list(self.wrapper),
        }


@dataclass(frozen=True)
class Report:
    """Every change to our operations, sorted by operation and location."""

    changes: tuple[Change, ...] = ()

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The breaking changes."""
        return tuple(change for change in self.changes if change.breaking)

    def count(self, severity: str) -> int:
        """The number of changes of one severity."""
        return sum(1 for change in self.changes if change.severity == severity)

    @property
    def verdict(self) -> str:
        """``"none"``, or the most any change asks: compatible, regenerate or breaking."""
        if not self.changes:
            return "none"
        return max((change.severity for change in self.changes), key=SEVERITIES.index)

    def summary(self) -> str:
        """Return the one-line verdict."""
        breaking, regenerate, compatible = (self.count(s) for s in reversed(SEVERITIES))
        if breaking:
            counts = f"{breaking} breaking, {compatible} compatible"
            if regenerate:
                counts = f"{breaking} breaking, {regenerate} regenerate, {compatible} compatible"
            return f"BREAKING for users of the wrapper; changes: {counts}"
        if regenerate:
            return (
                f"regenerate; wrapper unaffected: {regenerate} change{_s(regenerate)} the "
                f"generated client sees but the wrapper does not, {compatible} compatible: "
                "make vendor-spec and make generate, no wrapper change"
            )
        if compatible:
            return (
                f"compatible: {compatible} change{_s(compatible)}, none breaking for users of "
                "the wrapper"
            )
        return "no changes to our operations"

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "verdict": self.verdict,
            "breaking": self.count(BREAKING),
            "regenerate": self.count(REGENERATE),
            "compatible": self.count(COMPATIBLE),
            "changes": [change.to_json() for change in self.changes],
        }


def _s(count: int) -> str:
    return "" if count == 1 else "s"


# --- what the wrapper uses ----------------------------------------------------------------------


def _under(path: str, ancestor: str) -> bool:
    """Whether ``path`` is ``ancestor`` or a field inside it."""
    if not ancestor:
        return True
    return path == ancestor or path.startswith((f"{ancestor}.", f"{ancestor}[]", f"{ancestor}{{}}"))


@dataclass(frozen=True)
class Sent:
    """The values the wrapper sends for one parameter, as ``wrapper-fields.yaml`` declares them.

    Attributes:
        values: Every value it may send, or examples of them (``values``).
        minimum: The smallest number it sends (``minimum``), if a range.
        maximum: The largest number it sends (``maximum``).
        min_length: The shortest text it sends (``minLength``).
        max_length: The longest text it sends (``maxLength``).
        format: The format of what it sends, e.g. ``date-time`` (``format``).

    """

    values: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str = ""

    def describe(self) -> str:
        """Say what is sent, e.g. ``2..1000 (and 100)``."""
        parts = []
        if self.minimum is not None or self.maximum is not None:
            parts.append(f"{_number(self.minimum)}..{_number(self.maximum)}")
        if self.min_length is not None or self.max_length is not None:
            parts.append(f"text of {self.min_length or 0} to {self.max_length} characters")
        if self.format:
            parts.append(f"format {self.format}")
        if self.values:
            parts.append(", ".join(json.dumps(value) for value in self.values))
        return "; ".join(parts)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Client:
    """What the wrapper sends with every call, whatever the operation.

    Attributes:
        base_url: Its default base URL (``ei_usage._config.DEFAULT_BASE_URL``).
        api_key_header: The header its API key goes in (``x-api-key``).

    """

    base_url: str = ""
    api_key_header: str = ""


@dataclass(frozen=True)
class Pins:
    """The generated names the wrapper imports, pinned by the slicer (the ``generated`` entry).

    Attributes:
        tag: The tag every vendored operation gets, so that the generated module of an operation
            is ``api/<tag in snake case>/<operationId in snake case>.py`` whatever upstream tags.
        models: Model class name -> where its schema is: an operationId, a group (a parameter
            location or a response status) and a field path (empty for the whole body), space
            separated. The slicer makes that place a ``$ref`` to a schema component of that name
            (renaming, or hoisting an inline schema), so the generated class keeps its name.

    """

    tag: str = ""
    models: Mapping[str, tuple[str, str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class WrapperFields:
    """The parameters the wrapper sends and the response fields it reads, per operation.

    Attributes:
        operations: operationId -> section (``parameters``, ``body`` or a response status) ->
            field path (a parameter's name for ``parameters``) -> the wrapper names it feeds.
        sent: operationId -> parameter name -> the values the wrapper sends (``values``).
        client: The base URL and API key header (the top-level ``client`` entry).
        pins: The generated names the wrapper imports (the top-level ``generated`` entry).
        replaced: operationId -> (status, field path) -> what the wrapper hands the generated
            model instead of that response field: :data:`OMITTED` (removed first) or a JSON
            value (``replaced``).

    """

    operations: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = field(
        default_factory=dict
    )
    sent: Mapping[str, Mapping[str, Sent]] = field(default_factory=dict)
    client: Client = field(default_factory=Client)
    pins: Pins = field(default_factory=Pins)
    replaced: Mapping[str, Mapping[Key, Any]] = field(default_factory=dict)

    def used(self, operation_id: str) -> bool:
        """Whether the wrapper calls the operation."""
        return operation_id in self.operations

    def names(self, operation_id: str, group: str = "", path: str = "") -> tuple[str, ...]:
        """Return the wrapper names fed by the field at ``group``/``path`` or anything under it.

        With no group, every name of the operation.
        """
        sections = self.operations.get(operation_id, {})
        if not group:
            chosen: Iterable[Mapping[str, tuple[str, ...]]] = sections.values()
        else:
            chosen = [sections.get("parameters" if group in PARAMETER_LOCATIONS else group, {})]
        found: dict[str, None] = {}
        for entries in chosen:
            for mapped, names in entries.items():
                if not group or _under(mapped, path):
                    found.update(dict.fromkeys(names))
        return tuple(found)


def parse_wrapper_fields(data: Any, source: str) -> WrapperFields:
    """Check and convert the parsed ``wrapper-fields.yaml``.

    Raises:
        SpecDiffError: The data does not have the documented shape.

    """

    def fail(where: str, problem: str) -> SpecDiffError:
        return SpecDiffError(f"{source}: {where}: {problem}")

    def entries(where: str, value: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise fail(where, "expected a mapping of field paths to lists of wrapper names")
        result: dict[str, tuple[str, ...]] = {}
        for path, names in value.items():
            if not isinstance(path, str) or not path:
                raise fail(where, f"field path {path!r} is not a non-empty string")
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(name, str) and name.strip() for name in names)
            ):
                raise fail(f"{where} {path}", "expected a non-empty list of wrapper names")
            result[path] = tuple(names)
        return result

    def sent(where: str, value: Any) -> dict[str, Sent]:
        if not isinstance(value, dict):
            raise fail(where, "expected a mapping of parameter names to the values sent")
        result: dict[str, Sent] = {}
        for name, spec in value.items():
            here = f"{where} {name}"
            if not isinstance(spec, dict) or not spec or set(spec) - set(_SENT_KEYS):
                raise fail(here, f"expected a mapping with some of {', '.join(_SENT_KEYS)}")
            values = spec.get("values", [])
            numbers = [spec.get(key) for key in ("minimum", "maximum")]
            lengths = [spec.get(key) for key in ("minLength", "maxLength")]
            if (
                not isinstance(values, list)
                or not all(n is None or _is_number(n) for n in numbers)
                or not all(n is None or (isinstance(n, int) and n >= 0) for n in lengths)
                or not isinstance(spec.get("format", ""), str)
            ):
                raise fail(
                    here,
                    "values must be a list, minimum/maximum numbers, "
                    "minLength/maxLength counts and format a string",
                )
            result[str(name)] = Sent(
                tuple(values),
                minimum=numbers[0],
                maximum=numbers[1],
                min_length=lengths[0],
                max_length=lengths[1],
                format=spec.get("format", ""),
            )
        return result

    def stand_ins(where: str, value: Any) -> dict[Key, Any]:
        result: dict[Key, Any] = {}
        for status, fields in value.items() if isinstance(value, dict) else [("", None)]:
            if not isinstance(fields, dict):
                raise fail(where, "expected status -> field path -> omitted or a JSON value")
            for path, stand_in in fields.items():
                result[(str(status), str(path))] = stand_in
        return result

    if not isinstance(data, dict):
        raise SpecDiffError(f"{source}: expected a mapping of operationIds")
    operations: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {}
    sent_values: dict[str, dict[str, Sent]] = {}
    client = Client()
    pins = Pins()
    replaced: dict[str, dict[Key, Any]] = {}
    for operation_id, sections in data.items():
        if operation_id == "generated":
            pins = _pins(sections, fail)
            continue
        if operation_id == "client":
            if not isinstance(sections, dict) or not all(
                isinstance(sections.get(key), str) and sections[key]
                for key in ("base_url", "api_key_header")
            ):
                raise fail("client", "expected base_url and api_key_header, both strings")
            client = Client(sections["base_url"], sections["api_key_header"])
            continue
        if not isinstance(operation_id, str) or not isinstance(sections, dict):
            raise fail(str(operation_id), "expected an operationId with a mapping of sections")
        converted: dict[str, dict[str, tuple[str, ...]]] = {}
        for section, value in sections.items():
            where = f"{operation_id} {section}"
            if section in ("parameters", BODY):
                converted[section] = entries(where, value)
            elif section == "values":
                sent_values[operation_id] = sent(where, value)
            elif section == "replaced":
                replaced[operation_id] = stand_ins(where, value)
            elif section == "responses" and isinstance(value, dict):
                for status, fields in value.items():
                    converted[str(status)] = entries(f"{operation_id} {status}", fields)
            else:
                raise fail(
                    where,
                    "expected parameters, body or responses (a mapping by status), values "
                    "or replaced",
                )
        for name in sent_values.get(operation_id, {}):
            if name not in converted.get("parameters", {}):
                raise fail(f"{operation_id} values {name}", "not a parameter listed as sent")
        operations[operation_id] = converted
    return WrapperFields(operations, sent_values, client, pins, replaced)


OMITTED = "omitted"
"""In ``replaced``: the wrapper removes the field before the generated model sees it."""


def _pins(value: Any, fail: Callable[[str, str], SpecDiffError]) -> Pins:
    """Check and convert the ``generated`` entry: ``tag`` and ``models``."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("tag"), str)
        or not value["tag"]
        or not isinstance(value.get("models"), dict)
    ):
        raise fail("generated", "expected tag (a string) and models (class name -> location)")
    models: dict[str, tuple[str, str, str]] = {}
    for name, location in value["models"].items():
        parts = location.split() if isinstance(location, str) else []
        if not isinstance(name, str) or not name.isidentifier() or len(parts) not in (2, 3):
            raise fail(
                f"generated models {name}",
                "expected a class name -> 'operationId group [field path]'",
            )
        models[name] = (parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    return Pins(value["tag"], models)


_SENT_KEYS = ("values", "minimum", "maximum", "minLength", "maxLength", "format")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_wrapper_fields(path: Path) -> WrapperFields:
    """Read ``wrapper-fields.yaml``.

    Raises:
        SpecDiffError: It cannot be read or parsed, or does not have the documented shape.

    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise SpecDiffError(f"cannot read wrapper fields {path}: {error}") from error
    return parse_wrapper_fields(data, str(path))


# --- flattening an operation ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    operation_id: str
    method: str
    path: str
    node: Mapping[str, Any]
    path_item: Mapping[str, Any]

    @property
    def route(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def url(self) -> str:
        """The route with path parameters unnamed: what a request goes to."""
        return f"{self.method.upper()} {_PATH_PARAMETER.sub('{}', self.path)}"

    def path_parameters(self) -> list[str]:
        """The path parameters' names, in URL order."""
        return _PATH_PARAMETER.findall(self.path)


_PATH_PARAMETER = re.compile(r"\{([^{}/]*)\}")


def _index(document: Mapping[str, Any], source: str) -> dict[str, _Operation]:
    paths = document.get("paths", {})
    if not isinstance(paths, dict):
        raise SpecDiffError(f"{source} has no 'paths' mapping")
    index: dict[str, _Operation] = {}
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict) and isinstance(operation.get("operationId"), str):
                operation_id = operation["operationId"]
                index.setdefault(
                    operation_id, _Operation(operation_id, method, path, operation, item)
                )
    return index


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class _Merged:
    """A schema with its ``$ref`` followed and ``allOf``/``oneOf``/``anyOf`` merged."""

    types: set[str] = field(default_factory=set)
    format: str = ""
    nullable: bool = False
    enum: list[Any] | None = None
    description: str = ""
    # Subschemas, each with the references being expanded where it was found (cycle detection).
    properties: dict[str, tuple[Any, frozenset[str]]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: tuple[Any, frozenset[str]] | None = None
    values: tuple[Any, frozenset[str]] | None = None
    recursive: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    closed: bool = False  # additionalProperties: false

    def inferred_types(self) -> set[str]:
        if self.types:
            return self.types
        if self.properties or self.values:
            return {"object"}
        return {"array"} if self.items else set()

    def kind(self) -> str:
        if self.recursive:
            return f"recursive {self.recursive}"
        kind = "|".join(sorted(self.inferred_types())) or "any"
        if self.format in NEUTRAL_FORMATS.get(kind, ()):
            return kind
        return f"{kind}({self.format})" if self.format else kind

    def absorb(self, other: _Merged) -> None:
        """Merge an ``allOf`` part into this schema."""
        self.types |= other.types
        self.format = self.format or other.format
        self.nullable = self.nullable or other.nullable
        self.enum = self.enum if self.enum is not None else other.enum
        self.description = self.description or other.description
        for name, subschema in other.properties.items():
            self.properties.setdefault(name, subschema)
        self.required |= other.required
        self.items = self.items or other.items
        self.values = self.values or other.values
        self.recursive = self.recursive or other.recursive
        self.closed = self.closed or other.closed
        for keyword, value in other.validation.items():
            self.validation.setdefault(keyword, value)


def _alternatives(merged: list[_Merged]) -> _Merged:
    """Merge ``oneOf``/``anyOf`` alternatives: any of their fields may appear."""
    result = _Merged(required=set.intersection(*(m.required for m in merged)))
    enums = [m.enum for m in merged]
    if all(enum is not None for enum in enums):
        result.enum = [value for enum in enums for value in enum or ()]
    for alternative in merged:
        result.types |= alternative.inferred_types()
        result.nullable = result.nullable or alternative.nullable
        result.description = result.description or alternative.description
        for name, subschema in alternative.properties.items():
            result.properties.setdefault(name, subschema)
        result.items = result.items or alternative.items
        result.values = result.values or alternative.values
    return result


def _enum(values: list[Any] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    return tuple(sorted({json.dumps(value, sort_keys=True, default=str) for value in values}))


class _Flattener:
    """Turns one operation into ``{(group, path): Field}``, following references."""

    def __init__(self, document: Mapping[str, Any], operation_id: str) -> None:
        self.document = document
        self.operation_id = operation_id
        self.fields: dict[Key, Field] = {}

    def lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise SpecDiffError(f"unsupported $ref {ref!r} in {self.operation_id}")
        node: Any = self.document
        for token in ref[2:].split("/"):
            name = unquote(token).replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or name not in node:
                raise SpecDiffError(f"unresolved $ref {ref!r} in {self.operation_id}")
            node = node[name]
        return node

    def resolve(self, node: Any, active: frozenset[str]) -> tuple[Any, frozenset[str], str]:
        """Follow a chain of ``$ref``s.

        Returns:
            The target, the references being expanded including those just followed, and the
            name of a reference that was already being expanded (a cycle), else ``""``.

        """
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in active:
                return node, active, ref.rsplit("/", 1)[-1]
            active = active | {ref}
            node = self.lookup(ref)
        return node, active, ""

    def merge(self, node: Any, active: frozenset[str], depth: int) -> _Merged:
        if depth > MAX_DEPTH:
            raise SpecDiffError(f"a schema of {self.operation_id} nests over {MAX_DEPTH} levels")
        own_description = _text(node.get("description")) if isinstance(node, dict) else ""
        target, active, cycle = self.resolve(node, active)
        if cycle:
            return _Merged(description=own_description, recursive=cycle)
        if not isinstance(target, dict):
            return _Merged(description=own_description)
        raw_type = target.get("type")
        # OpenAPI 3.1 writes a nullable type as a list with "null".
        types = {raw_type} if isinstance(raw_type, str) else set(_list(raw_type))
        merged = _Merged(
            types={t for t in types if isinstance(t, str) and t != "null"},
            format=_text(target.get("format")),
            nullable=target.get("nullable") is True or "null" in types,
            enum=list(target["enum"]) if isinstance(target.get("enum"), list) else None,
            description=own_description or _text(target.get("description")),
            required={name for name in _list(target.get("required")) if isinstance(name, str)},
            validation={k: target[k] for k in VALIDATION_KEYWORDS if k in target},
            closed=target.get("additionalProperties") is False,
        )
        properties = target.get("properties")
        if isinstance(properties, dict):
            merged.properties = {str(name): (sub, active) for name, sub in properties.items()}
        if isinstance(target.get("items"), dict):
            merged.items = (target["items"], active)
        if isinstance(target.get("additionalProperties"), dict):
            merged.values = (target["additionalProperties"], active)
        for part in _list(target.get("allOf")):
            merged.absorb(self.merge(part, active, depth + 1))
        choices = _list(target.get("oneOf")) + _list(target.get("anyOf"))
        if choices:
            merged.absorb(_alternatives([self.merge(c, active, depth + 1) for c in choices]))
        return merged

    def add(self, key: Key, value: Field) -> None:
        if len(self.fields) >= MAX_FIELDS:
            raise SpecDiffError(f"{self.operation_id} has over {MAX_FIELDS} fields")
        self.fields[key] = value

    def walk(
        self,
        group: str,
        path: str,
        node: Any,
        required: bool,
        active: frozenset[str] = frozenset(),
        depth: int = 0,
        description: str = "",
    ) -> None:
        merged = self.merge(node, active, depth)
        units = units_of(f"{description} {merged.description}")
        enum = _enum(merged.enum)
        validation: tuple[tuple[str, str], ...] = ()
        if group in PARAMETER_LOCATIONS:
            validation = tuple(
                (keyword, json.dumps(value, sort_keys=True, default=str))
                for keyword, value in sorted(merged.validation.items())
            )
        field_ = Field(
            merged.kind(), merged.nullable, required, enum, units, validation, merged.closed
        )
        self.add((group, path), field_)
        for name, (subschema, context) in merged.properties.items():
            child = f"{path}.{name}" if path else name
            self.walk(group, child, subschema, name in merged.required, context, depth + 1)
        if merged.items is not None:
            self.walk(group, f"{path}[]", merged.items[0], True, merged.items[1], depth + 1)
        if merged.values is not None:
            self.walk(group, f"{path}{{}}", merged.values[0], True, merged.values[1], depth + 1)


def _schema_of(holder: Mapping[str, Any]) -> Any:
    """The schema of a parameter, request body or response: JSON content preferred."""
    if "schema" in holder:
        return holder["schema"]
    content = holder.get("content")
    if not isinstance(content, dict) or not content:
        return None
    media = "application/json" if "application/json" in content else sorted(content)[0]
    chosen = content[media]
    return chosen.get("schema") if isinstance(chosen, dict) else None


def flatten(document: Mapping[str, Any], operation: _Operation) -> dict[Key, Field]:
    """Return every parameter, body field and response field of an operation."""
    flat = _Flattener(document, operation.operation_id)
    parameters: dict[tuple[str, str], Mapping[str, Any]] = {}
    # Operation-level parameters override path-level ones with the same name and location.
    for raw in _list(operation.path_item.get("parameters")) + _list(
        operation.node.get("parameters")
    ):
        parameter = flat.resolve(raw, frozenset())[0]
        if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
            parameters[(_text(parameter.get("in")), parameter["name"])] = parameter
    for (location, name), parameter in sorted(parameters.items()):
        required = parameter.get("required") is True or location == "path"
        description = _text(parameter.get("description"))
        flat.walk(location, name, _schema_of(parameter), required, description=description)
    body = flat.resolve(operation.node.get("requestBody"), frozenset())[0]
    if isinstance(body, dict):
        flat.walk(BODY, "", _schema_of(body), body.get("required") is True)
    responses = operation.node.get("responses")
    for status, raw in responses.items() if isinstance(responses, dict) else ():
        response = flat.resolve(raw, frozenset())[0]
        schema = _schema_of(response) if isinstance(response, dict) else None
        if schema is None:
            flat.add((str(status), ""), Field("no content", required=True))
        else:
            flat.walk(str(status), "", schema, True)
    return flat.fields


def unknown_wrapper_fields(document: Mapping[str, Any], wrapper: WrapperFields) -> list[str]:
    """Return each entry of the wrapper fields that the document does not have, sorted.

    Raises:
        SpecDiffError: The document cannot be flattened (an unresolved reference, ...).

    """
    index = _index(document, "the spec")
    problems: list[str] = []
    for operation_id, sections in wrapper.operations.items():
        operation = index.get(operation_id)
        if operation is None:
            problems.append(f"{operation_id}: no such operation")
            continue
        fields = flatten(document, operation)
        for section, entries in sections.items():
            for path in entries:
                groups = PARAMETER_LOCATIONS if section == "parameters" else (section,)
                if not any((group, path) in fields for group in groups):
                    problems.append(f"{operation_id} {section} {path}: not in the spec")
    return sorted(problems)


# --- comparing ---------------------------------------------------------------------------------


def _parent(path: str) -> str | None:
    if not path:
        return None
    if path.endswith(("[]", "{}")):
        return path[:-2]
    head, dot, _ = path.rpartition(".")
    return head if dot else ""


def _ancestors(path: str) -> Iterator[str]:
    parent = _parent(path)
    while parent is not None:
        yield parent
        parent = _parent(parent)


def _topmost(keys: set[Key], retyped: set[Key]) -> list[Key]:
    """Keep the keys with no ancestor in ``keys`` or ``retyped``.

    So a removed object, or the fields under one that changed type, make one change.
    """
    return sorted(
        (group, path)
        for group, path in keys
        if not any(
            (group, ancestor) in keys or (group, ancestor) in retyped
            for ancestor in _ancestors(path)
        )
    )


def _shape(fields: Mapping[Key, Field], key: Key) -> list[tuple[Any, ...]]:
    """A field's schema and everything under it, independent of its name and required-ness."""
    group, path = key
    return sorted(
        (sub[len(path) :], value.kind, value.nullable, value.enum)
        for (sub_group, sub), value in fields.items()
        if sub_group == group and _under(sub, path)
    )


def _leaf(path: str) -> str:
    return re.split(r"[.\[{]", path.rstrip("[]{}"))[-1] if path else path


def _pair_renames(
    removed: list[Key], added: list[Key], old: Mapping[Key, Field], new: Mapping[Key, Field]
) -> dict[Key, Key]:
    """Pair fields removed and added in the same object with the same schema (likely renames)."""
    pairs: dict[Key, Key] = {}
    for key in removed:
        if not key[1]:
            continue
        shape = _shape(old, key)
        candidates = [
            other
            for other in added
            if other not in pairs.values()
            and other[0] == key[0]
            and other[1]
            and _parent(other[1]) == _parent(key[1])
            and _shape(new, other) == shape
        ]
        if candidates:
            # The most similar name; max() keeps the first (sorted) of equals.
            pairs[key] = max(
                candidates,
                key=lambda other: difflib.SequenceMatcher(
                    None, _leaf(key[1]), _leaf(other[1])
                ).ratio(),
            )
    return pairs


def _converted(fields: Mapping[Key, Field], key: Key) -> bool:
    """Whether the generated model converts the field (so a new shape makes it raise)."""
    value = fields[key]
    if value.enum is not None or "object" in value.kind or value.kind.startswith("recursive"):
        return True
    if value.kind.endswith(("(date)", "(date-time)")):
        return True
    items = (key[0], f"{key[1]}[]")
    return value.kind == "array" and items in fields and _converted(fields, items)


def _units(units: frozenset[str]) -> str:
    return "+".join(sorted(units)) or "(none)"


_DATES = ("string(date)", "string(date-time)")


def _json_value(text: str) -> Any:
    return json.loads(text)


# Free text the wrapper may send (a search, say): a new pattern must accept all of these (cut to
# the declared lengths). Printable text of any script, spaces and punctuation included.
_TEXT_PROBES = (
    "a",
    "Z",
    "7",
    "acme",
    "Acme Corp",
    "acme-corp_2024.eu",
    "o'brien & co (test) #1",
    "50% off: a/b?c=d",
    "Ünïcödé",
    "日本語",
    "emoji 🙂",
    "  padded  ",
)


def _is_range(sent: Sent) -> bool:
    """Whether the wrapper sends a range of numbers (not only the listed values)."""
    return sent.minimum is not None or sent.maximum is not None


def _bounds(sent: Sent) -> tuple[float | None, float | None]:
    """The smallest and largest number sent; a range open on one side is unbounded there.

    Ids, offsets and counts grow with a white label's size: ``minimum: 1`` without a
    ``maximum`` means any number from 1 up.
    """
    numbers = [v for v in sent.values if _is_number(v)]
    if not numbers and not _is_range(sent):
        return None, None
    low_side = [*numbers, *([sent.minimum] if sent.minimum is not None else [])]
    high_side = [*numbers, *([sent.maximum] if sent.maximum is not None else [])]
    low = min(low_side) if sent.minimum is not None or not _is_range(sent) else -math.inf
    high = max(high_side) if sent.maximum is not None or not _is_range(sent) else math.inf
    return low, high


def _text_probes(sent: Sent) -> list[str]:
    """Texts the wrapper may send: its listed values, or for free text, probes of every kind."""
    texts = [v for v in sent.values if isinstance(v, str)]
    if texts or (sent.max_length is None and sent.min_length is None):
        return texts
    low, high = sent.min_length or 0, sent.max_length if sent.max_length is not None else 1000
    probes = [p for p in _TEXT_PROBES if low <= len(p) <= high]
    probes += ["x" * max(low, 1), "y" * high] if high >= max(low, 1) else []
    return probes


def _upto(low: float | None, high: float) -> str:
    """The top of what is sent, e.g. ``1000`` or ``any number from 1 up``."""
    return _number(high) if math.isfinite(high) else f"any number from {_number(low)} up"


def _multiple(value: float, divisor: float) -> bool:
    quotient = value / divisor
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _accepts(schema: Field, sent: Sent) -> list[str]:
    """Say which of the values the wrapper may send a parameter's new schema rejects.

    Every value it may send counts: a declared range (open ranges unbounded), free text of the
    declared lengths, and the listed values.
    """
    keywords = {keyword: _json_value(value) for keyword, value in schema.validation}
    problems: list[str] = []
    low, high = _bounds(sent)
    exclusive_high = keywords.get("exclusiveMaximum") is True
    exclusive_low = keywords.get("exclusiveMinimum") is True
    maximum, minimum = keywords.get("maximum"), keywords.get("minimum")
    if (
        _is_number(maximum)
        and high is not None
        and (high > maximum or (exclusive_high and high == maximum))
    ):
        problems.append(f"maximum {_number(maximum)} but the wrapper sends {_upto(low, high)}")
    if (
        _is_number(minimum)
        and low is not None
        and (low < minimum or (exclusive_low and low == minimum))
    ):
        problems.append(f"minimum {_number(minimum)} but the wrapper sends {_number(low)}")
    for keyword, bound in (("exclusiveMaximum", high), ("exclusiveMinimum", low)):
        limit = keywords.get(keyword)  # OpenAPI 3.1: a number
        if (
            _is_number(limit)
            and bound is not None
            and (bound >= limit if keyword == "exclusiveMaximum" else bound <= limit)
        ):
            problems.append(f"{keyword} {_number(limit)} but the wrapper sends {_number(bound)}")
    divisor = keywords.get("multipleOf")
    if _is_number(divisor) and divisor > 0:
        numbers = [v for v in sent.values if _is_number(v)]
        # A range of integers holds consecutive ones: all multiples only of a divisor of 1.
        rejected = [v for v in numbers if not _multiple(v, divisor)]
        if _is_range(sent) and low != high and not _multiple(1, divisor):
            start = low if low is not None and math.isfinite(low) else 0
            rejected.append(next(n for n in range(int(start), int(start) + 2) if n % divisor))
        if rejected:
            shown = _number(rejected[0])
            problems.append(f"multipleOf {_number(divisor)} but the wrapper sends {shown}")
    if "const" in keywords:
        const = keywords["const"]
        sendable = [*sent.values] if not _is_range(sent) and sent.max_length is None else None
        if sendable is None or any(v != const for v in sendable):
            problems.append(f"const {json.dumps(const)} but the wrapper sends other values")
    if "not" in keywords:
        # Which values a negated schema excludes is not evaluated: assume it rejects some.
        problems.append(f"not {json.dumps(keywords['not'])} may reject what the wrapper sends")
    texts = _text_probes(sent)
    longest = max([len(t) for t in texts] + [sent.max_length or 0], default=0)
    shortest = min(
        [len(t) for t in texts] + ([sent.min_length] if sent.min_length is not None else []),
        default=None,
    )
    max_length, min_length = keywords.get("maxLength"), keywords.get("minLength")
    if isinstance(max_length, int) and longest > max_length:
        problems.append(f"maxLength {max_length} but the wrapper sends up to {longest}")
    if isinstance(min_length, int) and shortest is not None and shortest < min_length:
        problems.append(f"minLength {min_length} but the wrapper sends from {shortest}")
    pattern = keywords.get("pattern")
    if isinstance(pattern, str):
        try:
            compiled = re.compile(pattern)
        except re.error:
            problems.append(f"pattern {pattern!r} is not a regular expression")
        else:
            rejected_texts = [t for t in texts if not compiled.search(t)]
            if rejected_texts:
                problems.append(f"pattern {pattern!r} rejects {json.dumps(rejected_texts[0])}")
    if schema.enum is not None:
        allowed = set(schema.enum)
        missing = [v for v in sent.values if json.dumps(v, sort_keys=True) not in allowed]
        if missing:
            problems.append(f"enum lacks {', '.join(json.dumps(v) for v in missing)}")
        elif _is_range(sent) or sent.max_length is not None:
            problems.append("an enum, but the wrapper sends a range or free text")
    fmt = schema.kind.partition("(")[2].rstrip(")")
    if fmt and fmt != sent.format:
        what = sent.format or "values without a format"
        problems.append(f"format {fmt} but the wrapper sends {what}")
    return problems


@dataclass(frozen=True)
class _Rules:
    """Classifies the changes to one operation's fields (rules in the module docstring)."""

    operation_id: str
    wrapper: WrapperFields
    old: Mapping[Key, Field]
    new: Mapping[Key, Field]
    # Path parameters in URL order, before and after: the wrapper passes them by position.
    old_path: tuple[str, ...] = ()
    new_path: tuple[str, ...] = ()

    def change(
        self, key: Key, what: str, breaking: bool, why: str = "", *, regenerate: bool = False
    ) -> Change:
        names = self.wrapper.names(self.operation_id, *key)
        if breaking and why and not names:
            what = f"{what}; {why}"
        severity = BREAKING if breaking else REGENERATE if regenerate else COMPATIBLE
        return Change(self.operation_id, key[0], key[1], what, severity, names)

    def sent_or_read(self, key: Key) -> bool:
        return bool(self.wrapper.names(self.operation_id, *key))

    def sent(self, key: Key) -> Sent | None:
        """What the wrapper sends for a parameter, if ``wrapper-fields.yaml`` says."""
        if key[0] not in PARAMETER_LOCATIONS:
            return None
        return self.wrapper.sent.get(self.operation_id, {}).get(key[1])

    @property
    def used(self) -> bool:
        return self.wrapper.used(self.operation_id)

    def removed(self, key: Key, renamed_to: Key | None) -> Change:
        before = self.old[key]
        if renamed_to is None:
            what = f"removed (was {before.describe()})"
        else:
            what = f"likely renamed to {_leaf(renamed_to[1])} (same schema)"
        if (
            renamed_to is not None
            and key[0] == "path"
            and renamed_to[0] == "path"
            and key[1] in self.old_path
            and renamed_to[1] in self.new_path
            and self.old_path.index(key[1]) == self.new_path.index(renamed_to[1])
        ):
            # Same place in the same URL: the wrapper passes path parameters by position.
            what = f"{what} at the same place in the URL"
            return self.change(key, what, False, regenerate=True)
        if key[0] in PARAMETER_LOCATIONS or key[0] == BODY:
            new_required = renamed_to is not None and self.new[renamed_to].required
            why = "and the new name is required" if new_required else ""
            return self.change(key, what, self.sent_or_read(key) or new_required, why)
        if not key[1]:
            return self.change(key, "response removed", self.sent_or_read(key))
        # Array items and map values are not popped by name.
        strict = self.used and before.required and not key[1].endswith(("[]", "{}"))
        why = "the generated model requires it" if strict else ""
        return self.change(key, what, self.sent_or_read(key) or strict, why)

    def added(self, key: Key) -> Change:
        after = self.new[key]
        if key[0] in PARAMETER_LOCATIONS or key[0] == BODY:
            return self.change(key, f"added ({after.describe()})", after.required)
        if not key[1]:
            return self.change(key, f"response added ({after.kind})", False)
        return self.change(key, f"added ({after.describe()})", False)

    def retyped(self, key: Key, before: Field, after: Field, read: bool, converted: bool) -> Change:
        what = f"type {before.kind} -> {after.kind}"
        request = key[0] in PARAMETER_LOCATIONS or key[0] == BODY
        if not request and read and (before.kind, after.kind) == ("number", "integer"):
            # Every integer is a number: the wrapper reads it as one either way.
            return self.change(key, f"{what}; the wrapper reads a number", False, regenerate=True)
        if not request and not read and before.kind in _DATES and after.kind in _DATES:
            # The generated model parses either with isoparse; the wrapper does not read it.
            return self.change(key, f"{what}; the wrapper does not read it", False, regenerate=True)
        why = "the generated model converts it" if converted else ""
        return self.change(key, what, read or converted, why)

    def altered(self, key: Key) -> list[Change]:
        before, after = self.old[key], self.new[key]
        request = key[0] in PARAMETER_LOCATIONS or key[0] == BODY
        read = self.sent_or_read(key)
        converted = not request and self.used and _converted(self.old, key)
        why = "the generated model converts it" if converted else ""
        changes: list[Change] = []
        if before.kind != after.kind:
            changes.append(self.retyped(key, before, after, read, converted))
        if before.nullable != after.nullable:
            loosened = after.nullable and not request
            what = "now nullable" if after.nullable else "no longer nullable"
            changes.append(self.change(key, what, loosened and (read or converted), why))
        if before.required != after.required:
            if after.required:
                # A read field made required becomes non-optional in the generated model: the
                # wrapper's parse, written for a field that may be missing, no longer type-checks.
                breaking = request or (read and bool(key[1]))
                reason = "" if request else "the generated model makes it non-optional"
                what = f"now required; {reason}" if breaking and reason else "now required"
                replaced = self.replaced_problem(key, after)
                if replaced is not None and not request:
                    # The model never sees the field as sent: what the wrapper hands it must do.
                    breaking = breaking or bool(replaced)
                    what = f"now required; {replaced or 'the wrapper' + self.stand_in(key)}"
                changes.append(self.change(key, what, breaking))
            else:
                strict = not request and self.used and bool(key[1])
                breaking = not request and (read or strict)
                why_optional = "the generated model requires it" if strict else ""
                changes.append(self.change(key, "now optional", breaking, why_optional))
        changes.extend(self.enum_changes(key, before, after, request, read))
        if before.units != after.units:
            what = f"unit {_units(before.units)} -> {_units(after.units)}"
            changes.append(self.change(key, what, read))
        if before.validation != after.validation:
            changes.append(self.validation_change(key, before, after, read))
        if before.closed != after.closed and not request:
            what = (
                "additionalProperties: false (the generated model keeps no unknown fields)"
                if after.closed
                else "additionalProperties no longer false"
            )
            changes.append(self.change(key, what, False, regenerate=self.used))
        return changes

    def stand_in(self, key: Key) -> str:
        """Say what the wrapper hands the generated model for a replaced field."""
        value = self.wrapper.replaced.get(self.operation_id, {}).get(key)
        if value == OMITTED:
            return " removes it before the generated model sees it"
        return f" hands the generated model {json.dumps(value)}, which it accepts"

    def replaced_problem(self, key: Key, after: Field) -> str | None:
        """For a field the wrapper replaces (``replaced``): why the stand-in no longer does.

        Returns:
            None if the wrapper does not replace the field, ``""`` if its stand-in is accepted,
            else the reason it is not.
        """
        stand_ins = self.wrapper.replaced.get(self.operation_id, {})
        if key not in stand_ins:
            return None
        value = stand_ins[key]
        if value == OMITTED:
            return (
                "the wrapper removes it before the generated model, which would now fail without it"
            )
        accepted = (
            (value is None and after.nullable)
            or (isinstance(value, list) and "array" in after.kind)
            or (isinstance(value, dict) and "object" in after.kind)
        )
        if accepted:
            return ""
        shown = json.dumps(value)
        return f"the wrapper hands the generated model {shown}, which a {after.kind} is not"

    def validation_change(self, key: Key, before: Field, after: Field, sent: bool) -> Change:
        old, new = dict(before.validation), dict(after.validation)
        parts = [
            f"{keyword} {old.get(keyword, '(none)')} -> {new.get(keyword, '(none)')}"
            for keyword in sorted(old.keys() | new.keys())
            if old.get(keyword) != new.get(keyword)
        ]
        what = f"validation {', '.join(parts)}"
        declared = self.sent(key)
        if not sent:
            return self.change(key, what, False)
        if declared is None:
            # Sent, but nothing says what: a new limit may reject it.
            return self.change(key, f"{what}; what the wrapper sends is not declared", True)
        problems = _accepts(after, declared)
        if problems:
            return self.change(key, f"{what}: {'; '.join(problems)}", True)
        return self.change(key, f"{what}; accepts what the wrapper sends", False)

    def enum_changes(
        self, key: Key, before: Field, after: Field, request: bool, read: bool
    ) -> list[Change]:
        why = "the generated enum rejects unknown values"
        if before.enum == after.enum:
            return []
        if before.enum is None:
            what = f"now restricted to enum values {', '.join(after.enum or ())}"
            return [self.change(key, what, request and read)]
        if after.enum is None:
            return [self.change(key, "no longer an enum", not request and self.used, why)]
        changes = []
        gone = sorted(set(before.enum) - set(after.enum))
        if gone:
            what = f"enum values removed: {', '.join(gone)}"
            declared = self.sent(key)
            if request and read and declared is not None:
                sent = {json.dumps(value, sort_keys=True) for value in declared.values}
                if sent.isdisjoint(gone):
                    what = f"{what}; the wrapper never sends them"
                    changes.append(self.change(key, what, False, regenerate=True))
                else:
                    what = f"{what}; the wrapper sends {', '.join(sorted(sent & set(gone)))}"
                    changes.append(self.change(key, what, True))
            else:
                changes.append(self.change(key, what, request and read))
        new = sorted(set(after.enum) - set(before.enum))
        if new:
            what = f"enum values added: {', '.join(new)}"
            changes.append(self.change(key, what, not request and self.used, why))
        return changes


def _diff_fields(
    operation_id: str,
    old: Mapping[Key, Field],
    new: Mapping[Key, Field],
    wrapper: WrapperFields,
    paths: tuple[tuple[str, ...], tuple[str, ...]] = ((), ()),
) -> list[Change]:
    rules = _Rules(operation_id, wrapper, old, new, *paths)
    retyped = {key for key in old.keys() & new.keys() if old[key].kind != new[key].kind}
    removed = _topmost(old.keys() - new.keys(), retyped)
    added = _topmost(new.keys() - old.keys(), retyped)
    renamed = _pair_renames(removed, added, old, new)
    changes = [rules.removed(key, renamed.get(key)) for key in removed]
    changes += [rules.added(key) for key in added if key not in renamed.values()]
    for key in sorted(old.keys() & new.keys()):
        changes += rules.altered(key)
    return changes


def _sort_key(change: Change) -> tuple[str, int, str, str, str]:
    # The operation itself, then parameters, the request body, and responses by status.
    group = change.group
    if not group:
        rank = 0
    elif group in PARAMETER_LOCATIONS:
        rank = 1 + PARAMETER_LOCATIONS.index(group)
    else:
        rank = 8 if group == BODY else 9
    return (change.operation, rank, group, change.path, change.what)


def _servers(document: Mapping[str, Any]) -> list[str]:
    return [
        server["url"].rstrip("/")
        for server in _list(document.get("servers"))
        if isinstance(server, dict) and isinstance(server.get("url"), str)
    ]


def _server_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], wrapper: WrapperFields
) -> list[Change]:
    before, after = _servers(old), _servers(new)
    if before == after:
        return []
    what = f"servers {', '.join(before) or '(none)'} -> {', '.join(after) or '(none)'}"
    base = wrapper.client.base_url.rstrip("/")
    if base and base not in after:
        what = f"{what}; the wrapper's default base URL {base} is not among them"
        return [Change("servers", "", "", what, BREAKING, ("Client base_url",))]
    return [Change("servers", "", "", what, COMPATIBLE)]


def _own_servers(operation: _Operation) -> list[str] | None:
    """The servers an operation sets for itself (operation, else path item), or None."""
    for holder in (operation.node, operation.path_item):
        if _list(holder.get("servers")):
            return _servers(holder)
    return None


def _operation_server_changes(
    old: Mapping[str, Any],
    before: _Operation,
    new: Mapping[str, Any],
    after: _Operation,
    wrapper: WrapperFields,
) -> list[Change]:
    """``servers`` of a path item or an operation: they override the document's for it."""
    own_before, own_after = _own_servers(before), _own_servers(after)
    if own_before is None and own_after is None:
        return []  # the document's servers, compared once for all operations
    old_servers = _servers(old) if own_before is None else own_before
    new_servers = _servers(new) if own_after is None else own_after
    if old_servers == new_servers:
        return []
    what = f"servers {', '.join(old_servers) or '(none)'} -> {', '.join(new_servers) or '(none)'}"
    base = wrapper.client.base_url.rstrip("/")
    if base and wrapper.used(after.operation_id) and base not in new_servers:
        what = f"{what}; the wrapper's default base URL {base} is not among them"
        names = ("Client base_url",)
        return [Change(before.operation_id, "servers", "", what, BREAKING, names)]
    return [Change(before.operation_id, "servers", "", what, COMPATIBLE)]


def _api_key_schemes(document: Mapping[str, Any], operation: _Operation) -> list[str]:
    """Describe the API key schemes an operation accepts: ``name in header``, ..."""
    requirements = operation.node.get("security", document.get("security"))
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    found: list[str] = []
    for requirement in _list(requirements):
        for name in requirement if isinstance(requirement, dict) else ():
            scheme = schemes.get(name) if isinstance(schemes, dict) else None
            if isinstance(scheme, dict) and isinstance(scheme.get("$ref"), str):
                scheme = _Flattener(document, operation.operation_id).resolve(scheme, frozenset())[
                    0
                ]
            if isinstance(scheme, dict) and scheme.get("type") == "apiKey":
                found.append(f"{_text(scheme.get('name')).lower()} in {_text(scheme.get('in'))}")
            elif isinstance(scheme, dict):
                found.append(f"{_text(scheme.get('type')) or 'unknown'} {name}")
    return sorted(set(found))


def _security_change(
    old: Mapping[str, Any],
    before: _Operation,
    new: Mapping[str, Any],
    after: _Operation,
    wrapper: WrapperFields,
) -> list[Change]:
    old_schemes, new_schemes = _api_key_schemes(old, before), _api_key_schemes(new, after)
    if old_schemes == new_schemes:
        return []
    what = f"security {', '.join(old_schemes) or '(none)'} -> {', '.join(new_schemes) or '(none)'}"
    header = wrapper.client.api_key_header.lower()
    wanted = f"{header} in header"
    if header and wrapper.used(after.operation_id) and wanted not in new_schemes:
        what = f"{what}; the wrapper sends its API key as {header}"
        return [Change(before.operation_id, "security", "", what, BREAKING, ("api_key argument",))]
    return [Change(before.operation_id, "security", "", what, COMPATIBLE)]


def diff(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    operation_ids: Sequence[str],
    wrapper: WrapperFields,
) -> Report:
    """Compare our operations in two documents.

    Args:
        old: The previous slice (an empty mapping when there is none).
        new: The new full spec, or a slice of it: only our operations are looked at.
        operation_ids: The operations to vendor from now on (``operations.txt``).
        wrapper: What the wrapper uses.

    Returns:
        The changes to the operations of ``old`` and ``operation_ids``, and to the servers,
        sorted.

    Raises:
        SpecDiffError: A document is not shaped like OpenAPI or a reference does not resolve.

    """
    before = _index(old, "the previous slice")
    after = _index(new, "the new spec")
    urls: dict[str, str] = {}
    for operation in after.values():
        urls.setdefault(operation.url, operation.operation_id)
    wanted = set(operation_ids)
    changes: list[Change] = _server_changes(old, new, wrapper) if before else []
    compared: set[str] = set()

    def whole(operation_id: str, what: str, breaking: bool) -> None:
        names = wrapper.names(operation_id) if breaking else ()
        severity = BREAKING if breaking else COMPATIBLE
        changes.append(Change(operation_id, "", "", what, severity, names))

    for operation_id in sorted(before):
        previous = before[operation_id]
        if operation_id in wanted and operation_id in after:
            current = after[operation_id]
            # Path parameters renamed in place are the same URL: compared as parameters below.
            if current.url != previous.url:
                whole(operation_id, f"moved from {previous.route} to {current.route}", True)
        else:
            renamed = urls.get(previous.url)
            if renamed is not None and renamed != operation_id:
                current = after[renamed]
                whole(operation_id, f"operationId renamed to {renamed}", True)
            elif operation_id not in wanted:
                whole(operation_id, "no longer vendored (not in operations.txt)", True)
                continue
            else:
                whole(operation_id, f"operation removed (was {previous.route})", True)
                continue
        compared.add(current.operation_id)
        places = (tuple(previous.path_parameters()), tuple(current.path_parameters()))
        changes += _diff_fields(
            operation_id, flatten(old, previous), flatten(new, current), wrapper, places
        )
        changes += _security_change(old, previous, new, current, wrapper)
        changes += _operation_server_changes(old, previous, new, current, wrapper)
    for operation_id in sorted(wanted - before.keys() - compared):
        if operation_id in after:
            whole(operation_id, f"operation added ({after[operation_id].route})", False)
    return Report(tuple(sorted(changes, key=_sort_key)))
