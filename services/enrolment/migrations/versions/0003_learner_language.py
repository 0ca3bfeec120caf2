"""The learner's preferred language (ISO 639-1), which their emails are written in; none means English.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("learners", sa.Column("preferred_language", sa.String(2), nullable=True))


def downgrade() -> None:
    op.drop_column("learners", "preferred_language")
