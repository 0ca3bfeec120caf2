"""Deliveries and the plumbing tables.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_plumbing_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("about_event_id", sa.String, nullable=False, index=True),
        sa.Column("about_event_type", sa.String, nullable=False),
        sa.Column("recipient", sa.String, nullable=False, index=True),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("template", sa.String, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("about_event_id", "recipient", name="uq_deliveries_event_recipient"),
    )


def downgrade() -> None:
    for table in ("deliveries", "processed_events", "outbox"):
        op.drop_table(table)
