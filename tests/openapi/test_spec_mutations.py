"""Property: spec-diff says OK only when the wrapper works with the client regenerated from it.

Mutations of the spec are generated at random (seeded): a component renamed with every ``$ref``
following, an operation's tag changed, a ``$ref`` inlined at one of its uses, an optional query
parameter added (with or without a default), an optional response field added. For each,
``vendor_spec.py --dry-run`` gives a verdict (its proof included), and, independently, the
maintainer's steps run in a copy of the project: ``make vendor-spec`` and ``make generate`` (the
scripts of the copy), then ``mypy --strict`` on ``wrapper/`` and the wrapper tests against the
regenerated client. The verdict must be OK only when those pass; and since every one of these
mutations is compatible, it must be OK.

``make test`` runs a small sample (:data:`SMALL`, marked ``generator``); ``make
test-spec-mutations`` a larger one (``EI_SPEC_MUTATIONS``, each kind about equally often), with
the full proof test set (``EI_SPEC_PROOF_TESTS=full``).
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from .conftest import load_tools, proof_module

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "edge-impulse.yaml"
SLICE: dict[str, Any] = yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))
Document = dict[str, Any]
OK = {"none", "compatible", "regenerate"}

sd, vs = load_tools("_vendor_spec_for_mutations")


# --- the mutations --------------------------------------------------------------------------


def _schema_names(document: Document) -> list[str]:
    return sorted(document["components"]["schemas"])


def _operations(document: Document) -> list[dict[str, Any]]:
    return [item["get"] for _, item in sorted(document["paths"].items())]


def rename_component(document: Document, rng: random.Random) -> str:
    old = rng.choice(_schema_names(document))
    new = f"{old}{rng.choice(['V2', 'Model', 'Record'])}"
    text = json.dumps(document).replace(
        f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"'
    )
    renamed = json.loads(text)
    renamed["components"]["schemas"][new] = renamed["components"]["schemas"].pop(old)
    document.clear()
    document.update(renamed)
    return f"rename {old} -> {new}"


def change_tag(document: Document, rng: random.Random) -> str:
    operation = rng.choice(_operations(document))
    tag = rng.choice(["WhiteLabel", "Metrics", "Admin", "Usage"])
    operation["tags"] = [tag]
    return f"tag {operation['operationId']} -> {tag}"


def _ref_sites(node: Any, found: list[tuple[dict[str, Any], str]]) -> None:
    """Every place holding a ``$ref`` to a schema: (mapping, key)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict) and str(value.get("$ref", "")).startswith(
                "#/components/schemas/"
            ):
                found.append((node, key))
            _ref_sites(value, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, dict) and str(value.get("$ref", "")).startswith(
                "#/components/schemas/"
            ):
                found.append(({"list": node, "index": index}, "__list__"))
            _ref_sites(value, found)


def inline_ref(document: Document, rng: random.Random) -> str:
    sites: list[tuple[dict[str, Any], str]] = []
    _ref_sites(document["paths"], sites)
    _ref_sites(document["components"], sites)
    holder, key = rng.choice(sites)
    if key == "__list__":
        container, index = holder["list"], holder["index"]
        name = container[index]["$ref"].rsplit("/", 1)[-1]
        container[index] = copy.deepcopy(document["components"]["schemas"][name])
    else:
        name = holder[key]["$ref"].rsplit("/", 1)[-1]
        holder[key] = copy.deepcopy(document["components"]["schemas"][name])
    return f"inline a $ref to {name}"


def add_optional_parameter(document: Document, rng: random.Random) -> str:
    operation = rng.choice(_operations(document))
    schema: dict[str, Any] = rng.choice(
        [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]
    )
    if rng.random() < 0.5:
        schema["default"] = {"string": "UTC", "integer": 10, "boolean": False}[schema["type"]]
    name = rng.choice(["timezone", "region", "granularity", "includeArchived"])
    operation["parameters"].append(
        {"name": name, "in": "query", "required": False, "schema": dict(schema)}
    )
    return f"{operation['operationId']} gains optional {name} {schema}"


def _object_schemas(document: Document) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document["components"]["schemas"])
    return found


def add_response_field(document: Document, rng: random.Random) -> str:
    schema = rng.choice(_object_schemas(document))
    field: dict[str, Any] = rng.choice(
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "number", "description": "in seconds"},
            {"type": "boolean"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "properties": {"label": {"type": "string"}}},
        ]
    )
    name = rng.choice(["region", "tier", "extra", "labels"])
    schema["properties"][f"{name}Info"] = field
    return f"response field {name}Info {field['type']}"


