"""A learner can take a share link back before it expires.

Revision ID: 0004_h13
Revises: 0003_h3
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_h13"
down_revision = "0003_h3"


def upgrade() -> None:
    op.add_column("shares", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("shares", "revoked_at")
