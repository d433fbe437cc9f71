"""What the prepared calls send when the generated operations grow parameters (issue 21)."""

from __future__ import annotations

from typing import Any

import pytest

from ei_usage import _calls


def test_compute_time_route_ignores_parameters_the_spec_adds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new optional parameter with a default takes the server's default: no RuntimeError."""
    real = _calls._compute_time_op._get_kwargs

    def get_kwargs(*args: Any, **kwargs: Any) -> dict[str, Any]:
        described: dict[str, Any] = real(*args, **kwargs)
        described["params"]["timezone"] = "UTC"
        return described

    monkeypatch.setattr(_calls._compute_time_op, "_get_kwargs", get_kwargs)
    _calls.compute_time_route.cache_clear()
    try:
        call = _calls.compute_time_call(1, 2, "2024-05")
    finally:
        _calls.compute_time_route.cache_clear()
    assert "timezone" not in call.target
    assert call.target.endswith(
        "/computeTime?startDate=2024-05-01T00%3A00%3A00.000Z&endDate=2024-06-01T00%3A00%3A00.000Z"
    )


def test_compute_time_route_still_refuses_a_slice_without_the_dates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def get_kwargs(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"method": "get", "url": "/x", "params": {"from": "x", "to": "y"}}

    monkeypatch.setattr(_calls._compute_time_op, "_get_kwargs", get_kwargs)
    _calls.compute_time_route.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="takes query parameters"):
            _calls.compute_time_route(1, 2)
    finally:
        _calls.compute_time_route.cache_clear()


def test_calls_send_only_the_parameters_the_wrapper_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = _calls._info_op._get_kwargs

    def get_kwargs(*args: Any, **kwargs: Any) -> dict[str, Any]:
        described: dict[str, Any] = real(*args, **kwargs)
        described["params"]["region"] = "eu"  # a new optional parameter's declared default
        return described

    monkeypatch.setattr(_calls._info_op, "_get_kwargs", get_kwargs)
    call = _calls.organization_info_call(1, 2, include_deleted=True)
    assert call.target == "/api/organizations/1/whitelabel/organizations/2?includeDeleted=true"


def test_the_sent_parameters_are_those_declared_in_wrapper_fields() -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    declared = yaml.safe_load((root / "openapi" / "wrapper-fields.yaml").read_text())
    spec = yaml.safe_load((root / "openapi" / "edge-impulse.yaml").read_text())
    query = {p["name"] for p in spec["components"]["parameters"].values() if p["in"] == "query"}
    sent = {
        name
        for operation, sections in declared.items()
        if operation not in ("client", "generated")
        for name in sections["parameters"]
        if name in query
    }
    assert sent == _calls._SENT_QUERY
