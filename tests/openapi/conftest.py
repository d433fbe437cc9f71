"""Where the tests of openapi/tools find the full Edge Impulse spec.

``EI_FULL_SPEC=/path/to/openapi.yml`` points them at a downloaded spec; otherwise they use
``../shared/specs/edge-impulse-openapi.yml`` when that exists, and skip when neither does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
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
