"""Configuration types of the fake Studio: organizations, credentials and operations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from ._usage import _mix

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_ORGANIZATION_ID = 1
"""The white-label admin organization a default FakeStudio serves."""

DEFAULT_INNER_ORGANIZATION_IDS = frozenset(range(2, 12))
"""The inner organizations of the default white label (2 to 11)."""

DEMO_API_KEY = "ei_fake_studio_demo_key"
"""The API key ``python -m ei_usage.testing`` accepts when given none (not a secret)."""

DEFAULT_CREATED_AT = datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_CONTRACT_START = datetime(2024, 7, 1, tzinfo=UTC)
DEFAULT_NOW = datetime(2025, 1, 1, tzinfo=UTC)
"""The fixed "now" of a FakeStudio not given one: metrics are the same on every run."""


class Operation(enum.StrEnum):
    """The Studio API operations the fake serves, named by their OpenAPI operation ids."""

    COMPUTE_TIME = "whitelabelAdminGetOrganizationComputeTimeUsage"
    METRICS = "getOrganizationMetrics"


class CredentialKind(enum.StrEnum):
    """How a credential is carried: each kind is accepted only in its own places.

    ``API_KEY`` in the ``x-api-key`` header; ``JWT_TOKEN`` in the ``x-jwt-token`` header or the
    ``jwt`` cookie; ``ACCESS_TOKEN`` as ``Authorization: Bearer <token>``.
    """

    API_KEY = "api_key"
    JWT_TOKEN = "jwt_token"  # noqa: S105 (a name, not a secret)
    ACCESS_TOKEN = "access_token"  # noqa: S105 (a name, not a secret)


def _check_secret(instance: Credential, attribute: attrs.Attribute[str], value: str) -> None:
    # The value goes into HTTP headers: it must survive the trip unchanged.
    if not value or value != value.strip() or not value.isascii() or not value.isprintable():
        raise ValueError(
            f"{instance.kind} must be non-empty printable ASCII without surrounding spaces"
        )


@attrs.frozen
class Credential:
    """A secret the fake accepts; its value never appears in a repr."""

    kind: CredentialKind
    value: str = attrs.field(repr=False, validator=_check_secret)

    @classmethod
    def api_key(cls, value: str) -> Credential:
        """Return an API key credential (sent in ``x-api-key``)."""
        return cls(CredentialKind.API_KEY, value)

    @classmethod
    def jwt_token(cls, value: str) -> Credential:
        """Return a JWT credential (sent in ``x-jwt-token`` or the ``jwt`` cookie)."""
        return cls(CredentialKind.JWT_TOKEN, value)

    @classmethod
    def access_token(cls, value: str) -> Credential:
        """Return an OAuth2 access token credential (sent as ``Authorization: Bearer``)."""
        return cls(CredentialKind.ACCESS_TOKEN, value)


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not _is_id(value):
        raise ValueError(f"{attribute.name} must be a non-negative int, got {value!r}")


def _check_aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


def _to_id_set(value: Iterable[int] | None) -> frozenset[int] | None:
    if value is None:
        return None
    ids = frozenset(value)
    bad = sorted(repr(i) for i in ids if not _is_id(i))
    if bad:
        raise ValueError(f"whitelabel_inner_ids must be non-negative ints, got {', '.join(bad)}")
    return ids


@attrs.frozen
class FakeOrganization:
    """An organization the fake Studio knows, with the data its metrics report.

    Args:
        id: The organization id; 0 is a valid id.
        whitelabel_inner_ids: None (the default) if this is not a white-label admin
            organization; otherwise the ids of the inner organizations of its white label (may be
            empty). Inner ids that the studio does not know are added as default organizations.
        project_count: Projects the organization owns.
        public_project_count: How many of those are public (the rest are private).
        user_count: Users in the organization.
        edge_impulse_user_count: How many of those are Edge Impulse staff
            (``excludeEdgeImpulseUsers=true`` leaves them out).
        total_storage_bytes: Storage used, reported as ``totalStorage``.
        created_at: No compute is used before this instant; ``totalJobsComputeTime`` counts
            from here.
        contract_start: Start of the current contract: ``jobsComputeTimeCurrentYearSince``.
        usage_percent: Scales the organization's compute usage; 0 means it never uses any.
        gpu: Whether it uses GPUs; None lets the studio's seed decide.
    """

    id: int = attrs.field(validator=_check_non_negative)
    whitelabel_inner_ids: frozenset[int] | None = attrs.field(
        default=None, converter=_to_id_set, kw_only=True
    )
    project_count: int = attrs.field(default=12, validator=_check_non_negative, kw_only=True)
    public_project_count: int = attrs.field(default=3, validator=_check_non_negative, kw_only=True)
    user_count: int = attrs.field(default=25, validator=_check_non_negative, kw_only=True)
    edge_impulse_user_count: int = attrs.field(
        default=2, validator=_check_non_negative, kw_only=True
    )
    total_storage_bytes: int = attrs.field(
        default=48_318_382_080, validator=_check_non_negative, kw_only=True
    )
    created_at: datetime = attrs.field(
        default=DEFAULT_CREATED_AT, validator=_check_aware, kw_only=True
    )
    contract_start: datetime = attrs.field(
        default=DEFAULT_CONTRACT_START, validator=_check_aware, kw_only=True
    )
    usage_percent: int = attrs.field(default=100, validator=_check_non_negative, kw_only=True)
    gpu: bool | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.public_project_count > self.project_count:
            raise ValueError("public_project_count must not exceed project_count")
        if self.edge_impulse_user_count > self.user_count:
            raise ValueError("edge_impulse_user_count must not exceed user_count")
        if self.whitelabel_inner_ids is not None and self.id in self.whitelabel_inner_ids:
            raise ValueError(f"organization {self.id} cannot be an inner organization of itself")

    @property
    def is_whitelabel_admin(self) -> bool:
        """Whether this is the admin organization of a white label."""
        return self.whitelabel_inner_ids is not None


def default_organizations(seed: int = 0) -> tuple[FakeOrganization, ...]:
    """Return the organizations a FakeStudio serves when given none.

    Organization 1 administers a white label whose inner organizations are 2 to 11; the counts of
    each organization are varied deterministically from ``seed`` and its id.

    Args:
        seed: The seed of the studio they are for.

    Returns:
        Organizations 1 to 11, in id order.
    """
    organizations = [
        _varied(DEFAULT_ORGANIZATION_ID, seed, whitelabel_inner_ids=DEFAULT_INNER_ORGANIZATION_IDS)
    ]
    organizations.extend(_varied(i, seed) for i in sorted(DEFAULT_INNER_ORGANIZATION_IDS))
    return tuple(organizations)


def _varied(organization_id: int, seed: int, **overrides: Any) -> FakeOrganization:
    bits = _mix(_mix(seed + 0x5EED) ^ organization_id)
    projects = 2 + bits % 40
    users = 3 + (bits >> 8) % 120
    # Contracts renew on the first of a month in the year before DEFAULT_NOW.
    month = 1 + (bits >> 24) % 12
    return FakeOrganization(
        organization_id,
        project_count=projects,
        public_project_count=(bits >> 16) % (projects + 1) // 3,
        user_count=users,
        edge_impulse_user_count=min(users, 1 + (bits >> 20) % 4),
        total_storage_bytes=(1 << (30 + (bits >> 28) % 8)) * (100 + (bits >> 40) % 100) // 100,
        contract_start=datetime(2024, month, 1, tzinfo=UTC),
        **overrides,
    )
