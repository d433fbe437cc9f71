# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="OrganizationMetricsResponseMetrics")


@_attrs_define
class OrganizationMetricsResponseMetrics:
    """
    Attributes:
        total_jobs_compute_time (float): Total compute time of all organizational jobs since the creation of the
            organization (including organizational project jobs). Compute time is the amount of computation time spent in
            jobs, in minutes used by an organization over a 12 month period, calculated as CPU + GPU minutes.
        jobs_compute_time_current_year (float): Total compute time of all organizational jobs in the current contract
            (including organizational project jobs). Compute time is the amount of computation time spent in jobs, in
            minutes used by an organization over a 12 month period, calculated as CPU + GPU minutes.
        jobs_compute_time_current_year_since (datetime.datetime): The date from which the compute time for the running
            contract is calculated.
        cpu_compute_time_current_contract (float): CPU compute time of all jobs in the organization in the current
            contract (including organizational project jobs).
        gpu_compute_time_current_contract (float): GPU compute time of all jobs in the organization in the current
            contract (including organizational project jobs).
        total_storage (float): Total storage used by the organization.
        project_count (int): Total number of projects owned by the organization.
        user_count (int): Total number of users in the organization.
    """

    total_jobs_compute_time: float
    jobs_compute_time_current_year: float
    jobs_compute_time_current_year_since: datetime.datetime
    cpu_compute_time_current_contract: float
    gpu_compute_time_current_contract: float
    total_storage: float
    project_count: int
    user_count: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total_jobs_compute_time = self.total_jobs_compute_time

        jobs_compute_time_current_year = self.jobs_compute_time_current_year

        jobs_compute_time_current_year_since = self.jobs_compute_time_current_year_since.isoformat()

        cpu_compute_time_current_contract = self.cpu_compute_time_current_contract

        gpu_compute_time_current_contract = self.gpu_compute_time_current_contract

        total_storage = self.total_storage

        project_count = self.project_count

        user_count = self.user_count

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "totalJobsComputeTime": total_jobs_compute_time,
                "jobsComputeTimeCurrentYear": jobs_compute_time_current_year,
                "jobsComputeTimeCurrentYearSince": jobs_compute_time_current_year_since,
                "cpuComputeTimeCurrentContract": cpu_compute_time_current_contract,
                "gpuComputeTimeCurrentContract": gpu_compute_time_current_contract,
                "totalStorage": total_storage,
                "projectCount": project_count,
                "userCount": user_count,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        total_jobs_compute_time = d.pop("totalJobsComputeTime")

        jobs_compute_time_current_year = d.pop("jobsComputeTimeCurrentYear")

        jobs_compute_time_current_year_since = datetime.datetime.fromisoformat(
            d.pop("jobsComputeTimeCurrentYearSince")
        )

        cpu_compute_time_current_contract = d.pop("cpuComputeTimeCurrentContract")

        gpu_compute_time_current_contract = d.pop("gpuComputeTimeCurrentContract")

        total_storage = d.pop("totalStorage")

        project_count = d.pop("projectCount")

        user_count = d.pop("userCount")

        organization_metrics_response_metrics = cls(
            total_jobs_compute_time=total_jobs_compute_time,
            jobs_compute_time_current_year=jobs_compute_time_current_year,
            jobs_compute_time_current_year_since=jobs_compute_time_current_year_since,
            cpu_compute_time_current_contract=cpu_compute_time_current_contract,
            gpu_compute_time_current_contract=gpu_compute_time_current_contract,
            total_storage=total_storage,
            project_count=project_count,
            user_count=user_count,
        )

        organization_metrics_response_metrics.additional_properties = d
        return organization_metrics_response_metrics

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
