"""Configuration types of the fake Studio: organizations, credentials and operations."""

from __future__ import annotations

import enum
import functools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ._usage import (
    ShapedUsageTable,
    UsageShape,
    UsageTable,
    _mix,
    shaped_usage_table,
    to_epoch_ms,
    usage_table,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_ORGANIZATION_ID = 1
"""The white-label admin organization a default FakeStudio serves."""

DEFAULT_INNER_ORGANIZATION_COUNT = 10
"""How many inner organizations the default white label has."""

DEFAULT_INNER_ORGANIZATION_IDS = frozenset(range(2, 2 + DEFAULT_INNER_ORGANIZATION_COUNT))
"""The inner organizations of the default white label (2 to 11)."""

MAX_INNER_ORGANIZATIONS = 10_000
"""The most inner organizations ``default_organizations`` builds (about a millisecond each)."""

DEFAULT_WHITELABEL_ID = 7
"""The ``whitelabelId`` of the default white label (not an organization id)."""

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
    ORGANIZATIONS = "whitelabelAdminGetOrganizations"
    ORGANIZATION_INFO = "whitelabelAdminGetOrganizationInfo"


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


def _check_optional_non_negative(
    instance: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and not _is_id(value):
        raise ValueError(f"{attribute.name} must be None or a non-negative int, got {value!r}")


def _check_aware(instance: object, attribute: attrs.Attribute[datetime], value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


def _check_bool(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{attribute.name} must be a bool, got {value!r}")


def _check_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty string, got {value!r}")


def _check_inactive_for(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (not isinstance(value, timedelta) or value < timedelta(0)):
        raise ValueError(f"{attribute.name} must be None or a timedelta >= 0, got {value!r}")


def _to_id_set(value: Iterable[int] | None) -> frozenset[int] | None:
    if value is None:
        return None
    ids = frozenset(value)
    bad = sorted(repr(i) for i in ids if not _is_id(i))
    if bad:
        raise ValueError(f"whitelabel_inner_ids must be non-negative ints, got {', '.join(bad)}")
    return ids


@attrs.frozen
class EntitlementLimits:
    """What an organization is entitled to per contract year; None means unlimited.

    The values are those of the wire (``EntitlementLimits`` in the spec): compute times in
    seconds, storage in bytes. A None field is left out of the JSON, which is how Studio says
    "unlimited"; ``EntitlementLimits()`` is an organization without any limit.

    Args:
        compute_time_per_year_seconds: ``computeTimePerYear``: CPU plus GPU compute time.
        gpu_compute_time_per_year_seconds: ``gpuComputeTimePerYear``: GPU compute time.
        total_storage_bytes: ``totalStorage``.
        number_of_projects: ``numberOfProjects``.
        number_of_users: ``numberOfUsers``.
    """

    compute_time_per_year_seconds: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )
    gpu_compute_time_per_year_seconds: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )
    total_storage_bytes: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )
    number_of_projects: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )
    number_of_users: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )

    @property
    def unlimited(self) -> bool:
        """Whether no limit at all is set."""
        return self == _UNLIMITED

    def to_json(self) -> dict[str, int]:
        """Return the ``entitlementLimits`` object of the wire: only the limits that are set."""
        pairs = (
            ("totalStorage", self.total_storage_bytes),
            ("computeTimePerYear", self.compute_time_per_year_seconds),
            ("gpuComputeTimePerYear", self.gpu_compute_time_per_year_seconds),
            ("numberOfProjects", self.number_of_projects),
            ("numberOfUsers", self.number_of_users),
        )
        return {name: value for name, value in pairs if value is not None}


_UNLIMITED = EntitlementLimits()

# Small word lists for deterministic organization names ("Cedar Robotics 7"); the id keeps names
# unique. One non-ASCII word makes clients show they handle UTF-8 names.
_NAME_FIRST = (
    "Acme", "Blue Harbor", "Cedar", "Driftwood", "Ember", "Fjord", "Granite", "Helix",
    "Lumière", "Northwind", "Orbit", "Pioneer", "Quartz", "Redwood", "Summit", "Tidal",
)  # fmt: skip
_NAME_SECOND = (
    "Robotics", "Sensors", "Analytics", "Devices", "Labs", "Systems", "Audio", "Vision",
    "Health", "Motors", "Agritech", "Logistics", "Energy", "Wearables", "Industries", "Instruments",
)  # fmt: skip


def default_name(organization_id: int, seed: int = 0) -> str:
    """Return the deterministic name of an organization, unique per id, e.g. ``Cedar Labs 7``.

    Args:
        organization_id: The organization's id, which ends the name.
        seed: Varies the words.

    Returns:
        The name.
    """
    bits = _mix(_mix(seed + 0x4E414D45) ^ organization_id)
    return f"{_NAME_FIRST[bits % 16]} {_NAME_SECOND[(bits >> 8) % 16]} {organization_id}"


