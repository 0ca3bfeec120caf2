"""Endorsements exchanged with co-awarding institutions' nodes (services/certification/endorsements.py): the requests
this node made as the lead, the endorsements it signed for its own institutions, and the member courses it co-awards.

Revision ID: 0006_h20
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006_h20"
down_revision = "0005_h12"


def upgrade() -> None:
    op.create_table(
        "endorsement_requests",
        sa.Column("credential_id", sa.String, sa.ForeignKey("credentials.id"), primary_key=True),
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("node", sa.String, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("declined_reason", sa.String, nullable=True),
        sa.Column("endorsed_at", sa.DateTime(timezone=True), nullable=True),
    )
    # The retry schedule reads only what is still pending.
    op.create_index(
        "ix_endorsement_requests_pending", "endorsement_requests", ["requested_at"],
        postgresql_where=sa.text("endorsed_at IS NULL"),
    )
    op.create_table(
        "given_endorsements",
        sa.Column("credential_id", sa.String, primary_key=True),
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("lead_node", sa.String, nullable=False),
        sa.Column("endorsement", JSONB, nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "member_courses",
        sa.Column("node", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("institutions", JSONB, nullable=False),
    )


def downgrade() -> None:
    for table in ("member_courses", "given_endorsements", "endorsement_requests"):
        op.drop_table(table)
