"""Where the tests of openapi/tools find the full Edge Impulse spec; the generator step.

``EI_FULL_SPEC=/path/to/openapi.yml`` points them at a downloaded spec; otherwise they use
``../shared/specs/edge-impulse-openapi.yml`` when that exists, and skip when neither does.

``make spec-diff`` proves every new slice it would call OK (``openapi/tools/proof.py``: regenerate,
import the wrapper, mypy, fast wrapper tests; 20 to 40 s). Tests get a stand-in that says the proof
passed, and records each slice it is given, unless they are marked ``generator``: those run the
real proof (a few, for the cases only it catches), with the smaller test set
:data:`proof.SMOKE_TESTS` unless ``EI_SPEC_PROOF_TESTS=full`` (``make test-spec-mutations``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "openapi" / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
# The modules vendor_spec.py imports as `generate` and `proof`, whichever way a test loads it.
generate_module = importlib.import_module("generate")
proof_module = importlib.import_module("proof")


def load_tools(name: str) -> tuple[ModuleType, ModuleType]:
    """Return ``(spec_diff, vendor_spec)`` as the scripts see them, vendor_spec under ``name``.

    vendor_spec imports spec_diff from its own directory, as it does when run as a script.
    """
    differ = importlib.import_module("spec_diff")
    spec = importlib.util.spec_from_file_location(name, TOOLS / "vendor_spec.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return differ, module


@pytest.fixture(autouse=True)
def generated_slices(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The slices handed to the generator step; a stand-in for it unless marked ``generator``."""
    seen: list[str] = []
    if request.node.get_closest_marker("generator") is None:

        def check_spec(spec_text: str, config: Path, timeout_seconds: float) -> str | None:
            seen.append(spec_text)
            return None

        def prove(spec_text: str, **_: Any) -> Any:
            seen.append(spec_text)
            return proof_module.Proof(None, "tests", 0.0, "stand-in", client_changed=False)

        monkeypatch.setattr(generate_module, "check_spec", check_spec)
        monkeypatch.setattr(proof_module, "prove", prove)
    elif os.environ.get("EI_SPEC_PROOF_TESTS") != "full":
        monkeypatch.setattr(proof_module, "PROOF_TESTS", proof_module.SMOKE_TESTS)
    return seen


SHARED_SPEC = ROOT.parent / "shared" / "specs" / "edge-impulse-openapi.yml"
NO_FULL_SPEC = (
    "no full Edge Impulse spec: set EI_FULL_SPEC=/path/to/openapi.yml "
    "(or check out ../shared next to this repository)"
)


@pytest.fixture(scope="session")
def full_spec() -> Path:
    """The full spec's path: $EI_FULL_SPEC, else ../shared's copy; skip if there is none."""
    override = os.environ.get("EI_FULL_SPEC")
    if override:
        path = Path(override)
        if not path.is_file():
            pytest.fail(f"EI_FULL_SPEC={override} is not a file")
        return path
    if not SHARED_SPEC.is_file():
        pytest.skip(NO_FULL_SPEC)
    return SHARED_SPEC
