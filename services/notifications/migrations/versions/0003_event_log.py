"""The dashboards' event log and which university leads each course, offering and programme.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "event_log",
        sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String, nullable=False, unique=True),
        sa.Column("type", sa.String, nullable=False, index=True),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=True),
        sa.Column("university", sa.String, nullable=True, index=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
    )
    # The recording transaction (SQLAlchemy has no xid8 type): the stream sends a row only once every transaction
    # older than it has ended, so a client resuming after sequence n never misses a lower one committed later.
    op.execute("ALTER TABLE event_log ADD COLUMN tx_id xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.create_table(
        "dashboard_course_universities",
        sa.Column("aggregate_id", sa.String, primary_key=True),
        sa.Column("university", sa.String, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dashboard_course_universities")
    op.drop_table("event_log")
