"""Sessions, sign-ins under way, and the secret that signs the forms' CSRF tokens and the pages' notices.

Revision ID: 0001
Revises:
"""

import secrets

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("subject", sa.String, nullable=False, index=True),
        sa.Column("claims", JSONB, nullable=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_token", sa.Text, nullable=True),
        sa.Column("id_token", sa.Text, nullable=False),
        sa.Column("language", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "sign_ins",
        sa.Column("state", sa.String, primary_key=True),
        sa.Column("browser", sa.String, nullable=False),
        sa.Column("code_verifier", sa.String, nullable=False),
        sa.Column("nonce", sa.String, nullable=False),
        sa.Column("return_to", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    secrets_table = op.create_table(
        "signing_secrets", sa.Column("name", sa.String, primary_key=True), sa.Column("secret", sa.String, nullable=False)
    )
    op.bulk_insert(secrets_table, [{"name": "web", "secret": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table("signing_secrets")
    op.drop_table("sign_ins")
    op.drop_table("sessions")
