# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.admin_get_organizations_response_organizations_item import (
        AdminGetOrganizationsResponseOrganizationsItem,
    )


T = TypeVar("T", bound="AdminGetOrganizationsResponse")


@_attrs_define
class AdminGetOrganizationsResponse:
    """
    Attributes:
        success (bool): Whether the operation succeeded
        total (int):
        organizations (list[AdminGetOrganizationsResponseOrganizationsItem]): Array with organizations
        error (str | Unset): Optional error description (set if 'success' was false)
    """

    success: bool
    total: int
    organizations: list[AdminGetOrganizationsResponseOrganizationsItem]
    error: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        success = self.success

        total = self.total

        organizations = []
        for organizations_item_data in self.organizations:
            organizations_item = organizations_item_data.to_dict()
            organizations.append(organizations_item)

        error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "success": success,
                "total": total,
                "organizations": organizations,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.admin_get_organizations_response_organizations_item import (
            AdminGetOrganizationsResponseOrganizationsItem,
        )

        d = dict(src_dict)
        success = d.pop("success")

        total = d.pop("total")

        organizations = []
        _organizations = d.pop("organizations")
        for organizations_item_data in _organizations:
            organizations_item = AdminGetOrganizationsResponseOrganizationsItem.from_dict(
                organizations_item_data
            )

            organizations.append(organizations_item)

        error = d.pop("error", UNSET)

        admin_get_organizations_response = cls(
            success=success,
            total=total,
            organizations=organizations,
            error=error,
        )

        admin_get_organizations_response.additional_properties = d
        return admin_get_organizations_response

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
