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
from ...models.organization_metrics_response import OrganizationMetricsResponse
from ...models.project_visibility import ProjectVisibility
from ...types import UNSET, Response, Unset


def _get_kwargs(
    organization_id: int,
    *,
    exclude_edge_impulse_users: bool | Unset = UNSET,
    project_visibility: ProjectVisibility | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["excludeEdgeImpulseUsers"] = exclude_edge_impulse_users

    json_project_visibility: str | Unset = UNSET
    if not isinstance(project_visibility, Unset):
        json_project_visibility = project_visibility.value

    params["projectVisibility"] = json_project_visibility

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/organizations/{organization_id}/metrics".format(
            organization_id=quote(str(organization_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> OrganizationMetricsResponse | None:
    if response.status_code == 200:
        response_200 = OrganizationMetricsResponse.from_dict(response.json())

        return response_200

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[OrganizationMetricsResponse]:
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
    exclude_edge_impulse_users: bool | Unset = UNSET,
    project_visibility: ProjectVisibility | Unset = UNSET,
) -> Response[OrganizationMetricsResponse]:
    """Organization metrics

     Get general metrics for this organization.

    Args:
        organization_id (int):
        exclude_edge_impulse_users (bool | Unset):
        project_visibility (ProjectVisibility | Unset): The visibility of the project, either
            public or private. Public projects can be viewed by anyone on the internet and edited by
            collaborators. Private projects can only be viewed and edited by collaborators.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OrganizationMetricsResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        exclude_edge_impulse_users=exclude_edge_impulse_users,
        project_visibility=project_visibility,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    exclude_edge_impulse_users: bool | Unset = UNSET,
    project_visibility: ProjectVisibility | Unset = UNSET,
) -> OrganizationMetricsResponse | None:
    """Organization metrics

     Get general metrics for this organization.

    Args:
        organization_id (int):
        exclude_edge_impulse_users (bool | Unset):
        project_visibility (ProjectVisibility | Unset): The visibility of the project, either
            public or private. Public projects can be viewed by anyone on the internet and edited by
            collaborators. Private projects can only be viewed and edited by collaborators.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OrganizationMetricsResponse
    """

    return sync_detailed(
        organization_id=organization_id,
        client=client,
        exclude_edge_impulse_users=exclude_edge_impulse_users,
        project_visibility=project_visibility,
    ).parsed


async def asyncio_detailed(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    exclude_edge_impulse_users: bool | Unset = UNSET,
    project_visibility: ProjectVisibility | Unset = UNSET,
) -> Response[OrganizationMetricsResponse]:
    """Organization metrics

     Get general metrics for this organization.

    Args:
        organization_id (int):
        exclude_edge_impulse_users (bool | Unset):
        project_visibility (ProjectVisibility | Unset): The visibility of the project, either
            public or private. Public projects can be viewed by anyone on the internet and edited by
            collaborators. Private projects can only be viewed and edited by collaborators.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[OrganizationMetricsResponse]
    """

    kwargs = _get_kwargs(
        organization_id=organization_id,
        exclude_edge_impulse_users=exclude_edge_impulse_users,
        project_visibility=project_visibility,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    organization_id: int,
    *,
    client: AuthenticatedClient | Client,
    exclude_edge_impulse_users: bool | Unset = UNSET,
    project_visibility: ProjectVisibility | Unset = UNSET,
) -> OrganizationMetricsResponse | None:
    """Organization metrics

     Get general metrics for this organization.

    Args:
        organization_id (int):
        exclude_edge_impulse_users (bool | Unset):
        project_visibility (ProjectVisibility | Unset): The visibility of the project, either
            public or private. Public projects can be viewed by anyone on the internet and edited by
            collaborators. Private projects can only be viewed and edited by collaborators.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        OrganizationMetricsResponse
    """

    return (
        await asyncio_detailed(
            organization_id=organization_id,
            client=client,
            exclude_edge_impulse_users=exclude_edge_impulse_users,
            project_visibility=project_visibility,
        )
    ).parsed
