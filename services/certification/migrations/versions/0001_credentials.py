"""Credentials, the course-version read model, and the plumbing tables.

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
        "course_versions",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("description", JSONB, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("learner_id", sa.String, nullable=False, index=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("grade_id", sa.String, nullable=False),
        sa.Column("record", JSONB, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("learner_id", "course_id", "course_version", name="uq_credentials_learner_course"),
    )


def downgrade() -> None:
    for table in ("credentials", "course_versions", "processed_events", "outbox"):
        op.drop_table(table)
