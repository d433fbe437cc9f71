# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
"""Contains all the data models used in inputs/outputs"""

from .admin_get_organization_compute_time_usage_response import (
    AdminGetOrganizationComputeTimeUsageResponse,
)
from .admin_get_organizations_response import AdminGetOrganizationsResponse
from .admin_get_organizations_response_organizations_item import (
    AdminGetOrganizationsResponseOrganizationsItem,
)
from .admin_organization_info_response import AdminOrganizationInfoResponse
from .daily_metrics_record import DailyMetricsRecord
from .entitlement_limits import EntitlementLimits
from .generic_api_response import GenericApiResponse
from .organization_compute_time_usage import OrganizationComputeTimeUsage
from .organization_metrics_response import OrganizationMetricsResponse
from .organization_metrics_response_metrics import OrganizationMetricsResponseMetrics
from .project_visibility import ProjectVisibility

__all__ = (
    "AdminGetOrganizationComputeTimeUsageResponse",
    "AdminGetOrganizationsResponse",
    "AdminGetOrganizationsResponseOrganizationsItem",
    "AdminOrganizationInfoResponse",
    "DailyMetricsRecord",
    "EntitlementLimits",
    "GenericApiResponse",
    "OrganizationComputeTimeUsage",
    "OrganizationMetricsResponse",
    "OrganizationMetricsResponseMetrics",
    "ProjectVisibility",
)
