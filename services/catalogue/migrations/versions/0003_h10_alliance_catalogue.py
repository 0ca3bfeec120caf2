"""The alliance's catalogue: the places of the node's own offerings (from enrolment), and the other members' courses,
offerings and programmes as the node's alliance gateway passes them on.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def listing_columns() -> list[sa.Column]:
    """What every member's listing has: its node (part of the key: one node cannot overwrite another's listing), the
    institution it speaks for, and when it was first heard of and taken off offer."""
    return [
        sa.Column("node", sa.String, primary_key=True),
        sa.Column("institution", sa.String, nullable=False),
        sa.Column("institutions", JSONB, nullable=False),
        sa.Column("listed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delisted_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "offering_places",
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("enrolled", sa.Integer, nullable=False),
        sa.Column("waitlisted", sa.Integer, nullable=False),
        sa.Column("places_left", sa.Integer, nullable=True),
    )
    op.create_table(
        "member_courses",
        *listing_columns(),
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "member_offerings",
        *listing_columns(),
        sa.Column("offering_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("delivery_mode", sa.String, nullable=False),
        sa.Column("pace", sa.String, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=True),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.Column("registration_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registration_closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("fee", JSONB, nullable=True),
        sa.Column("open_to", JSONB, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("enrolled", sa.Integer, nullable=False),
        sa.Column("waitlisted", sa.Integer, nullable=False),
        sa.Column("places_left", sa.Integer, nullable=True),
    )
    # The search filters on languages and skills with JSONB containment (@>), as over the node's own courses.
    op.create_index("ix_member_offerings_description", "member_offerings", ["description"], postgresql_using="gin")
    op.create_index("ix_member_offerings_registration", "member_offerings", ["registration_closes_at"])
    op.create_table(
        "member_programmes",
        *listing_columns(),
        sa.Column("programme_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("description", sa.String, nullable=True),
        sa.Column("awarding_bodies", JSONB, nullable=False),
        sa.Column("rule", JSONB, nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("member_programmes", "member_offerings", "member_courses", "offering_places"):
        op.drop_table(table)
