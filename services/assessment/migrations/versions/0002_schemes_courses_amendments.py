"""Grading schemes, the course read model, amendments; grades keep their scheme, pass decision, type of assessment,
identity verification and channel; one grade per enrolment.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("awarding_institutions", JSONB, nullable=False),
        sa.Column("type_of_assessment", sa.String, nullable=False),
        sa.Column("identity_verification", sa.String, nullable=True),
    )
    op.create_table(
        "grading_schemes",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("scheme", JSONB, nullable=False),
        sa.Column("set_by", sa.String, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("grades", sa.Column("course_version", sa.Integer, nullable=True))
    op.add_column("grades", sa.Column("learner", JSONB, nullable=True))
    op.add_column("grades", sa.Column("channel", sa.String, nullable=False, server_default="lms"))
    op.alter_column("grades", "lms", nullable=True)
    op.add_column("grades", sa.Column("grading_scheme", JSONB, nullable=True))
    op.add_column("grades", sa.Column("type_of_assessment", sa.String, nullable=True))
    op.add_column("grades", sa.Column("identity_verification", sa.String, nullable=True))
    # A second grade for an enrolment is an amendment. (Fails if 0001 recorded two grades for one enrolment: keep the
    # right one and move the others to grade_rejections first.)
    op.create_index("uq_grades_enrolment", "grades", ["enrolment_id"], unique=True)
    op.create_table(
        "grade_amendments",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("grade_id", sa.String, sa.ForeignKey("grades.id"), nullable=False, index=True),
        sa.Column("previous_grade", sa.String, nullable=False),
        sa.Column("previous_passed", sa.Boolean, nullable=False),
        sa.Column("grade", sa.String, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("amended_by", sa.String, nullable=False),
        sa.Column("amended_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("grade_rejections", sa.Column("channel", sa.String, nullable=False, server_default="lms"))
    op.alter_column("grade_rejections", "lms", nullable=True)
    op.add_column("grade_rejections", sa.Column("line", sa.Integer, nullable=True))


def downgrade() -> None:
    # Grades and rejections that did not come from an LMS name their channel where 0001 expects the LMS.
    op.execute("UPDATE grades SET lms = channel WHERE lms IS NULL")
    op.execute("UPDATE grade_rejections SET lms = channel WHERE lms IS NULL")
    op.drop_column("grade_rejections", "line")
    op.alter_column("grade_rejections", "lms", nullable=False)
    op.drop_column("grade_rejections", "channel")
    op.drop_table("grade_amendments")
    op.drop_index("uq_grades_enrolment", "grades")
    added = ("identity_verification", "type_of_assessment", "grading_scheme", "channel", "learner", "course_version")
    for column in added:
        op.drop_column("grades", column)
    op.alter_column("grades", "lms", nullable=False)
    op.drop_table("grading_schemes")
    op.drop_table("courses")
