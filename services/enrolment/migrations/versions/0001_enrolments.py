"""Learners, enrolments, the approved-course read model, and the plumbing tables.

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
        "approved_courses",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "learners",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False, unique=True),
        sa.Column("home_institution", sa.String, nullable=True),
        sa.Column("category", sa.String, nullable=False),
        sa.Column("esi", sa.String, nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("learner_id", sa.String, sa.ForeignKey("learners.id"), nullable=False),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("learner_id", "course_id", name="uq_enrolments_learner_course"),
    )


def downgrade() -> None:
    for table in ("enrolments", "learners", "approved_courses", "processed_events", "outbox"):
        op.drop_table(table)
