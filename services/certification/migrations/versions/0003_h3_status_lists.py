"""Signed status list credentials, stored when a status changes and served as stored.

Revision ID: 0003_h3
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_h3"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "status_lists",
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("purpose", sa.String, primary_key=True),
        sa.Column("credential", JSONB, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("status_lists")
