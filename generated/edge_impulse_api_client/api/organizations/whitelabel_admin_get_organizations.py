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
from ...models.admin_get_organizations_response import AdminGetOrganizationsResponse
from ...types import UNSET, Response, Unset


def _get_kwargs(
    organization_id: int,
    *,
    active: int | Unset = UNSET,
    include_deleted: bool | Unset = UNSET,
    sort: str | Unset = UNSET,
    filters: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    search: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["active"] = active

    params["includeDeleted"] = include_deleted

    params["sort"] = sort

    params["filters"] = filters

    params["limit"] = limit

    params["offset"] = offset

    params["search"] = search

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/organizations/{organization_id}/whitelabel/organizations".format(
            organization_id=quote(str(organization_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AdminGetOrganizationsResponse | None:
    if response.status_code == 200:
        response_200 = AdminGetOrganizationsResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AdminGetOrganizationsResponse]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    active: int | Unset = UNSET,
    include_deleted: bool | Unset = UNSET,
    sort: str | Unset = UNSET,
    filters: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    search: str | Unset = UNSET,
) -> Response[AdminGetOrganizationsResponse]:
    """White Label Admin - Get all organizations within a white label

     White label admin only API to get the list of all organizations.

    Args:
        organization_id (int):
        active (int | Unset):
        include_deleted (bool | Unset):
        sort (str | Unset): Comma separated list of fields to sort query by. Prefix with a minus
            (-) sign to indicate descending order. Default order is ascending Example: id,-name.
        filters (str | Unset): Comma separated list of filters to apply to the query.
            Filters should be in the format 'field:value'.
             Example: billable:true.
        limit (int | Unset):
        offset (int | Unset):
        search (str | Unset):  Example: <id> <name>.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetOrganizationsResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        active=active,
        include_deleted=include_deleted,
        sort=sort,
        filters=filters,
        limit=limit,
        offset=offset,
        search=search,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    active: int | Unset = UNSET,
    include_deleted: bool | Unset = UNSET,
    sort: str | Unset = UNSET,
    filters: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    search: str | Unset = UNSET,
) -> AdminGetOrganizationsResponse | None:
    """White Label Admin - Get all organizations within a white label

     White label admin only API to get the list of all organizations.

    Args:
        organization_id (int):
        active (int | Unset):
        include_deleted (bool | Unset):
        sort (str | Unset): Comma separated list of fields to sort query by. Prefix with a minus
            (-) sign to indicate descending order. Default order is ascending Example: id,-name.
        filters (str | Unset): Comma separated list of filters to apply to the query.
            Filters should be in the format 'field:value'.
             Example: billable:true.
        limit (int | Unset):
        offset (int | Unset):
        search (str | Unset):  Example: <id> <name>.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetOrganizationsResponse
    """

    return sync_detailed(
        organization_id=organization_id,
        client=client,
        active=active,
        include_deleted=include_deleted,
        sort=sort,
        filters=filters,
        limit=limit,
        offset=offset,
        search=search,
    ).parsed


async def asyncio_detailed(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    active: int | Unset = UNSET,
    include_deleted: bool | Unset = UNSET,
    sort: str | Unset = UNSET,
    filters: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    search: str | Unset = UNSET,
) -> Response[AdminGetOrganizationsResponse]:
    """White Label Admin - Get all organizations within a white label

     White label admin only API to get the list of all organizations.

    Args:
        organization_id (int):
        active (int | Unset):
        include_deleted (bool | Unset):
        sort (str | Unset): Comma separated list of fields to sort query by. Prefix with a minus
            (-) sign to indicate descending order. Default order is ascending Example: id,-name.
        filters (str | Unset): Comma separated list of filters to apply to the query.
            Filters should be in the format 'field:value'.
             Example: billable:true.
        limit (int | Unset):
        offset (int | Unset):
        search (str | Unset):  Example: <id> <name>.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetOrganizationsResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        active=active,
        include_deleted=include_deleted,
        sort=sort,
        filters=filters,
        limit=limit,
        offset=offset,
        search=search,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    active: int | Unset = UNSET,
    include_deleted: bool | Unset = UNSET,
    sort: str | Unset = UNSET,
    filters: str | Unset = UNSET,
    limit: int | Unset = UNSET,
    offset: int | Unset = UNSET,
    search: str | Unset = UNSET,
) -> AdminGetOrganizationsResponse | None:
    """White Label Admin - Get all organizations within a white label

     White label admin only API to get the list of all organizations.

    Args:
        organization_id (int):
        active (int | Unset):
        include_deleted (bool | Unset):
        sort (str | Unset): Comma separated list of fields to sort query by. Prefix with a minus
            (-) sign to indicate descending order. Default order is ascending Example: id,-name.
        filters (str | Unset): Comma separated list of filters to apply to the query.
            Filters should be in the format 'field:value'.
             Example: billable:true.
        limit (int | Unset):
        offset (int | Unset):
        search (str | Unset):  Example: <id> <name>.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetOrganizationsResponse
    """

    return (
        await asyncio_detailed(
            organization_id=organization_id,
            client=client,
            active=active,
            include_deleted=include_deleted,
            sort=sort,
            filters=filters,
            limit=limit,
            offset=offset,
            search=search,
        )
    ).parsed
