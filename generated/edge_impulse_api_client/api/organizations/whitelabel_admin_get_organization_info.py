# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.admin_organization_info_response import AdminOrganizationInfoResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    organization_id: int,
    inner_organization_id: int,
    *,
    include_deleted: bool | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["includeDeleted"] = include_deleted

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/organizations/{organization_id}/whitelabel/organizations/{inner_organization_id}".format(
            organization_id=quote(str(organization_id), safe=""),
            inner_organization_id=quote(str(inner_organization_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AdminOrganizationInfoResponse | None:
    if response.status_code == 200:
        response_200 = AdminOrganizationInfoResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AdminOrganizationInfoResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    include_deleted: bool | Unset = UNSET,
) -> Response[AdminOrganizationInfoResponse]:
    """White Label Admin - Get organization information

     White label admin only API to list all information about an organization.

    Args:
        organization_id (int):
        inner_organization_id (int):
        include_deleted (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminOrganizationInfoResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        include_deleted=include_deleted,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    include_deleted: bool | Unset = UNSET,
) -> AdminOrganizationInfoResponse | None:
    """White Label Admin - Get organization information

     White label admin only API to list all information about an organization.

    Args:
        organization_id (int):
        inner_organization_id (int):
        include_deleted (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminOrganizationInfoResponse
    """

    return sync_detailed(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        client=client,
        include_deleted=include_deleted,
    ).parsed


async def asyncio_detailed(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    include_deleted: bool | Unset = UNSET,
) -> Response[AdminOrganizationInfoResponse]:
    """White Label Admin - Get organization information

     White label admin only API to list all information about an organization.

    Args:
        organization_id (int):
        inner_organization_id (int):
        include_deleted (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminOrganizationInfoResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        include_deleted=include_deleted,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    include_deleted: bool | Unset = UNSET,
) -> AdminOrganizationInfoResponse | None:
    """White Label Admin - Get organization information

     White label admin only API to list all information about an organization.

    Args:
        organization_id (int):
        inner_organization_id (int):
        include_deleted (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminOrganizationInfoResponse
    """

    return (
        await asyncio_detailed(
            organization_id=organization_id,
            inner_organization_id=inner_organization_id,
            client=client,
            include_deleted=include_deleted,
        )
    ).parsed
