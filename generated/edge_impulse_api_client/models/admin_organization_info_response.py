# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.daily_metrics_record import DailyMetricsRecord
    from ..models.entitlement_limits import EntitlementLimits


T = TypeVar("T", bound="AdminOrganizationInfoResponse")


@_attrs_define
class AdminOrganizationInfoResponse:
    """
    Attributes:
        success (bool): Whether the operation succeeded
        error (str | Unset): Optional error description (set if 'success' was false)
        cpu_compute_time (float | Unset): CPU compute time in seconds of all jobs in the organization (including
            organizational project jobs).
        gpu_compute_time (float | Unset): GPU compute time in seconds of all jobs in the organization (including
            organizational project jobs).
        total_compute_time (float | Unset): Total compute time is the amount of computation time spent in jobs, in
            minutes used by an organization over the given period, calculated as CPU + GPU minutes.
        billable (bool | Unset):
        entitlement_limits (EntitlementLimits | Unset):
        compute_time_current_contract_since (datetime.datetime | Unset): The date from which the compute time for the
            running contract is calculated.
        total_storage (float | Unset): Total storage used by the organization.
        daily_metrics (list[DailyMetricsRecord] | None | Unset): Metrics for the last 365 days
    """

    success: bool
    error: str | Unset = UNSET
    cpu_compute_time: float | Unset = UNSET
    gpu_compute_time: float | Unset = UNSET
    total_compute_time: float | Unset = UNSET
    billable: bool | Unset = UNSET
    entitlement_limits: EntitlementLimits | Unset = UNSET
    compute_time_current_contract_since: datetime.datetime | Unset = UNSET
    total_storage: float | Unset = UNSET
    daily_metrics: list[DailyMetricsRecord] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        success = self.success

        error = self.error

        cpu_compute_time = self.cpu_compute_time

        gpu_compute_time = self.gpu_compute_time

        total_compute_time = self.total_compute_time

        billable = self.billable

        entitlement_limits: dict[str, Any] | Unset = UNSET
        if not isinstance(self.entitlement_limits, Unset):
            entitlement_limits = self.entitlement_limits.to_dict()

        compute_time_current_contract_since: str | Unset = UNSET
        if not isinstance(self.compute_time_current_contract_since, Unset):
            compute_time_current_contract_since = (
                self.compute_time_current_contract_since.isoformat()
            )

        total_storage = self.total_storage

        daily_metrics: list[dict[str, Any]] | None | Unset
        if isinstance(self.daily_metrics, Unset):
            daily_metrics = UNSET
        elif isinstance(self.daily_metrics, list):
            daily_metrics = []
            for daily_metrics_type_0_item_data in self.daily_metrics:
                daily_metrics_type_0_item = daily_metrics_type_0_item_data.to_dict()
                daily_metrics.append(daily_metrics_type_0_item)

        else:
            daily_metrics = self.daily_metrics

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "success": success,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error
        if cpu_compute_time is not UNSET:
            field_dict["cpuComputeTime"] = cpu_compute_time
        if gpu_compute_time is not UNSET:
            field_dict["gpuComputeTime"] = gpu_compute_time
        if total_compute_time is not UNSET:
            field_dict["totalComputeTime"] = total_compute_time
        if billable is not UNSET:
            field_dict["billable"] = billable
        if entitlement_limits is not UNSET:
            field_dict["entitlementLimits"] = entitlement_limits
        if compute_time_current_contract_since is not UNSET:
            field_dict["computeTimeCurrentContractSince"] = compute_time_current_contract_since
        if total_storage is not UNSET:
            field_dict["totalStorage"] = total_storage
        if daily_metrics is not UNSET:
            field_dict["dailyMetrics"] = daily_metrics

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.daily_metrics_record import DailyMetricsRecord
        from ..models.entitlement_limits import EntitlementLimits

        d = dict(src_dict)
        success = d.pop("success")

        error = d.pop("error", UNSET)

        cpu_compute_time = d.pop("cpuComputeTime", UNSET)

        gpu_compute_time = d.pop("gpuComputeTime", UNSET)

        total_compute_time = d.pop("totalComputeTime", UNSET)

        billable = d.pop("billable", UNSET)

        _entitlement_limits = d.pop("entitlementLimits", UNSET)
        entitlement_limits: EntitlementLimits | Unset
        if isinstance(_entitlement_limits, Unset):
            entitlement_limits = UNSET
        else:
            entitlement_limits = EntitlementLimits.from_dict(_entitlement_limits)

        _compute_time_current_contract_since = d.pop("computeTimeCurrentContractSince", UNSET)
        compute_time_current_contract_since: datetime.datetime | Unset
        if isinstance(_compute_time_current_contract_since, Unset):
            compute_time_current_contract_since = UNSET
        else:
            compute_time_current_contract_since = datetime.datetime.fromisoformat(
                _compute_time_current_contract_since
            )

        total_storage = d.pop("totalStorage", UNSET)

        def _parse_daily_metrics(data: object) -> list[DailyMetricsRecord] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                daily_metrics_type_0 = []
                _daily_metrics_type_0 = data
                for daily_metrics_type_0_item_data in _daily_metrics_type_0:
                    daily_metrics_type_0_item = DailyMetricsRecord.from_dict(
                        daily_metrics_type_0_item_data
                    )

                    daily_metrics_type_0.append(daily_metrics_type_0_item)

                return daily_metrics_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[DailyMetricsRecord] | None | Unset, data)

        daily_metrics = _parse_daily_metrics(d.pop("dailyMetrics", UNSET))

        admin_organization_info_response = cls(
            success=success,
            error=error,
            cpu_compute_time=cpu_compute_time,
            gpu_compute_time=gpu_compute_time,
            total_compute_time=total_compute_time,
            billable=billable,
            entitlement_limits=entitlement_limits,
            compute_time_current_contract_since=compute_time_current_contract_since,
            total_storage=total_storage,
            daily_metrics=daily_metrics,
        )

        admin_organization_info_response.additional_properties = d
        return admin_organization_info_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
