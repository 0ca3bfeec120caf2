"""Assessors' CSV uploads and their line-by-line results, kept in the database instead of one process's memory.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "grade_uploads",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False, index=True),
        sa.Column("owner", sa.String, nullable=False, index=True),
        sa.Column("filename", sa.String, nullable=False),
        sa.Column("header", sa.String, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("results", JSONB, nullable=False),
        sa.Column("stopped", sa.String, nullable=True),
        sa.Column("finished", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("grade_uploads")
