"""Courses and the plumbing tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "courses",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("designed_by", sa.String, nullable=False),
        sa.Column("reviewed_by", sa.String, nullable=True),
        sa.Column("rejection_reasons", JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_courses_status", "courses", ["status"])


def downgrade() -> None:
    op.drop_table("courses")
    op.drop_table("processed_events")
    op.drop_table("outbox")
