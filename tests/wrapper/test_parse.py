"""Reading an answer: linear summaries, scrubbing before cutting, schema drift, hostile values."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ei_usage import (
    APIError,
    Client,
    NotFoundError,
    RequestInfo,
    ResponseValidationError,
    ServerError,
)
from ei_usage import _parse as parse
from ei_usage._config import make_credential

REQUEST = RequestInfo("GET", "https://studio.edgeimpulse.com/v1/api/organizations/1/metrics")
GUARD = 10.0


def answer(
    body: bytes | str, status: int = 200, *, truncated: bool = False, **headers: str
) -> parse.Answer:
    content = body.encode() if isinstance(body, str) else body
    return parse.Answer(status, headers, content, truncated)


def finishes(function: Any, *args: Any) -> Any:
    """Run ``function`` on a thread; fail (instead of hanging the suite) if it never returns."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(function(*args)), daemon=True)
    thread.start()
    thread.join(GUARD)
    assert not thread.is_alive(), f"{function.__name__} did not finish in {GUARD}s"
    return result[0]


# ---- summaries are linear ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<" * 10_000_000,  # was quadratic: 100 KB took 10 s, 300 KB 94 s
        "<title" * 2_000_000,  # many openings, no closing
        "<title>" + "x" * 10_000_000,
        "<a " * 3_000_000,
    ],
    ids=["lt", "title-openings", "unclosed-title", "unclosed-tags"],
)
def test_summaries_of_pathological_pages_finish(body: str) -> None:
    summary = finishes(parse.summarize, body, 502)
    assert len(summary) <= 200


def test_summary_prefers_the_title_and_strips_tags() -> None:
    assert parse.summarize("<html><TITLE>Bad  gateway</TITLE><p>x</p>", 502) == "Bad gateway"
    assert parse.summarize("<p>Service <b>down</b></p>", 503) == "Service down"
    assert parse.summarize("", 503) == "Service Unavailable"
    assert parse.summarize(None, 599) == "HTTP 599"


def test_summary_looks_at_the_start_of_a_body_only() -> None:
    late_title = "x" * 5000 + "<title>late</title>"
    assert "late" not in parse.summarize(late_title, 502)


@given(st.text(alphabet="<>/tile x", max_size=300))
def test_summaries_are_short_single_lines(body: str) -> None:
    summary = parse.summarize(body, 500)
    assert summary
    assert "\n" not in summary
    assert len(summary) <= 200


def test_a_huge_api_message_is_cut() -> None:
    body = json.dumps({"success": False, "error": "bad " * 100_000})
    with pytest.raises(NotFoundError) as info:
        parse.check_response(answer(body, 404), REQUEST)
    assert len(info.value.message) <= 300
    assert info.value.message.endswith("…")


# ---- bodies kept in exceptions -----------------------------------------------------------------


def test_small_bodies_are_kept_whole_and_large_ones_as_an_excerpt() -> None:
    small = {"success": False, "error": "nope"}
    assert parse.excerpt(small) == small
    large = {"success": False, "error": "nope", "junk": "x" * 10_000}
    kept = parse.excerpt(large)
    assert isinstance(kept, str)
    assert len(kept) == 1025
    assert kept.startswith('{"success": false')


def test_a_2xx_validation_error_keeps_an_excerpt_of_a_large_body() -> None:
    body = json.dumps({"success": True, "cpuComputeTime": "x" * 100_000})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body.encode())

    with (
        Client("k", transport=httpx.MockTransport(handler)) as client,
        pytest.raises(ResponseValidationError) as info,
    ):
        client.compute_time(1, 2, "2024-05")
    assert info.value.field == "cpuComputeTime"
    assert isinstance(info.value.body, str)
    assert len(info.value.body) <= 1025


# ---- the credential is scrubbed before anything is cut -------------------------------------------

SECRET = "ei_" + "0123456789abcdef" * 4  # 67 characters, like the probe


def redactor(value: str = SECRET) -> Any:
    return make_credential(value, None, None).redact


@pytest.mark.parametrize("offset", [0, 150, 180, 190, 199, 250, 299])
def test_a_key_straddling_the_cut_leaves_no_prefix(offset: int) -> None:
    # Before: the message was cut to 200 characters first, then scrubbed, so a key starting at
    # 190 left 9 of its characters in str(e).
    message = "x" * offset + SECRET + " trailing"
    body = json.dumps({"success": False, "error": message})
    with pytest.raises(APIError) as info:
        parse.check_response(answer(body, 401), REQUEST, redactor())
    error = info.value
    for text in (str(error), repr(error), json.dumps(error.body), *error.args):
        for size in range(8, len(SECRET) + 1):
            assert SECRET[:size] not in text, (offset, size, text)


