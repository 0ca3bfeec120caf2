"""The gateway's tables: the node's public catalogue as its facts told it, and the alliance outbox.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from shared.migrations import create_outbox_table, create_plumbing_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_plumbing_tables()
    # What leaves the node for the alliance bus, published by the gateway's second relay.
    create_outbox_table("alliance_outbox")
    op.create_table(
        "course_versions",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("approved", JSONB, nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "offerings",
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("opened", JSONB, nullable=False),
    )
    op.create_index("ix_offerings_course_id", "offerings", ["course_id"])
    op.create_table(
        "places",
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("availability", JSONB, nullable=False),
    )
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("approved", JSONB, nullable=False),
    )


def downgrade() -> None:
    for table in ("programmes", "places", "offerings", "course_versions", "alliance_outbox", "processed_events", "outbox"):
        op.drop_table(table)
