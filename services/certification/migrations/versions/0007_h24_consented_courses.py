"""A partner's node endorses a joint credential only for a course version its institution consented to at this node
(the catalogue's JointCourseConsented), not because the lead lists it on the alliance bus: `consented_courses` replaces
`member_courses`.

Revision ID: 0007_h24
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007_h24"
down_revision = "0006_h20"


def upgrade() -> None:
    op.drop_table("member_courses")
    op.create_table(
        "consented_courses",
        sa.Column("lead_node", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("institutions", JSONB, nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawal_reason", sa.String, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("consented_courses")
    op.create_table(
        "member_courses",
        sa.Column("node", sa.String, primary_key=True),
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("institutions", JSONB, nullable=False),
    )
