"""The trace context of each enrolment, which an LMS grade without its own continues.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("enrolled_learners", sa.Column("traceparent", sa.String, nullable=True))


def downgrade() -> None:
    op.drop_column("enrolled_learners", "traceparent")
