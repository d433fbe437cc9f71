"""Reading reports and entitlement checks back from JSON, as if the text were hostile."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from ei_usage import (
    APIConnectionError,
    ComputeTime,
    DateRange,
    EntitlementFailure,
    EntitlementReport,
    Entitlements,
    InnerOrganizationUsage,
    NotFoundError,
    RateLimitError,
    Report,
    ResponseTooLargeError,
    ResponseValidationError,
    ServerError,
)
from ei_usage._errors import RequestInfo
from ei_usage._report import MAX_JSON_CHARS, ReportFailure

MAY, JUNE, JULY = (DateRange.month(2024, month) for month in (5, 6, 7))
REQUEST = RequestInfo("GET", "https://studio.example/v1/api/x")


def compute(inner: int, period: DateRange, cpu_us: int, name: str | None = None) -> ComputeTime:
    cpu = timedelta(microseconds=cpu_us)
    return ComputeTime(
        1, inner, period, cpu, timedelta(seconds=7), cpu + timedelta(seconds=7), name
    )


def a_report() -> Report:
    return Report(
        organization_id=1,
        inner_organization_ids=(2, 3, 4),
        period=DateRange.parse("2024-05..2024-07"),
        every="month",
        rows=(
            compute(2, MAY, 1_234_567, "Two"),
            compute(2, JUNE, 7),
            compute(3, MAY, 0, "=Three"),
        ),
        errors=(
            ReportFailure(3, JUNE, NotFoundError("gone", 404, None, request=REQUEST)),
            ReportFailure(2, JULY, APIConnectionError("refused", request=REQUEST, transient=True)),
        ),
        not_attempted=((3, JULY), (4, MAY), (4, JUNE), (4, JULY)),
        stop_reason="interrupted",
    )


def edited(change: Callable[[dict[str, Any]], object], report: Report | None = None) -> str:
    data = json.loads((report or a_report()).to_json())
    change(data)
    return json.dumps(data)


# ---- Report --------------------------------------------------------------------------------------


def same(back: Report | EntitlementReport, original: Report | EntitlementReport) -> bool:
    """Equal, errors included (exceptions compare by identity: their type and fields here)."""

    def error_fields(error: Exception) -> tuple[object, ...]:
        return (type(error), *sorted(vars(error).items()))

    return (
        attrs.evolve(back, errors=()) == attrs.evolve(original, errors=())
        and [(f.inner_organization_id, getattr(f, "period", None)) for f in back.errors]
        == [(f.inner_organization_id, getattr(f, "period", None)) for f in original.errors]
        and [error_fields(f.error) for f in back.errors]
        == [error_fields(f.error) for f in original.errors]
    )


def test_report_round_trips_exactly() -> None:
    report = a_report()
    assert same(Report.from_json(report.to_json()), report)
    assert same(Report.from_json(report.to_json().encode()), report)


def test_reports_of_0_1_0_still_read() -> None:
    text = json.dumps(
        {
            "organization_id": 1,
            "inner_organization_ids": [2],
            "period": {"start": "2024-05-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"},
            "every": "month",
            "unit": "seconds",
            "rows": [
                {
                    "organization_id": 1,
                    "inner_organization_id": 2,
                    "start": "2024-05-01T00:00:00Z",
                    "end": "2024-06-01T00:00:00Z",
                    "unit": "seconds",
                    "cpu": 1.5,
                    "gpu": 0,
                    "total": 1.5,
                    "discrepancy": 0,
                }
            ],
            "errors": [],
        }
    )
    (row,) = Report.from_json(text).rows
    assert row.cpu == timedelta(seconds=1.5)


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deep_nesting_is_a_value_error_not_a_recursion_error(opening: str) -> None:
    with pytest.raises(ValueError, match="not an ei-usage report: nested too deeply"):
        Report.from_json(opening * 100_000)
    with pytest.raises(ValueError, match="not an ei-usage entitlement check: nested too deeply"):
        EntitlementReport.from_json(opening * 100_000)


def test_input_longer_than_max_chars_is_refused_before_parsing() -> None:
    text = a_report().to_json()
    assert same(Report.from_json(text, max_chars=len(text)), a_report())
    with pytest.raises(ValueError, match=f"more than max_chars={len(text) - 1:,}"):
        Report.from_json(text, max_chars=len(text) - 1)
    huge = " " * (MAX_JSON_CHARS + 1)
    with pytest.raises(ValueError, match="max_chars"):
        Report.from_json(huge)
    with pytest.raises(ValueError, match="max_chars"):
        EntitlementReport.from_json(huge)


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("rows.1.cpu", -1), r"rows\[1\] \(inner organization 2, 2024-06\): cpu is -1, a neg"),
        (_set("rows.0.total", -0.5), r"rows\[0\] \(inner organization 2, 2024-05\): total is -0.5"),
        (_set("rows.2.gpu", "7"), r"rows\[2\] \(inner organization 3, 2024-05\): gpu is '7', not"),
        (_set("rows.2.gpu", True), r"rows\[2\] .*gpu is True, not a number"),
        (_set("rows.0.cpu", math.nan), r"rows\[0\] .*cpu is nan, not a number"),
        (_set("rows.0.cpu", math.inf), r"rows\[0\] .*cpu is inf, not a number"),
        (_set("rows.0.cpu", 1e300), r"rows\[0\] .*cpu: .*too large"),
        (_set("rows.1.inner_organization_id", 2.5), r"rows\[1\]: inner_organization_id is 2.5"),
        (_set("rows.1.inner_organization_id", -2), r"rows\[1\]: inner_organization_id is -2"),
        (_set("rows.1.inner_organization_id", "2"), r"rows\[1\]: inner_organization_id is '2'"),
        (_set("rows.1.inner_organization_id", 9), r"rows\[1\] .*9.*not one of inner_organizati"),
        (_set("rows.0.organization_id", 5), r"rows\[0\] .*: organization_id 5 is not 1"),
        (_set("rows.0.organization_id", 1.0), r"rows\[0\] .*: organization_id is 1.0, not an int"),
        (_set("organization_id", -1), r"organization_id is -1, not an integer"),
        (_set("inner_organization_ids.0", 2.0), r"inner_organization_ids\[0\] is 2.0"),
        (_set("inner_organization_ids.1", 2), r"inner_organization_ids\[1\]: 2 is listed twice"),
        (
            lambda data: data["rows"].append(dict(data["rows"][0])),
            r"rows\[3\] \(inner organization 2, 2024-05\): the same request as rows\[0\]",
        ),
        (
            lambda data: data["not_attempted"].append(
                {key: data["errors"][0][key] for key in ("inner_organization_id", "start", "end")}
            ),
            r"not_attempted\[4\] .*: the same request as errors\[0\]",
        ),
        (_set("rows.0.start", "2024-04-01T00:00:00Z"), r"rows\[0\] .*: outside the report's per"),
        (_set("errors.1.end", "2024-08-01T00:00:01Z"), r"errors\[1\] .*: outside the report's"),
        (_set("rows.0.start", "2024-05-01T00:00:00"), r"rows\[0\]: start .* without a timezone"),
        (_set("rows.0.end", "2024-04-01T00:00:00Z"), r"rows\[0\]: start .* is not before end"),
        (_set("rows.0.end", 1714521600), r"rows\[0\]: end is a number, not an ISO 8601"),
        (_set("rows.0.inner_organization_name", 3), r"rows\[0\] .*name is a number, not a str"),
        (_set("errors.0.error.type", "ReportError"), r"errors\[0\] .*unknown error type 'Rep"),
        (_set("errors.0.error.type", "__class__"), r"errors\[0\] .*unknown error type"),
        (_set("errors.0.error.status_code", -404), r"errors\[0\] .*status_code is -404"),
        (_set("errors.0.error.message", None), r"errors\[0\] .*message is missing"),
        (_set("errors.0.error.request", {"method": "GET"}), r"errors\[0\].*method and url"),
        (_set("stop_reason", ["x"]), r"stop_reason is an array, not a string"),
        (_set("rows", {}), r"rows: expected an array, got an object"),
        (_set("rows.0", []), r"rows\[0\]: expected an object, got an array"),
        (_set("unit", "fortnights"), r"unit is 'fortnights', not a unit"),
        (_set("every", "hour"), r"every is 'hour', not a calendar unit"),
        (_set("version", 3), r"unknown format 'ei-usage.report' version 3"),
        (_set("version", 2.0), r"unknown format 'ei-usage.report' version 2.0"),
        (lambda data: data["rows"][0].pop("gpu"), r"rows\[0\] .*: gpu is missing"),
    ],
)
def test_bad_reports_are_refused_naming_the_row(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    with pytest.raises(ValueError, match="not an ei-usage report: " + message):
        Report.from_json(edited(change))


@pytest.mark.parametrize("text", ["", "[]", "null", '"report"', "{", b"\xff{}"])
def test_what_is_not_a_report_object_is_refused(text: str | bytes) -> None:
    with pytest.raises(ValueError, match="not an ei-usage report"):
        Report.from_json(text)


def test_a_long_value_in_a_message_is_cut() -> None:
    with pytest.raises(ValueError, match="unit is 'xxx") as caught:
        Report.from_json(edited(_set("unit", "x" * 10_000)))
    assert len(str(caught.value)) < 200


# ---- EntitlementReport ---------------------------------------------------------------------------


def usage(
    inner: int, cpu_s: float | None, limits: Entitlements, **more: Any
) -> InnerOrganizationUsage:
    return InnerOrganizationUsage(
        organization_id=1,
        inner_organization_id=inner,
        cpu=None if cpu_s is None else timedelta(seconds=cpu_s),
        gpu=timedelta(seconds=30),
        total=timedelta(minutes=3),
        contract_since=more.get("since", datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        storage_bytes=more.get("storage", 2_000),
        billable=more.get("billable", True),
        entitlements=limits,
        inner_organization_name=more.get("name"),
    )


def a_check() -> EntitlementReport:
    limited = Entitlements(timedelta(hours=1), timedelta(minutes=10), 10_000, 5, None)
    zero = Entitlements(compute_time_per_year=timedelta(0))
    return EntitlementReport.of(
        1,
        [2, 3, 4, 5, 6, 7, 8],
        [
            usage(2, 150.25, limited, name="Two"),
            usage(3, 10, zero, name="@Three", billable=None),  # over a limit of 0: infinite
            usage(4, None, Entitlements(), since=None, storage=None, billable=False),
            RateLimitError("slow down", 429, None, retry_after=timedelta(seconds=61)),
            ResponseTooLargeError("big", limit_bytes=4096, request=REQUEST),
            ServerError("oops", 503, None, retry_after=None),
            None,
        ],
        "interrupted",
    )


@pytest.mark.parametrize("unit", ["seconds", "minutes", "hours"])
def test_check_round_trips(unit: str) -> None:
    check = a_check()
    back = EntitlementReport.from_json(check.to_json(unit))
    assert back.to_json(unit) == check.to_json(unit)
    if unit == "seconds":
        assert same(back, check)
    assert [r.inner_organization_id for r in back.rows] == [3, 2, 4]  # most used first
    assert [type(f.error) for f in back.errors] == [type(f.error) for f in check.errors]
    assert back.errors[0].error.retry_after == timedelta(seconds=61)  # type: ignore[attr-defined]
    assert back.not_attempted == (8,)
    assert back.stop_reason == "interrupted"


def test_check_of_the_command_line_reads_back() -> None:
    # What `check --format json` adds is ignored: status, warn_at, fail_at.
    data = a_check().to_dict("minutes")
    data["warn_at"], data["fail_at"] = 0.8, 1.0
    for row in data["rows"]:
        row["status"] = "ok"
    back = EntitlementReport.from_json(json.dumps(data))
    assert [r.inner_organization_name for r in back.rows] == ["@Three", "Two", None]


def check_edited(change: Callable[[dict[str, Any]], object]) -> str:
    data = json.loads(a_check().to_json())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("rows.1.cpu", -1), r"rows\[1\] \(inner organization 2\): cpu is -1, a negative"),
        (_set("rows.1.storage_bytes", -5), r"rows\[1\] .*: storage_bytes is -5, not an integer"),
        (_set("rows.1.storage_bytes", 2.5), r"rows\[1\] .*: storage_bytes is 2.5"),
        (
            _set("rows.1.entitlements.compute_time_per_year", -60),
            r"rows\[1\] \(inner organization 2\): entitlements: compute_time_per_year is -60",
        ),
        (_set("rows.1.entitlements.projects", 1.5), r"rows\[1\] .*entitlements: projects is 1.5"),
        (_set("rows.1.entitlements", None), r"rows\[1\] .*entitlements: expected an object"),
        (_set("rows.1.inner_organization_id", 3.0), r"rows\[1\]: inner_organization_id is 3.0"),
        (_set("rows.1.inner_organization_id", 3), r"rows\[1\] .*3\): the same request as rows\[0"),
        (_set("not_attempted.0", 2), r"not_attempted\[0\] .*: the same request as rows\[1\]"),
        (_set("not_attempted.0", -8), r"not_attempted\[0\] is -8, not an integer"),
        (_set("errors.0.inner_organization_id", 4), r"errors\[0\] .*: the same request as rows"),
        (_set("rows.0.organization_id", 2), r"rows\[0\] .*: organization_id 2 is not 1"),
        (_set("rows.0.billable", "yes"), r"rows\[0\] .*: billable is a string, not a boolean"),
        (_set("rows.0.contract_since", "soon"), r"rows\[0\] .*: contract_since is 'soon'"),
        (_set("errors.0.error.retry_after_seconds", -1), r"errors\[0\] .*retry_after_seconds is"),
        (_set("format", "ei-usage.report"), r"unknown format 'ei-usage.report' version 1"),
        (lambda data: data.pop("format"), r"format is missing"),
        (_set("version", 2), r"unknown format 'ei-usage.entitlements' version 2"),
    ],
)
def test_bad_checks_are_refused_naming_the_row(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    with pytest.raises(ValueError, match="not an ei-usage entitlement check: " + message):
        EntitlementReport.from_json(check_edited(change))


def test_check_errors_keep_their_details() -> None:
    back = EntitlementReport.from_json(a_check().to_json())
    too_large = back.errors[1]
    assert isinstance(too_large, EntitlementFailure)
    assert isinstance(too_large.error, ResponseTooLargeError)
    assert isinstance(too_large.error, ResponseValidationError)
    assert too_large.error.limit_bytes == 4096
    assert too_large.error.request == REQUEST
