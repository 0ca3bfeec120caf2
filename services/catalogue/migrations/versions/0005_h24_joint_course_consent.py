"""Joint courses with consent at each partner's node (services/catalogue/consents.py): at the lead's node, each
co-awarding institution hosted by another node asked to consent to a course version, and its answer; at a partner's
node, the lead's requests as consent cases for its QA (four eyes). A course version waiting for consent has the status
`awaiting-consent` (statuses are strings: no column changes).

Revision ID: 0005_h24
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005_h24"
down_revision = "0004"


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "partner_consents",
        sa.Column("course_id", sa.String, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("node", sa.String, nullable=False),
        sa.Column("answer", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=True),
        _when("requested_at", nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _when("answered_at"),
    )
    op.create_table(
        "consent_cases",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("node", sa.String, nullable=False),
        sa.Column("lead_node", sa.String, nullable=False),
        sa.Column("lead_institution", sa.String, nullable=False),
        sa.Column("course_id", sa.String, nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("institution", sa.String, nullable=False, index=True),
        sa.Column("institutions", JSONB, nullable=False),
        sa.Column("description", JSONB, nullable=False),
        sa.Column("previous_version", sa.Integer, nullable=True),
        sa.Column("state", sa.String, nullable=False, index=True),
        _when("received_at", nullable=False),
        sa.Column("recommended_by", sa.String, nullable=True),
        sa.Column("recommended_by_name", sa.String, nullable=True),
        _when("recommended_at"),
        sa.Column("decided_by", sa.String, nullable=True),
        sa.Column("decided_by_name", sa.String, nullable=True),
        _when("decided_at"),
        sa.Column("reason", sa.String, nullable=True),
        sa.Column("withdrawn_by", sa.String, nullable=True),
        sa.Column("withdrawn_by_name", sa.String, nullable=True),
        _when("withdrawn_at"),
        sa.UniqueConstraint("lead_node", "course_id", "version", "institution"),
    )


def downgrade() -> None:
    op.drop_table("consent_cases")
    op.drop_table("partner_consents")