KINDS: dict[str, Callable[[Document, random.Random], str]] = {
    "rename a component": rename_component,
    "change a tag": change_tag,
    "inline a $ref": inline_ref,
    "add an optional parameter": add_optional_parameter,
    "add a response field": add_response_field,
}
SMALL = ("rename a component", "change a tag", "inline a $ref")
"""The sample ``make test`` runs: mutations whose slice the slicer pins back (quick)."""


def sample(kinds: tuple[str, ...], count: int, seed: int) -> list[Any]:
    cases = []
    for number in range(count):
        kind = kinds[number % len(kinds)]
        cases.append(pytest.param(kind, seed + number, id=f"{kind} #{seed + number}"))
    return cases


# --- the maintainer's steps, in a copy of the project -------------------------------------------


def _generated_files(tree: Path) -> dict[str, list[str]]:
    return {
        path.relative_to(tree).as_posix(): [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("# Spec:", "# Config:"))
        ]
        for path in sorted(tree.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def maintainer_steps(spec: Path, project: Path) -> str | None:
    """``make vendor-spec && make generate``, mypy and the tests, in a copy: why they fail."""
    ignore = shutil.ignore_patterns("__pycache__", ".mypy_cache", ".hypothesis")
    for name in ("wrapper", "tests", "openapi", "generated"):
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    for name in ("pyproject.toml", "generator-config.yaml"):
        shutil.copyfile(ROOT / name, project / name)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "EI_"))}
    environment["PYTHONPATH"] = f"{project / 'wrapper'}{os.pathsep}{project / 'generated'}"
    environment["PYTHONDONTWRITEBYTECODE"] = "1"

    def run(*command: str) -> str | None:
        result = subprocess.run(
            command,
            cwd=project,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        if result.returncode != 0:
            return f"{' '.join(command[:3])}: {(result.stdout + result.stderr)[-2000:]}"
        return None

    tools = project / "openapi" / "tools"
    problem = run(
        sys.executable, str(tools / "vendor_spec.py"), "--from", str(spec), "--no-generate"
    )
    problem = problem or run(sys.executable, str(tools / "generate.py"))
    if problem:
        return problem
    package = Path("generated") / "edge_impulse_api_client"
    if _generated_files(project / package) == _generated_files(ROOT / package):
        return None  # the client the repository's own tests run the wrapper against
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        # The generated package is a dependency here, as when installed in the repository.
        handle.write(
            '\n[[tool.mypy.overrides]]\nmodule = ["edge_impulse_api_client.*"]\n'
            "ignore_errors = true\n"
        )
    mypy = str(Path(sys.executable).parent / "mypy")
    problem = run(mypy, "--strict", "--cache-dir", str(project / ".mypy_cache"), "wrapper")
    tests = list(proof_module.PROOF_TESTS)
    return problem or run(
        sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests
    )


def check_mutation(
    kind: str, seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = copy.deepcopy(SLICE)
    document["paths"]["/api/other"] = {
        "get": {"operationId": "getOther", "responses": {"204": {"description": "Nothing"}}}
    }
    what = KINDS[kind](document, random.Random(seed))
    spec = tmp_path / "openapi.yml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    output = tmp_path / "edge-impulse.yaml"
    output.write_bytes(COMMITTED.read_bytes())
    status = vs.main(["--from", str(spec), "--output", str(output), "--dry-run", "--json"])
    report = json.loads(capsys.readouterr().out)
    problem = maintainer_steps(spec, tmp_path / "project")
    verdict_ok = report["verdict"] in OK and status == 0
    assert verdict_ok == (problem is None), (what, report, problem)
    # Every mutation here is compatible: the wrapper must survive it.
    assert verdict_ok, (what, report, problem)


@pytest.mark.generator
@pytest.mark.parametrize(("kind", "seed"), sample(SMALL, len(SMALL), seed=21))
def test_small_sample_of_mutations(
    kind: str, seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_mutation(kind, seed, tmp_path, capsys)


LARGE = int(os.environ.get("EI_SPEC_MUTATIONS", "0"))


@pytest.mark.generator
@pytest.mark.skipif(LARGE == 0, reason="the larger sample: make test-spec-mutations")
@pytest.mark.parametrize(("kind", "seed"), sample(tuple(KINDS), max(LARGE, 1), seed=2100))
def test_larger_sample_of_mutations(
    kind: str, seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check_mutation(kind, seed, tmp_path, capsys)
