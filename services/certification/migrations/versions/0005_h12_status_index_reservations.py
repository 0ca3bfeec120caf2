"""Status list indexes reserved ahead by each instance (services/certification/status_indexes.py).

Revision ID: 0005_h12
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_h12"
down_revision = "0004_h13"


def upgrade() -> None:
    op.create_table(
        "status_index_reservations",
        sa.Column("institution", sa.String, primary_key=True),
        sa.Column("status_index", sa.Integer, primary_key=True),
    )
    # The indexes credentials hold already are taken.
    op.execute(
        "INSERT INTO status_index_reservations (institution, status_index) "
        "SELECT issuer_institution, status_index FROM credentials ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.drop_table("status_index_reservations")