def test_a_key_straddling_the_cut_of_a_summary_leaves_no_prefix() -> None:
    page = "<p>" + "y" * 185 + SECRET + "</p>"
    with pytest.raises(ServerError) as info:
        parse.check_response(answer(page, 502), REQUEST, redactor())
    assert SECRET[:8] not in str(info.value)


@pytest.mark.parametrize("secret", ['key"with"quotes', "key\\with\\backslashes", 'mix"\\ed'])
def test_json_escaped_forms_of_a_key_are_scrubbed(secret: str) -> None:
    body = json.dumps({"success": False, "error": f"bad key {secret}", "echo": {"k": secret}})
    assert json.dumps(secret)[1:-1] in body  # the body carries the escaped form
    with pytest.raises(APIError) as info:
        parse.check_response(answer(body, 403), REQUEST, redactor(secret))
    error = info.value
    assert secret not in str(error)
    assert secret not in json.dumps(error.body, ensure_ascii=False)
    assert json.dumps(secret)[1:-1] not in json.dumps(error.body)


def test_a_key_spelled_with_unicode_escapes_is_scrubbed() -> None:
    spelled = "".join(f"\\u{ord(c):04x}" for c in SECRET)
    body = '{"success": false, "error": "bad", "echo": "' + spelled + '"}'
    with pytest.raises(APIError) as info:
        parse.check_response(answer(body, 401), REQUEST, redactor())
    assert SECRET not in json.dumps(info.value.body)


def test_a_read_cut_inside_the_key_leaves_no_prefix() -> None:
    # The body was longer than what was read: the read stopped in the middle of the key.
    text = "z" * 100 + SECRET[:30]
    with pytest.raises(ServerError) as info:
        parse.check_response(answer(text, 500, truncated=True), REQUEST, redactor())
    assert SECRET[:8] not in str(info.value)
    assert SECRET[:8] not in str(info.value.body)


@given(st.text(max_size=60), st.integers(0, len(SECRET) - 1))
def test_redact_with_cut_never_leaves_a_prefix(prefix: str, keep: int) -> None:
    text = prefix + SECRET[:keep]
    scrubbed = redactor()(text, cut=True)
    # Only a tail is removed, and at least the cut-off part of the key (a character or two
    # more is fine: the text was being cut anyway).
    assert text.startswith(scrubbed)
    assert len(text) - len(scrubbed) >= keep


# ---- values ------------------------------------------------------------------------------------


def _compute_time(body: dict[str, Any]) -> Any:
    from ei_usage import DateRange

    return parse.compute_time(
        body, REQUEST, organization_id=1, inner_organization_id=2, period=DateRange.year(2024)
    )


@pytest.mark.parametrize("field", ["cpuComputeTime", "gpuComputeTime", "totalComputeTime"])
@pytest.mark.parametrize("value", [-1, -0.5, -1e300])
def test_negative_usage_is_refused_naming_the_field(field: str, value: float) -> None:
    body: dict[str, Any] = {"success": True, "cpuComputeTime": 1, "gpuComputeTime": 1}
    body["totalComputeTime"] = 1
    body[field] = value
    with pytest.raises(ResponseValidationError) as info:
        _compute_time(body)
    assert info.value.field == field
    assert ">= 0" in info.value.message


@pytest.mark.parametrize(
    "field",
    [
        "totalJobsComputeTime",
        "jobsComputeTimeCurrentYear",
        "cpuComputeTimeCurrentContract",
        "gpuComputeTimeCurrentContract",
        "totalStorage",
        "projectCount",
        "userCount",
    ],
)
def test_negative_metrics_are_refused_naming_the_field(field: str) -> None:
    metrics: dict[str, Any] = {
        "totalJobsComputeTime": 10,
        "jobsComputeTimeCurrentYear": 2,
        "jobsComputeTimeCurrentYearSince": "2024-05-01T00:00:00.000Z",
        "cpuComputeTimeCurrentContract": 3600,
        "gpuComputeTimeCurrentContract": 90,
        "totalStorage": 1024,
        "projectCount": 3,
        "userCount": 12,
    }
    metrics[field] = -3
    with pytest.raises(ResponseValidationError) as info:
        parse.organization_metrics(
            {"success": True, "metrics": metrics},
            REQUEST,
            organization_id=1,
            exclude_edge_impulse_users=None,
            project_visibility=None,
        )
    assert info.value.field == f"metrics.{field}"


def test_zero_is_fine() -> None:
    result = _compute_time(
        {"success": True, "cpuComputeTime": 0, "gpuComputeTime": 0.0, "totalComputeTime": 0}
    )
    assert result.total is not None
    assert result.total.total_seconds() == 0


# ---- runtime schema drift ----------------------------------------------------------------------


@pytest.fixture
def fresh_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "_warned", set())


def _drift_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]


