# Generated code: DO NOT EDIT. Change the spec slice or the generator config, then run
# `make generate` (openapi/tools/generate.py), which ran:
#   openapi-python-client generate --path openapi/edge-impulse.yaml --config generator-config.yaml --meta none --fail-on-warning
# Generator: openapi-python-client 0.29.1, formatted by ruff 0.17.6
# Spec:   openapi/edge-impulse.yaml content sha256 b47af13c811f6b03b5647cd788cccce65928c076a648371aa4c89f4af0e96fee
# Config: generator-config.yaml sha256 2bd372a6adfb527322109e70c9f8aedcb722fd73e5e0db0d6ab8fc51b1d1a88e
import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.admin_get_organization_compute_time_usage_response import (
    AdminGetOrganizationComputeTimeUsageResponse,
)
from ...types import UNSET, Response


def _get_kwargs(
    organization_id: int,
    inner_organization_id: int,
    *,
    start_date: datetime.datetime,
    end_date: datetime.datetime,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_start_date = start_date.isoformat()
    params["startDate"] = json_start_date

    json_end_date = end_date.isoformat()
    params["endDate"] = json_end_date

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/organizations/{organization_id}/whitelabel/organizations/{inner_organization_id}/usage/computeTime".format(
            organization_id=quote(str(organization_id), safe=""),
            inner_organization_id=quote(str(inner_organization_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AdminGetOrganizationComputeTimeUsageResponse | None:
    if response.status_code == 200:
        response_200 = AdminGetOrganizationComputeTimeUsageResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AdminGetOrganizationComputeTimeUsageResponse]:
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
    start_date: datetime.datetime,
    end_date: datetime.datetime,
) -> Response[AdminGetOrganizationComputeTimeUsageResponse]:
    """White Label Admin - Get organization compute time usage

     Get compute time usage for an organization over a period of time. This is an API only available to
    white label admins

    Args:
        organization_id (int):
        inner_organization_id (int):
        start_date (datetime.datetime):
        end_date (datetime.datetime):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetOrganizationComputeTimeUsageResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        start_date=start_date,
        end_date=end_date,
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
    start_date: datetime.datetime,
    end_date: datetime.datetime,
) -> AdminGetOrganizationComputeTimeUsageResponse | None:
    """White Label Admin - Get organization compute time usage

     Get compute time usage for an organization over a period of time. This is an API only available to
    white label admins

    Args:
        organization_id (int):
        inner_organization_id (int):
        start_date (datetime.datetime):
        end_date (datetime.datetime):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetOrganizationComputeTimeUsageResponse
    """

    return sync_detailed(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        client=client,
        start_date=start_date,
        end_date=end_date,
    ).parsed


async def asyncio_detailed(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    start_date: datetime.datetime,
    end_date: datetime.datetime,
) -> Response[AdminGetOrganizationComputeTimeUsageResponse]:
    """White Label Admin - Get organization compute time usage

     Get compute time usage for an organization over a period of time. This is an API only available to
    white label admins

    Args:
        organization_id (int):
        inner_organization_id (int):
        start_date (datetime.datetime):
        end_date (datetime.datetime):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetOrganizationComputeTimeUsageResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        inner_organization_id=inner_organization_id,
        start_date=start_date,
        end_date=end_date,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    organization_id: int,
    inner_organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    start_date: datetime.datetime,
    end_date: datetime.datetime,
) -> AdminGetOrganizationComputeTimeUsageResponse | None:
    """White Label Admin - Get organization compute time usage

     Get compute time usage for an organization over a period of time. This is an API only available to
    white label admins

    Args:
        organization_id (int):
        inner_organization_id (int):
        start_date (datetime.datetime):
        end_date (datetime.datetime):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetOrganizationComputeTimeUsageResponse
    """

    return (
        await asyncio_detailed(
            organization_id=organization_id,
            inner_organization_id=inner_organization_id,
            client=client,
            start_date=start_date,
            end_date=end_date,
        )
    ).parsed