def _name_of_id(organization: Any) -> str:
    return default_name(organization.id)


@attrs.frozen
class FakeOrganization:
    """An organization the fake Studio knows, with the data its operations report.

    Args:
        id: The organization id; 0 is a valid id.
        whitelabel_inner_ids: None (the default) if this is not a white-label admin
            organization; otherwise the ids of the inner organizations of its white label (may be
            empty). Inner ids that the studio does not know are added as default organizations.
        project_count: Projects the organization owns.
        public_project_count: How many of those are public (the rest are private, reported as
            ``privateProjectCount`` in listings).
        user_count: Users in the organization.
        edge_impulse_user_count: How many of those are Edge Impulse staff
            (``excludeEdgeImpulseUsers=true`` leaves them out).
        total_storage_bytes: Storage used, reported as ``totalStorage``.
        created_at: No compute is used before this instant; ``totalJobsComputeTime`` counts
            from here; listings report it as ``created``.
        contract_start: Start of the current contract: ``jobsComputeTimeCurrentYearSince`` and
            ``computeTimeCurrentContractSince``.
        usage_percent: Scales the organization's compute usage; 0 means it never uses any.
        gpu: Whether it uses GPUs; None lets the studio's seed decide.
        name: The name; defaults to ``default_name(id)``.
        billable: Reported as ``billable``; the ``billable:true|false`` listing filter.
        deleted: A deleted organization is left out of listings and its info is 404 unless the
            request says ``includeDeleted=true``. Compute time and metrics ignore it.
        whitelabel_id: The white label the organization belongs to, reported as
            ``whitelabelId``; None leaves the field out.
        inactive_for: How long before the studio's ``now()`` the organization was last active;
            None if it never was. Relative to now so that the ``active`` listing filter keeps
            its meaning when now moves.
        entitlements: Its limits; the default has none (unlimited).
        usage_shape: The month-to-month shape of its usage (a ``UsageShape``); None (the
            default) for today's nearly flat pattern with a contract that never renews. A shaped
            organization's contract renews every year on ``contract_start``'s anniversary
            (``current_contract_start``).
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
    name: str = attrs.field(
        default=attrs.Factory(_name_of_id, takes_self=True), validator=_check_name, kw_only=True
    )
    billable: bool = attrs.field(default=True, validator=_check_bool, kw_only=True)
    deleted: bool = attrs.field(default=False, validator=_check_bool, kw_only=True)
    whitelabel_id: int | None = attrs.field(
        default=None, validator=_check_optional_non_negative, kw_only=True
    )
    inactive_for: timedelta | None = attrs.field(
        default=timedelta(0), validator=_check_inactive_for, kw_only=True
    )
    entitlements: EntitlementLimits = attrs.field(
        default=_UNLIMITED, validator=attrs.validators.instance_of(EntitlementLimits), kw_only=True
    )
    usage_shape: UsageShape | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(UsageShape),
        kw_only=True,
    )

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

    @property
    def private_project_count(self) -> int:
        """Projects that are not public: ``privateProjectCount`` in listings."""
        return self.project_count - self.public_project_count


def default_organizations(
    seed: int = 0,
    *,
    inner_organizations: int = DEFAULT_INNER_ORGANIZATION_COUNT,
    usage_shapes: bool = False,
) -> tuple[FakeOrganization, ...]:
    """Return the organizations a FakeStudio serves when given none.

    Organization 1 administers a white label (``whitelabelId`` ``DEFAULT_WHITELABEL_ID``) whose
    inner organizations are 2 to ``inner_organizations + 1``. Everything else is varied
    deterministically from ``seed`` and each id. Inner organizations cycle through ten profiles
    (the seed picks where the cycle starts), so any ten consecutive ids, such as the default
    2 to 11, hold each profile once; the profiles' compute limits are set against the contract
    usage as of ``DEFAULT_NOW``:

    ====  ==================================================  ==========================
    #     entitlement limits                                  contract usage / limit
    ====  ==================================================  ==========================
    0     none (unlimited)                                    -
    1     projects and users only                             -
    2     all five; always billable                           over: 110% to 160%
    3     all five                                            warn: 82% to 96%
    4     compute time and storage                            under: 20% to 60%
    5     all five                                            under: 10% to 70%
    6     none (unlimited), never billable                    -
    7     compute time only                                   over: 105% to 130%
    8     all five; the organization is deleted               under: 30% to 75%
    9     compute time and GPU compute time                   warn: 81% to 95%
    ====  ==================================================  ==========================

    About four in five of the other organizations are billable. About one in ten organizations
    was never active; the others were last active from moments to two years before now.

    With ``usage_shapes=True`` inner organization ``i`` also gets the usage shape
    ``list(UsageShape)[(i - 2) % 7]`` (flat, growth, decline, seasonal, step, idle month,
    renewal; the renewal one's contract starts on 1 July 2024), its contract renews yearly, and
    its limits are set against its shaped usage as above.

    Args:
        seed: The seed of the studio they are for.
        inner_organizations: How many inner organizations the white label has (0 to
            ``MAX_INNER_ORGANIZATIONS``); each costs about a millisecond to build.
        usage_shapes: Give the inner organizations the month-to-month shapes of real usage
            (each costs a few milliseconds more to build).

    Returns:
        Organizations 1 to ``inner_organizations + 1``, in id order.

    Raises:
        ValueError: For a count out of range.
    """
    if (
        isinstance(inner_organizations, bool)
        or not isinstance(inner_organizations, int)
        or not 0 <= inner_organizations <= MAX_INNER_ORGANIZATIONS
    ):
        raise ValueError(
            f"inner_organizations must be an int from 0 to {MAX_INNER_ORGANIZATIONS}, "
            f"got {inner_organizations!r}"
        )
    return _default_organizations(seed, inner_organizations, usage_shapes=bool(usage_shapes))


_SHAPES = tuple(UsageShape)
_RENEWAL_CONTRACT_START = datetime(2024, 7, 1, tzinfo=UTC)


def _shape_fields(organization_id: int) -> dict[str, Any]:
    shape = _SHAPES[(organization_id - 2) % len(_SHAPES)]
    fields: dict[str, Any] = {"usage_shape": shape}
    if shape is UsageShape.RENEWAL:
        fields["contract_start"] = _RENEWAL_CONTRACT_START
    return fields


@functools.lru_cache(maxsize=8)
def _default_organizations(
    seed: int, inner_count: int, *, usage_shapes: bool = False
) -> tuple[FakeOrganization, ...]:
    inner_ids = frozenset(range(2, 2 + inner_count))
    organizations = [
        _varied(
            DEFAULT_ORGANIZATION_ID,
            seed,
            whitelabel_inner_ids=inner_ids,
            whitelabel_id=DEFAULT_WHITELABEL_ID,
            deleted=False,
        )
    ]
    organizations.extend(
        _varied(
            i,
            seed,
            whitelabel_id=DEFAULT_WHITELABEL_ID,
            **(_shape_fields(i) if usage_shapes else {}),
        )
        for i in sorted(inner_ids)
    )
    return tuple(organizations)


_CREATED_FROM = datetime(2019, 1, 1, tzinfo=UTC)
_CREATED_SPAN_MS = 4 * 365 * 86_400_000  # created from 2019 to the end of 2022
_DAY_MS = 86_400_000
_HOUR_SECONDS = 3600
_GIB = 1 << 30


def _varied(organization_id: int, seed: int, **overrides: Any) -> FakeOrganization:
    bits = _mix(_mix(seed + 0x5EED) ^ organization_id)
    # The fields added later draw on other bits, so the earlier ones keep their values.
    more = _mix(bits ^ 0xC0FFEE)
    profile = (organization_id + _mix(seed + 0x0F11E5) % 10) % 10
    projects = 2 + bits % 40
    users = 3 + (bits >> 8) % 120
    # Contracts renew on the first of a month in the year before DEFAULT_NOW.
    month = 1 + (bits >> 24) % 12
    activity = (more >> 32) % 20
    inactive_ms = (more >> 40) % (7 * _DAY_MS)
    if activity >= 16:
        inactive_ms = (90 + (more >> 40) % 640) * _DAY_MS + (more >> 8) % _DAY_MS
    elif activity >= 11:
        inactive_ms = (7 + (more >> 40) % 83) * _DAY_MS + (more >> 8) % _DAY_MS
    fields: dict[str, Any] = {
        "project_count": projects,
        "public_project_count": (bits >> 16) % (projects + 1) // 3,
        "user_count": users,
        "edge_impulse_user_count": min(users, 1 + (bits >> 20) % 4),
        "total_storage_bytes": (1 << (30 + (bits >> 28) % 8)) * (100 + (bits >> 40) % 100) // 100,
        "contract_start": datetime(2024, month, 1, tzinfo=UTC),
        "created_at": _CREATED_FROM + timedelta(milliseconds=more % _CREATED_SPAN_MS),
        "name": default_name(organization_id, seed),
        "billable": profile != 6 and (profile == 2 or (more >> 48) % 5 != 0),
        "deleted": profile == 8,
        "inactive_for": None if activity < 2 else timedelta(milliseconds=inactive_ms),
    }
    if overrides.get("usage_shape") is not None and month == 1:
        # A shaped contract renews yearly: one starting in January would renew exactly at
        # DEFAULT_NOW, leaving nothing used to set its limits against.
        fields["contract_start"] = datetime(2024, 2, 1, tzinfo=UTC)
    fields.update(overrides)
    organization = FakeOrganization(organization_id, **fields)
    if "entitlements" in overrides:
        return organization
    return attrs.evolve(
        organization, entitlements=_entitlements(organization, seed, profile, _mix(more))
    )


# Per profile: which limits are set, and the contract usage / compute limit ratio range in
# per mille (None: no compute limit).
_PROFILES: tuple[tuple[frozenset[str], tuple[int, int] | None], ...] = (
    (frozenset(), None),
    (frozenset({"projects", "users"}), None),
    (frozenset({"compute", "gpu", "storage", "projects", "users"}), (1100, 1600)),
    (frozenset({"compute", "gpu", "storage", "projects", "users"}), (820, 960)),
    (frozenset({"compute", "storage"}), (200, 600)),
    (frozenset({"compute", "gpu", "storage", "projects", "users"}), (100, 700)),
    (frozenset(), None),
    (frozenset({"compute"}), (1050, 1300)),
    (frozenset({"compute", "gpu", "storage", "projects", "users"}), (300, 750)),
    (frozenset({"compute", "gpu"}), (810, 950)),
)


def organization_table(organization: FakeOrganization, seed: int) -> UsageTable | ShapedUsageTable:
    """Return the usage table (``UsageTable`` or ``ShapedUsageTable``) of an organization."""
    if organization.usage_shape is None:
        return usage_table(seed, organization.id, organization.usage_percent, organization.gpu)
    return shaped_usage_table(
        seed,
        organization.id,
        organization.usage_percent,
        organization.gpu,
        organization.usage_shape,
    )


def _anniversary(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a common year
        return moment.replace(year=moment.year + years, day=28)


def current_contract_start(organization: FakeOrganization, now: datetime) -> datetime:
    """Return when the organization's running contract started, as of ``now``.

    ``contract_start`` itself for an organization without a usage shape (its contract never
    renews); for a shaped one, the latest yearly anniversary of ``contract_start`` at or before
    ``now`` (its contract renews every year), or ``contract_start`` when that is after now.
    """
    start = organization.contract_start
    if organization.usage_shape is None or now <= start:
        return start
    years = now.year - start.year
    while years > 0 and _anniversary(start, years) > now:
        years -= 1
    return _anniversary(start, years)


def contract_usage_us(organization: FakeOrganization, seed: int, now: datetime) -> tuple[int, int]:
    """Return the CPU and GPU microseconds an organization used in its contract up to ``now``.

    The range is ``[contract_start, now)``, clipped to ``created_at``, empty if the contract
    starts later: what metrics and organization info report.
    """
    table = organization_table(organization, seed)
    created_ms = to_epoch_ms(organization.created_at)
    contract_ms = to_epoch_ms(current_contract_start(organization, now))
    end_ms = max(to_epoch_ms(now), contract_ms)
    return table.usage(max(contract_ms, created_ms), max(end_ms, created_ms))


def _entitlements(
    organization: FakeOrganization, seed: int, profile: int, bits: int
) -> EntitlementLimits:
    limits, ratio_range = _PROFILES[profile]
    if not limits:
        return _UNLIMITED
    fields: dict[str, int] = {}
    if "compute" in limits and ratio_range is not None:
        cpu_us, gpu_us = contract_usage_us(organization, seed, DEFAULT_NOW)
        low, high = ratio_range
        per_mille = low + bits % (high - low + 1)
        # Rounding the limit down to whole minutes only moves usage / limit up, by far less than
        # the margins of the profiles' ranges at these magnitudes (hours of usage).
        seconds = (cpu_us + gpu_us) * 1000 // (per_mille * 1_000_000)
        fields["compute_time_per_year_seconds"] = max(60, seconds - seconds % 60)
        if "gpu" in limits:
            gpu_seconds = gpu_us * 1000 // ((250 + (bits >> 12) % 500) * 1_000_000)
            gpu_seconds -= gpu_seconds % _HOUR_SECONDS
            fields["gpu_compute_time_per_year_seconds"] = max(100 * _HOUR_SECONDS, gpu_seconds)
    if "storage" in limits:
        needed = organization.total_storage_bytes * (120 + (bits >> 24) % 180) // 100
        fields["total_storage_bytes"] = -(-needed // _GIB) * _GIB
    if "projects" in limits:
        fields["number_of_projects"] = organization.project_count + (bits >> 36) % 21
    if "users" in limits:
        fields["number_of_users"] = organization.user_count + (bits >> 44) % 51
    return EntitlementLimits(**fields)