@pytest.mark.usefixtures("fresh_drift")
def test_a_renamed_field_is_an_error_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ei_usage")
    body = {"success": True, "cpuSeconds": 90, "gpuSeconds": 30, "totalMinutes": 2}
    with pytest.raises(ResponseValidationError, match="none of cpuComputeTime"):
        _compute_time(body)
    messages = _drift_messages(caplog)
    assert sorted(m.split("does not know: ")[1].split(";")[0] for m in messages) == [
        "'cpuSeconds'",
        "'gpuSeconds'",
        "'totalMinutes'",
    ]


@pytest.mark.usefixtures("fresh_drift")
def test_a_renamed_field_among_known_ones_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ei_usage")
    body = {"success": True, "cpuComputeTime": 90, "gpuSeconds": 30, "totalComputeTime": 2}
    first = _compute_time(body)
    assert first.gpu is None  # what the rename does to a result, hence the warning
    _compute_time(body)
    messages = _drift_messages(caplog)
    assert len(messages) == 1
    assert "'gpuSeconds'" in messages[0]
    assert "whitelabelAdminGetOrganizationComputeTimeUsage" in messages[0]
    assert "spec-diff" in messages[0]


@pytest.mark.usefixtures("fresh_drift")
def test_an_added_field_is_logged_once_per_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ei_usage")
    body = {"success": True, "cpuComputeTime": 1, "gpuComputeTime": 1, "totalComputeTime": 1}
    _compute_time({**body, "tpuComputeTime": 5})
    _compute_time({**body, "tpuComputeTime": 6, "npuComputeTime": 7})
    messages = _drift_messages(caplog)
    assert len(messages) == 2
    assert any("'tpuComputeTime'" in m for m in messages)
    assert any("'npuComputeTime'" in m for m in messages)


@pytest.mark.usefixtures("fresh_drift")
def test_unknown_metrics_fields_are_logged_with_their_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ei_usage")
    metrics = {
        "totalJobsComputeTime": 10,
        "jobsComputeTimeCurrentYear": 2,
        "jobsComputeTimeCurrentYearSince": "2024-05-01T00:00:00.000Z",
        "cpuComputeTimeCurrentContract": 3600,
        "gpuComputeTimeCurrentContract": 90,
        "totalStorage": 1024,
        "projectCount": 3,
        "userCount": 12,
        "storageBytes": 5,
    }
    parse.organization_metrics(
        {"success": True, "metrics": metrics, "newTopLevel": 1},
        REQUEST,
        organization_id=1,
        exclude_edge_impulse_users=None,
        project_visibility=None,
    )
    messages = _drift_messages(caplog)
    assert any("metrics.'storageBytes'" in m for m in messages)
    assert any("'newTopLevel'" in m for m in messages)


