"""Revision 1: the initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ei_usage.store._schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of revision 1."""
    op.create_table(
        "ei_usage_sync_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organization_id", sa.BigInteger, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("period_start", UTCDateTime),
        sa.Column("period_end", UTCDateTime),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("throttles", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("fetched", sa.Integer, nullable=False),
        sa.Column("reused", sa.Integer, nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_ei_usage_sync_runs"),
    )
    op.create_table(
        "ei_usage_organizations",
        sa.Column("organization_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("inner_organization_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created", UTCDateTime),
        sa.Column("billable", sa.Boolean),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "inner_organization_id", name="pk_ei_usage_organizations"
        ),
    )
    op.create_table(
        "ei_usage_entitlements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organization_id", sa.BigInteger, nullable=False),
        sa.Column("inner_organization_id", sa.BigInteger, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.Column("compute_time_per_year_seconds", sa.Double),
        sa.Column("gpu_compute_time_per_year_seconds", sa.Double),
        sa.Column("storage_bytes", sa.BigInteger),
        sa.Column("projects", sa.BigInteger),
        sa.Column("users", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_ei_usage_entitlements"),
    )
    op.create_index(
        "ix_ei_usage_entitlements_inner_seen",
        "ei_usage_entitlements",
        ["organization_id", "inner_organization_id", "seen_at"],
    )
    op.create_table(
        "ei_usage_compute_time",
        sa.Column("organization_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("inner_organization_id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("period_end", UTCDateTime, nullable=False),
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("wire", sa.Text, nullable=False),
        sa.Column("cpu_seconds", sa.Double),
        sa.Column("gpu_seconds", sa.Double),
        sa.Column("total_minutes", sa.Double),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("sync_run_id", sa.Integer),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "inner_organization_id",
            "period_start",
            "period_end",
            name="pk_ei_usage_compute_time",
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["ei_usage_sync_runs.id"],
            name="fk_ei_usage_compute_time_sync_run_id",
        ),
    )
    op.create_table(
        "ei_usage_compute_time_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organization_id", sa.BigInteger, nullable=False),
        sa.Column("inner_organization_id", sa.BigInteger, nullable=False),
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("period_end", UTCDateTime, nullable=False),
        sa.Column("old_wire", sa.Text, nullable=False),
        sa.Column("new_wire", sa.Text, nullable=False),
        sa.Column("old_fetched_at", UTCDateTime, nullable=False),
        sa.Column("new_fetched_at", UTCDateTime, nullable=False),
        sa.Column("sync_run_id", sa.Integer),
        sa.PrimaryKeyConstraint("id", name="pk_ei_usage_compute_time_changes"),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["ei_usage_sync_runs.id"],
            name="fk_ei_usage_compute_time_changes_sync_run_id",
        ),
    )
    op.create_table(
        "ei_usage_contract_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("organization_id", sa.BigInteger, nullable=False),
        sa.Column("inner_organization_id", sa.BigInteger, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
        sa.Column("sync_run_id", sa.Integer),
        sa.Column("wire", sa.Text, nullable=False),
        sa.Column("cpu_seconds", sa.Double),
        sa.Column("gpu_seconds", sa.Double),
        sa.Column("total_minutes", sa.Double),
        sa.Column("storage_bytes", sa.BigInteger),
        sa.Column("contract_since", UTCDateTime),
        sa.Column("billable", sa.Boolean),
        sa.PrimaryKeyConstraint("id", name="pk_ei_usage_contract_usage"),
        sa.ForeignKeyConstraint(
            ["sync_run_id"],
            ["ei_usage_sync_runs.id"],
            name="fk_ei_usage_contract_usage_sync_run_id",
        ),
        sa.UniqueConstraint(
            "sync_run_id",
            "organization_id",
            "inner_organization_id",
            name="uq_ei_usage_contract_usage_run_inner",
        ),
    )
    op.create_index(
        "ix_ei_usage_contract_usage_inner_fetched",
        "ei_usage_contract_usage",
        ["organization_id", "inner_organization_id", "fetched_at"],
    )


def downgrade() -> None:
    """Drop every table of revision 1."""
    for table in (
        "ei_usage_contract_usage",
        "ei_usage_compute_time_changes",
        "ei_usage_compute_time",
        "ei_usage_entitlements",
        "ei_usage_organizations",
        "ei_usage_sync_runs",
    ):
        op.drop_table(table)
