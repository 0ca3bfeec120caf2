"""Signed credentials with status list indexes, revocation and suspension; grade and programme read models;
share links.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

_NEW_COLUMNS = (
    sa.Column("programme", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("parts", JSONB, nullable=False, server_default="[]"),
    sa.Column("issuer_institution", sa.String, nullable=False),
    sa.Column("status_index", sa.Integer, nullable=False),
    sa.Column("verifiable_credential", JSONB, nullable=False),
    sa.Column("pending_endorsements", JSONB, nullable=False),
    sa.Column("replaces", sa.String, nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revocation_reason", sa.String, nullable=True),
    sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("suspension_reason", sa.String, nullable=True),
)


def upgrade() -> None:
    # No production data yet: unsigned credential records cannot be signed after the fact, so they go.
    op.execute("DELETE FROM credentials")
    for column in _NEW_COLUMNS:
        op.add_column("credentials", column)
    op.alter_column("credentials", "grade_id", nullable=True)
    op.drop_constraint("uq_credentials_learner_course", "credentials", type_="unique")
    # One live credential per learner and course version; revoked ones stay, and a replacement is live beside them.
    op.create_index(
        "uq_credentials_live_learner_course",
        "credentials",
        ["learner_id", "course_id", "course_version"],
        unique=True,
        postgresql_where=sa.text("revoked_at IS NULL"),
    )
    op.create_unique_constraint("uq_credentials_status_index", "credentials", ["issuer_institution", "status_index"])
    op.create_index("ix_credentials_grade_id", "credentials", ["grade_id"])
    op.create_table(
        "grades",
        sa.Column("grade_id", sa.String, primary_key=True),
        sa.Column("learner_id", sa.String, nullable=False),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("learner", JSONB, nullable=False),
        sa.Column("grade", sa.String, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
    )
    op.create_table(
        "shares",
        sa.Column("token", sa.String, primary_key=True),
        sa.Column("credential_id", sa.String, sa.ForeignKey("credentials.id"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "programmes",
        sa.Column("programme_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("description", sa.String, nullable=True),
        sa.Column("awarding_bodies", JSONB, nullable=False),
        sa.Column("rule", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("programmes")
    op.drop_table("shares")
    op.drop_table("grades")
    op.execute("DELETE FROM credentials")
    op.drop_index("ix_credentials_grade_id", "credentials")
    op.drop_constraint("uq_credentials_status_index", "credentials", type_="unique")
    op.drop_index("uq_credentials_live_learner_course", "credentials")
    for column in _NEW_COLUMNS:
        op.drop_column("credentials", column.name)
    op.alter_column("credentials", "grade_id", nullable=False)
    op.create_unique_constraint(
        "uq_credentials_learner_course", "credentials", ["learner_id", "course_id", "course_version"]
    )
