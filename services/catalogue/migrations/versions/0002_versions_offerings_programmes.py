"""Course versions, offerings and programmes.

Courses are now keyed by (id, version), so that an approved version never changes and a revision is a new version;
they record who submitted, reviewed and retired each version, and which institutions award it. The 0001 `courses`
table is dropped and created anew: there is no production data yet, so nothing is carried over, and for the same
reason there is no downgrade. The outbox and processed-event tables are left as they are.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def reviewed_columns() -> list[sa.Column]:
    """The versions and the QA workflow, which courses and programmes share."""
    return [
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("institutions", JSONB, nullable=False),
        sa.Column("designed_by", sa.String, nullable=False),
        sa.Column("submitted_by", sa.String, nullable=True),
        sa.Column("reviewed_by", sa.String, nullable=True),
        sa.Column("rejection_reasons", JSONB, nullable=True),
        sa.Column("retired_by", sa.String, nullable=True),
        sa.Column("retirement_reason", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version >= 1", name="version_from_one"),
    ]


def upgrade() -> None:
    op.drop_table("courses")
    op.create_table("courses", *reviewed_columns(), sa.Column("description", JSONB, nullable=False))
    op.create_index("ix_courses_status", "courses", ["status"])
    # The search filters on awarding institutions, languages and skills with JSONB containment (@>).
    op.create_index("ix_courses_institutions", "courses", ["institutions"], postgresql_using="gin")
    op.create_index("ix_courses_description", "courses", ["description"], postgresql_using="gin")

    op.create_table(
        "programmes",
        *reviewed_columns(),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("description", sa.String, nullable=True),
        sa.Column("awarding_bodies", JSONB, nullable=False),
        sa.Column("rule", JSONB, nullable=False),
    )
    op.create_index("ix_programmes_status", "programmes", ["status"])

    op.create_table(
        "offerings",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("institution", sa.String, nullable=False),
        sa.Column("delivery_mode", sa.String, nullable=False),
        sa.Column("pace", sa.String, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.Column("registration_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registration_closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("fee", JSONB, nullable=True),
        sa.Column("open_to", JSONB, nullable=False),
        sa.Column("opened_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["course_id", "course_version"], ["courses.id", "courses.version"]),
        # The same rules as the domain's, kept by the database too.
        sa.CheckConstraint("registration_closes_at > registration_opens_at", name="registration_window"),
        sa.CheckConstraint("ends_on IS NULL OR starts_on IS NULL OR ends_on >= starts_on", name="runs_forward"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
    )
    op.create_index("ix_offerings_course", "offerings", ["course_id", "course_version"])
    op.create_index("ix_offerings_registration", "offerings", ["registration_closes_at", "registration_opens_at"])


def downgrade() -> None:
    # One way: 0001's single-version rows cannot hold what versions, offerings and programmes say.
    raise NotImplementedError("0002 cannot be undone: drop the catalogue's database and migrate again")
