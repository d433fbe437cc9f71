"""The architecture, checked: one-way imports, a straight report path, a light ``import``.

The README's "Layout" describes these rules; this module fails when code drifts from them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "wrapper" / "ei_usage"


def _imports(path: Path, *, runtime_only: bool) -> set[str]:
    """Modules of ei_usage that ``path`` imports (``_calls``, ``cli._render``...).

    With ``runtime_only``, imports under ``if TYPE_CHECKING:`` and inside functions (loaded on
    first use) are left out: what remains runs when the module is imported.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.parent.relative_to(PACKAGE.parent).as_posix().replace("/", ".")
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if not runtime_only:
                    visit(child, top)
                for orelse in child.orelse:
                    visit(orelse, top)
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if not runtime_only:
                    visit(child, False)
                continue
            if isinstance(child, ast.ImportFrom):
                base = _resolve(package, child.module, child.level)
                if base is not None:
                    if child.module is None or base == "ei_usage":
                        found.update(f"{base}.{alias.name}" for alias in child.names)
                    else:
                        found.add(base)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("ei_usage"))
            visit(child, top)

    visit(tree, True)
    return {name.removeprefix("ei_usage.") for name in found if name.startswith("ei_usage.")}


def _resolve(package: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module if module and module.startswith("ei_usage") else None
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{module}" if module else base


def _module_files() -> dict[str, Path]:
    files = {}
    for path in PACKAGE.rglob("*.py"):
        name = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        files[name.removesuffix(".__init__")] = path
    return files


def test_core_modules_import_each_other_one_way_only() -> None:
    files = _module_files()
    graph = {
        name: {i for i in _imports(path, runtime_only=True) if i in files}
        for name, path in files.items()
        if name.startswith("_")
    }

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for c in map(cycle_from, graph) if c]
    assert not cycles, f"import cycles among core modules: {cycles}"


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        # Request descriptions and listing iterators both depend on _plan, not on each other.
        ("_calls", "_listing"),
        ("_listing", "_calls"),
        # _render loads _html for --format html; _html needs nothing of _render.
        ("cli._html", "cli._render"),
        # Planning comes first and knows nothing of what follows.
        ("_plan", "_calls"),
        ("_plan", "_listing"),
    ],
)
def test_modules_that_must_not_import_another(importer: str, imported: str) -> None:
    # Not even for type checking.
    assert imported not in _imports(_module_files()[importer], runtime_only=False)


def test_the_report_path_does_not_call_back_up() -> None:
    """Plan, store, send and assemble are called by the client; none imports the client."""
    files = _module_files()
    for name in ("_plan", "_history", "_runner", "_report", "_calls", "_listing", "_paging"):
        assert "_client" not in _imports(files[name], runtime_only=False), name
    # The planning and assembling steps know nothing of HTTP.
    for name in ("_plan", "_history", "_report"):
        assert not {"_calls", "_parse", "_transport", "_runner"} & _imports(
            files[name], runtime_only=False
        ), name


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


HEAVY = {
    "asyncio",
    "concurrent.futures",
    "edge_impulse_api_client",
    "ei_usage.store",
    "ei_usage.exporter",
    "ei_usage.cli",
    "ei_usage.forecast",
    "ei_usage._report",
    "ei_usage._runner",
    "sqlalchemy",
    "alembic",
    "prometheus_client",
}
# Not click and rich: httpx itself imports them when they are installed (its command line).


def test_importing_the_client_loads_nothing_a_first_call_does_not_need() -> None:
    loaded = _loaded_after("from ei_usage import Client, DateRange")
    assert not HEAVY & loaded, sorted(HEAVY & loaded)


def test_a_sync_call_never_loads_asyncio_nor_a_thread_pool() -> None:
    code = """
import httpx
from ei_usage import Client
body = b'{"success":true,"cpuComputeTime":1,"gpuComputeTime":0,"totalComputeTime":0.1}'
transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
with Client("ei_0123456789abcdef", transport=transport) as client:
    assert client.compute_time(1, 2, "2024-05").cpu is not None
"""
    loaded = _loaded_after(code)
    assert "edge_impulse_api_client" in loaded  # the call did run
    assert not {"asyncio", "concurrent.futures", "ei_usage._runner"} & loaded
