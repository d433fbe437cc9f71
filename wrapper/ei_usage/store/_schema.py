"""The store's tables, as SQLAlchemy Core metadata (the migrations create exactly these).

Every table name starts with ``ei_usage_`` and Alembic's version table is
``ei_usage_alembic_version``, so a PostgreSQL database shared with other tools (some with
Alembic histories of their own) holds ours side by side with theirs.

Instants are aware UTC datetimes in Python: ``timestamp with time zone`` on PostgreSQL, and on
SQLite (which has no time zone type) naive UTC text of fixed width, which sorts as time does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

VERSION_TABLE = "ei_usage_alembic_version"

REVISIONS = ("0001",)
"""Every schema revision this ei-usage knows, oldest first (the migrations' ids; a test checks
them against Alembic's script directory)."""

REVISION = REVISIONS[-1]
"""The revision the tables below are."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both dialects."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``timestamp with time zone`` where the dialect has it."""
        return dialect.type_descriptor(DateTime(timezone=dialect.name != "sqlite"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; store UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING)

sync_runs = Table(
    "ei_usage_sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("granularity", String(8), nullable=False),
    Column("period_start", UTCDateTime),
    Column("period_end", UTCDateTime),
    Column("requests", Integer, nullable=False, default=0),
    Column("throttles", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("reused", Integer, nullable=False, default=0),
    Column("stop_reason", Text),
)

organizations = Table(
    "ei_usage_organizations",
    metadata,
    Column("organization_id", BigInteger, primary_key=True, autoincrement=False),
    Column("inner_organization_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("created", UTCDateTime),
    Column("billable", Boolean),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
)

entitlements = Table(
    "ei_usage_entitlements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, nullable=False),
    Column("inner_organization_id", BigInteger, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("compute_time_per_year_seconds", Double),
    Column("gpu_compute_time_per_year_seconds", Double),
    Column("storage_bytes", BigInteger),
    Column("projects", BigInteger),
    Column("users", BigInteger),
    Index(
        "ix_ei_usage_entitlements_inner_seen", "organization_id", "inner_organization_id", "seen_at"
    ),
)

compute_time = Table(
    "ei_usage_compute_time",
    metadata,
    Column("organization_id", BigInteger, primary_key=True, autoincrement=False),
    Column("inner_organization_id", BigInteger, primary_key=True, autoincrement=False),
    Column("period_start", UTCDateTime, primary_key=True),
    Column("period_end", UTCDateTime, primary_key=True),
    Column("granularity", String(8), nullable=False),
    # The API's numbers exactly as sent, as canonical JSON keyed by wire name
    # (cpuComputeTime and gpuComputeTime in seconds, totalComputeTime in minutes).
    Column("wire", Text, nullable=False),
    # The same numbers as columns, for SQL users (sums, charts); the wire text is the record.
    Column("cpu_seconds", Double),
    Column("gpu_seconds", Double),
    Column("total_minutes", Double),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("sync_run_id", Integer, ForeignKey("ei_usage_sync_runs.id")),
)

compute_time_changes = Table(
    "ei_usage_compute_time_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, nullable=False),
    Column("inner_organization_id", BigInteger, nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("old_wire", Text, nullable=False),
    Column("new_wire", Text, nullable=False),
    Column("old_fetched_at", UTCDateTime, nullable=False),
    Column("new_fetched_at", UTCDateTime, nullable=False),
    Column("sync_run_id", Integer, ForeignKey("ei_usage_sync_runs.id")),
)

contract_usage = Table(
    "ei_usage_contract_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("organization_id", BigInteger, nullable=False),
    Column("inner_organization_id", BigInteger, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("sync_run_id", Integer, ForeignKey("ei_usage_sync_runs.id")),
    Column("wire", Text, nullable=False),
    Column("cpu_seconds", Double),
    Column("gpu_seconds", Double),
    Column("total_minutes", Double),
    Column("storage_bytes", BigInteger),
    Column("contract_since", UTCDateTime),
    Column("billable", Boolean),
    # One snapshot per organization per sync (NULL run ids, from outside a sync, never clash).
    UniqueConstraint(
        "sync_run_id",
        "organization_id",
        "inner_organization_id",
        name="uq_ei_usage_contract_usage_run_inner",
    ),
    Index(
        "ix_ei_usage_contract_usage_inner_fetched",
        "organization_id",
        "inner_organization_id",
        "fetched_at",
    ),
)
