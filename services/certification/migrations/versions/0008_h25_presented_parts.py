"""Stacking across nodes (services/certification/presented_parts.py, reliances.py): the parts learners presented for
programmes of this node, and the other nodes that rely on credentials this node issued.

Revision ID: 0008_h25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008_h25"
down_revision = "0007_h24"


def upgrade() -> None:
    op.create_table(
        "presented_parts",
        sa.Column("learner_id", sa.String, primary_key=True),
        sa.Column("credential_id", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, nullable=False),
        sa.Column("course_version", sa.Integer, nullable=False),
        sa.Column("issuer", sa.String, nullable=False),
        sa.Column("institution", sa.String, nullable=True),
        sa.Column("node", sa.String, nullable=True),
        sa.Column("record", JSONB, nullable=False),
        sa.Column("credential", JSONB, nullable=False),
        sa.Column("presented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_presented_parts_credential_id", "presented_parts", ["credential_id"])
    # The re-check schedule reads only the parts not revoked, the longest unchecked first.
    op.create_index(
        "ix_presented_parts_due", "presented_parts", ["checked_at"], postgresql_where=sa.text("revoked_at IS NULL")
    )
    op.create_table(
        "reliances",
        sa.Column("credential_id", sa.String, sa.ForeignKey("credentials.id"), primary_key=True),
        sa.Column("node", sa.String, primary_key=True),
        sa.Column("own_node", sa.String, nullable=False),
        sa.Column("relied_on_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reliances")
    op.drop_table("presented_parts")