@pytest.mark.usefixtures("fresh_drift")
def test_drift_warnings_are_bounded_and_safe(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ei_usage")
    body: dict[str, Any] = {"success": True, "cpuComputeTime": 1}
    body.update({f"field{i}\n{'x' * 500}": i for i in range(1000)})
    _compute_time(body)
    messages = _drift_messages(caplog)
    assert len(messages) == parse._MAX_WARNED
    assert all("\n" not in m and len(m) < 500 for m in messages)


# ---- the numbers as sent, and results rebuilt from them (the history store) --------------------

_PERIOD_TEXT = "2024-05"


@given(
    cpu=st.one_of(st.integers(0, 10**12), st.floats(0, 1e12, allow_nan=False)),
    gpu=st.one_of(st.integers(0, 10**12), st.floats(0, 1e12, allow_nan=False)),
    total=st.one_of(st.integers(0, 10**10), st.floats(0, 1e10, allow_nan=False)),
)
def test_compute_time_rebuilt_from_its_wire_numbers_is_equal(
    cpu: float, gpu: float, total: float
) -> None:
    from ei_usage import DateRange

    period = DateRange.parse(_PERIOD_TEXT)
    body = {"cpuComputeTime": cpu, "gpuComputeTime": gpu, "totalComputeTime": total}
    row = parse.compute_time(
        {"success": True, **body},
        REQUEST,
        organization_id=1,
        inner_organization_id=2,
        period=period,
    )
    assert row.wire == body
    assert all(type(row.wire[k]) is type(v) for k, v in body.items())  # 5 stays 5, not 5.0
    # Through JSON, as a store keeps it: the same numbers, the same result.
    kept = json.loads(json.dumps(row.wire))
    rebuilt = parse.compute_time_from_wire(
        kept, organization_id=1, inner_organization_id=2, period=period, source="test.db"
    )
    assert rebuilt == row
    assert (rebuilt.cpu, rebuilt.gpu, rebuilt.total) == (row.cpu, row.gpu, row.total)


def test_wire_keeps_only_what_was_sent_and_is_not_compared() -> None:
    from ei_usage import DateRange

    period = DateRange.parse(_PERIOD_TEXT)
    row = parse.compute_time(
        {"success": True, "cpuComputeTime": 60},
        REQUEST,
        organization_id=1,
        inner_organization_id=2,
        period=period,
    )
    assert row.wire == {"cpuComputeTime": 60}
    assert "wire" not in repr(row)
    assert row == row.__class__(**{**_fields(row), "wire": None})


def _fields(row: Any) -> dict[str, Any]:
    import attrs

    return attrs.asdict(row, recurse=False)


def test_a_bad_stored_number_is_refused_naming_the_store() -> None:
    from ei_usage import DateRange

    with pytest.raises(ResponseValidationError) as caught:
        parse.compute_time_from_wire(
            {"cpuComputeTime": -1},
            organization_id=1,
            inner_organization_id=2,
            period=DateRange.parse(_PERIOD_TEXT),
            source="/tmp/history.sqlite3",
        )
    assert caught.value.field == "cpuComputeTime"
    assert "/tmp/history.sqlite3" in str(caught.value)


def test_organization_info_rebuilt_from_its_wire_fields_is_equal() -> None:
    import pickle

    body = {
        "success": True,
        "cpuComputeTime": 3600.5,
        "gpuComputeTime": 60,
        "totalComputeTime": 61.0,
        "computeTimeCurrentContractSince": "2024-03-01T00:00:00.000Z",
        "totalStorage": 1024,
        "billable": True,
        "entitlementLimits": {"computeTimePerYear": 360000, "totalStorage": None},
        "dailyMetrics": [{"date": "2024-05-01T00:00:00.000Z"}],
    }
    usage = parse.organization_info(body, REQUEST, organization_id=1, inner_organization_id=2)
    assert usage.wire is not None
    assert "dailyMetrics" not in usage.wire
    assert usage.wire["entitlementLimits"] == body["entitlementLimits"]
    rebuilt = parse.organization_info_from_wire(
        json.loads(json.dumps(usage.wire)),
        organization_id=1,
        inner_organization_id=2,
        source="test.db",
    )
    assert rebuilt == usage
    # Results travel inside pickled exceptions (ReportInterrupted): the wire pickles too.
    assert pickle.loads(pickle.dumps(usage)).wire == usage.wire


# --- a regenerated client the spec changed compatibly (issue 21) -------------------------------


class _ClosedModel:
    """A generated model of a schema with ``additionalProperties: false``: no extra collected."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.known = {k: v for k, v in data.items() if k in ("cpuComputeTime", "success")}

    def to_dict(self) -> dict[str, Any]:
        return dict(self.known)


def test_unknown_fields_of_a_model_without_additional_properties() -> None:
    body = {"success": True, "cpuComputeTime": 1, "cpuComputeTimeMs": 1000, "skipped": []}
    assert parse._unknown(_ClosedModel(body), body, "skipped") == ["cpuComputeTimeMs"]


def test_unknown_fields_are_logged_for_a_model_without_additional_properties(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(parse, "AdminGetOrganizationComputeTimeUsageResponse", _ClosedFactory)
    monkeypatch.setattr(parse, "_warned", set())
    body = {"success": True, "cpuComputeTime": 60, "cpuComputeTimeMs": 60000}
    from ei_usage import DateRange

    with caplog.at_level(logging.WARNING, logger="ei_usage"):
        result = parse.compute_time(
            body,
            REQUEST,
            organization_id=1,
            inner_organization_id=2,
            period=DateRange.parse("2024-05"),
        )
    assert result.cpu is not None
    assert result.cpu.total_seconds() == 60
    assert "'cpuComputeTimeMs'" in caplog.text


class _ClosedFactory(_ClosedModel):
    cpu_compute_time = 60
    gpu_compute_time: Any = parse.UNSET
    total_compute_time: Any = parse.UNSET

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _ClosedFactory:
        return cls(data)


def test_organization_info_hands_the_model_daily_metrics_as_an_empty_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """dailyMetrics made required (the server sends it, or not): the model still gets one."""
    seen: list[dict[str, Any]] = []
    real = parse.AdminOrganizationInfoResponse.from_dict

    def from_dict(data: dict[str, Any]) -> Any:
        seen.append(data)
        if "dailyMetrics" not in data:  # what a regenerated model that requires it does
            raise KeyError("dailyMetrics")
        return real(data)

    monkeypatch.setattr(parse.AdminOrganizationInfoResponse, "from_dict", from_dict)
    usage = parse.organization_info(
        {"success": True, "cpuComputeTime": 1, "entitlementLimits": {"numberOfUsers": 3}},
        REQUEST,
        organization_id=1,
        inner_organization_id=2,
    )
    assert seen[0]["dailyMetrics"] == []
    assert "entitlementLimits" not in seen[0]
    assert usage.entitlements.users == 3
