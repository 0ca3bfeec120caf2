"""The trace context of the event each delivery is about, which the worker continues when it sends.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("traceparent", sa.String, nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "traceparent")
