"""Every cassette is scrubbed, readable, and agrees with the vendored spec.

Runs over the files themselves, so a re-recording that leaks a credential or shows that the live
API drifted from the spec fails here, whichever test recorded it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = sorted((Path(__file__).parent / "cassettes").rglob("*.yaml"))
SPEC = yaml.safe_load((ROOT / "openapi" / "edge-impulse.yaml").read_text())
REDACTED = "<REDACTED>"
SECRET_HEADERS = {"x-api-key", "x-jwt-token", "authorization", "cookie", "set-cookie"}
SECRET_SHAPES = {
    "Edge Impulse API key": re.compile(r"\bei_[0-9a-f]{32,}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "bearer token": re.compile(r"Bearer\s+(?!<REDACTED>)\S+", re.IGNORECASE),
    # letters and digits mixed, 32 or more: keys, tokens, hashes (paths and words have slashes)
    "long random token": re.compile(
        r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}"
    ),
    "recording key": re.compile(r"recording-[0-9a-f]{16}"),
}


def operation_for(path: str) -> dict[str, Any]:
    """Find the vendored operation whose path template matches ``path``."""
    for template, item in SPEC["paths"].items():
        pattern = re.sub(r"\{[^}]+\}", "[0-9]+", template)
        if re.fullmatch(r"/v1" + pattern, path):
            return item["get"]  # type: ignore[no-any-return]
    raise AssertionError(f"{path} is not an operation of the vendored spec")


def response_validator(operation: dict[str, Any]) -> OAS30Validator:
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    # Resolve the operation's $refs against the spec's own components.
    return OAS30Validator({**schema, "components": SPEC["components"]})


def interactions(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    return data["interactions"]  # type: ignore[no-any-return]


def test_there_are_cassettes() -> None:
    assert len(CASSETTES) >= 24


def test_every_vendored_operation_has_a_recorded_success() -> None:
    recorded = set()
    for path in CASSETTES:
        for interaction in interactions(path):
            if interaction["response"]["status"]["code"] == 200:
                path_only = interaction["request"]["uri"].split("://", 1)[1].split("?", 1)[0]
                recorded.add(operation_for("/" + path_only.split("/", 1)[1])["operationId"])
    vendored = {item["get"]["operationId"] for item in SPEC["paths"].values()}
    assert recorded == vendored


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_cassette_is_readable_and_scrubbed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "!!binary" not in text, "compressed body stored as binary: decode it"
    assert "!!python" not in text
    recorded = interactions(path)
    assert recorded
    for interaction in recorded:
        for part in ("request", "response"):
            for name, values in interaction[part]["headers"].items():
                if name.lower() in SECRET_HEADERS:
                    assert values == [REDACTED], f"{part} header {name} holds a value"
        assert interaction["request"]["uri"].startswith("https://studio.edgeimpulse.com/v1/")
    for label, shape in SECRET_SHAPES.items():
        assert not shape.search(text), f"{path.name} holds something shaped like a {label}"


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: p.stem)
def test_recorded_2xx_bodies_follow_the_vendored_spec(path: Path) -> None:
    for interaction in interactions(path):
        status = interaction["response"]["status"]["code"]
        body = interaction["response"]["body"]["string"]
        if not 200 <= status < 300:
            continue
        data = json.loads(body)
        if data.get("success") is False:
            continue  # an error envelope: GenericApiResponse, checked by the client's tests
        path_only = interaction["request"]["uri"].split("://", 1)[1].split("?", 1)[0]
        operation = operation_for("/" + path_only.split("/", 1)[1])
        errors = sorted(response_validator(operation).iter_errors(data), key=str)
        assert not errors, f"{path.name}: {[e.message for e in errors]}"


def test_the_schema_check_can_fail() -> None:
    operation = operation_for("/v1/api/organizations/1/metrics")
    bad = {"success": True, "metrics": {"totalJobsComputeTime": "12"}}
    assert list(response_validator(operation).iter_errors(bad))


@pytest.mark.parametrize(
    ("label", "sample"),
    [
        ("Edge Impulse API key", "ei_" + "0123456789abcdef" * 4),
        ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig"),
        ("bearer token", "authorization: Bearer abc.def"),
        ("long random token", "x-token: 8f3a0c2d9e7b41f6a5c3e2d1b0f9e8d7c6"),
    ],
)
def test_the_secret_check_can_fail(label: str, sample: str) -> None:
    assert SECRET_SHAPES[label].search(sample)


def test_ordinary_cassette_text_is_not_taken_for_a_secret() -> None:
    text = (
        "uri: https://studio.edgeimpulse.com/v1/api/organizations/1/whitelabel/organizations/2/"
        "usage/computeTime?startDate=2024-05-01T00%3A00%3A00.000Z x-api-key: <REDACTED>"
    )
    assert not any(shape.search(text) for shape in SECRET_SHAPES.values())
