"""Applications to offerings, with places, waitlists and fees; read models of course versions, offerings and held
micro-credentials.

Replaces the first version's enrolments (dropped, with their rows: no node holds production data yet) and its
approved_courses (copied into course_versions: the approvals it saw had no prerequisites or target groups, which are
new in the contract). The learners table keeps its shape but loses its rows: learners were identified by ids the
server made up, and are now identified by their token's subject, so they register again. The new read models of
offerings and held credentials fill from their topics, which the consumer group reads from the start.
The plumbing tables (outbox, processed_events) are untouched. A downgrade brings back the old tables, enrolments empty.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

NEW_TABLES = ("applications", "held_credentials", "offerings", "course_versions")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.drop_table("enrolments")
    op.execute("DELETE FROM learners")
    op.create_table(
        "course_versions",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("prerequisite_course_ids", JSONB, nullable=False),
        sa.Column("accepts_declared_qualification", sa.Boolean, nullable=False),
        sa.Column("target_groups", JSONB, nullable=False),
        timestamp("approved_at"),
        timestamp("retired_at", nullable=True),
    )
    op.execute(
        "INSERT INTO course_versions SELECT course_id, version, title, '[]', false, '[]', approved_at, NULL "
        "FROM approved_courses"
    )
    op.drop_table("approved_courses")
    op.create_table(
        "offerings",
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False, index=True),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("institution", sa.String, nullable=True, index=True),
        sa.Column("delivery_mode", sa.String, nullable=False),
        sa.Column("pace", sa.String, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("ends_on", sa.Date, nullable=True),
        timestamp("registration_opens_at"),
        timestamp("registration_closes_at"),
        sa.Column("capacity", sa.Integer, sa.CheckConstraint("capacity >= 1"), nullable=True),
        sa.Column("fee", JSONB, nullable=True),
        sa.Column("open_to", JSONB, nullable=False),
        timestamp("opened_at"),
    )
    op.create_table(
        "held_credentials",
        sa.Column("credential_id", sa.String, primary_key=True),
        sa.Column("learner_id", sa.String, nullable=False, index=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        timestamp("issued_at"),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("offering_id", sa.String, sa.ForeignKey("offerings.offering_id"), nullable=False),
        sa.Column("learner_id", sa.String, sa.ForeignKey("learners.id"), nullable=False, index=True),
        sa.Column("learner_category", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("seat", sa.Integer, nullable=True),
        sa.Column("position", sa.Integer, nullable=True),
        sa.Column("declared_qualification", sa.String, nullable=True),
        sa.Column("fee", JSONB, nullable=True),
        sa.Column("fee_status", sa.String, nullable=True),
        sa.Column("fee_recorded_by", sa.String, nullable=True),
        sa.Column("promoted_from_waitlist", sa.Boolean, nullable=False),
        timestamp("applied_at"),
        timestamp("enrolled_at", nullable=True),
        timestamp("withdrawn_at", nullable=True),
        sa.CheckConstraint("status IN ('enrolled', 'waitlisted', 'withdrawn')", name="ck_applications_status"),
        # Exactly the enrolled hold a seat, exactly the waitlisted a position.
        sa.CheckConstraint("(status = 'enrolled') = (seat IS NOT NULL) AND seat >= 1", name="ck_applications_seat"),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (position IS NOT NULL) AND position >= 1", name="ck_applications_position"
        ),
        # Behind the offering's row lock, the last line of defence: no seat or place in line is ever given twice.
        # Deferred to the commit, because a withdrawal moves seats and positions between rows within one transaction.
        sa.UniqueConstraint(
            "offering_id", "seat", name="uq_applications_offering_seat", deferrable=True, initially="DEFERRED"
        ),
        sa.UniqueConstraint(
            "offering_id", "position", name="uq_applications_offering_position", deferrable=True, initially="DEFERRED"
        ),
    )
    # One live application per learner and offering; after a withdrawal they may apply again.
    op.create_index(
        "uq_applications_offering_learner_active",
        "applications",
        ["offering_id", "learner_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'withdrawn'"),
    )
    op.create_index("ix_applications_offering_status", "applications", ["offering_id", "status"])


def downgrade() -> None:
    op.create_table(
        "approved_courses",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        timestamp("approved_at"),
    )
    op.execute(
        "INSERT INTO approved_courses SELECT DISTINCT ON (course_id) course_id, version, title, approved_at "
        "FROM course_versions ORDER BY course_id, version DESC"
    )
    for table in NEW_TABLES:
        op.drop_table(table)
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("learner_id", sa.String, sa.ForeignKey("learners.id"), nullable=False),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        timestamp("enrolled_at"),
        sa.UniqueConstraint("learner_id", "course_id", name="uq_enrolments_learner_course"),
    )
