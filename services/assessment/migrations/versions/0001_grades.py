"""Grades, rejected submissions, the enrolment read model, and the plumbing tables.

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
        "enrolled_learners",
        sa.Column("enrolment_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("learner_id", sa.String, nullable=False),
        sa.Column("learner", JSONB, nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("course_id", "learner_id", name="uq_enrolled_learners_course_learner"),
    )
    op.create_table(
        "grades",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("submission_id", sa.String, nullable=False, unique=True),
        sa.Column("enrolment_id", sa.String, nullable=False),
        sa.Column("course_id", sa.String, nullable=False, index=True),
        sa.Column("learner_id", sa.String, nullable=False, index=True),
        sa.Column("grade", sa.String, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("assessed_on", sa.Date, nullable=False),
        sa.Column("assessor", sa.String, nullable=False),
        sa.Column("lms", sa.String, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "grade_rejections",
        sa.Column("submission_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("learner_id", sa.String, nullable=False),
        sa.Column("rule", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("lms", sa.String, nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("grade_rejections", "grades", "enrolled_learners", "processed_events", "outbox"):
        op.drop_table(table)
