"""Deliveries go through a worker: recorded as pending with the rendered email and a stable Message-ID, claimed,
sent, then marked sent or failed; transient failures are retried with backoff.

Deliveries recorded before this revision were all sent: they become `sent`, with the Message-ID they were sent with
(`<event id>.<template>@<domain>`, the domain unknown here, so `@microcredentials.local`) and empty bodies.

Learners' preferences (opting out of optional emails), and the secret that signs unsubscribe links.

Revision ID: 0002
Revises: 0001
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.alter_column("deliveries", "sent_at", nullable=True)
    for column in (
        sa.Column("language", sa.String, nullable=False, server_default="en"),
        sa.Column("message_id", sa.String, nullable=True),
        sa.Column("unsubscribe_url", sa.String, nullable=True),
        sa.Column("status", sa.String, nullable=False, server_default="sent"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("last_error", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text_body", sa.Text, nullable=False, server_default=""),
        sa.Column("html_body", sa.Text, nullable=False, server_default=""),
    ):
        op.add_column("deliveries", column)
    op.execute(
        "UPDATE deliveries SET created_at = sent_at, next_attempt_at = sent_at, "
        "message_id = '<' || about_event_id || '.' || template || '@microcredentials.local>'"
    )
    for name in ("message_id", "created_at", "next_attempt_at"):
        op.alter_column("deliveries", name, nullable=False)
    for name in ("status", "attempts", "text_body", "html_body"):
        op.alter_column("deliveries", name, server_default=None)
    op.create_check_constraint(
        "ck_deliveries_status", "deliveries", "status IN ('pending', 'sending', 'sent', 'failed')"
    )
    # What the worker looks for: the deliveries still to (re)try, by when.
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index("ix_deliveries_status", "deliveries", ["status"])
    op.create_table(
        "preferences",
        sa.Column("learner_id", sa.String, primary_key=True),
        sa.Column("optional_emails", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    secrets_table = op.create_table(
        "signing_secrets", sa.Column("name", sa.String, primary_key=True), sa.Column("secret", sa.String, nullable=False)
    )
    op.bulk_insert(secrets_table, [{"name": "unsubscribe", "secret": secrets.token_urlsafe(32)}])


def downgrade() -> None:
    op.drop_table("signing_secrets")
    op.drop_table("preferences")
    op.drop_index("ix_deliveries_status", "deliveries")
    op.drop_index("ix_deliveries_due", "deliveries")
    op.drop_constraint("ck_deliveries_status", "deliveries")
    # The old table knew only sent emails.
    op.execute("DELETE FROM deliveries WHERE status <> 'sent'")
    for name in (
        "html_body", "text_body", "failed_at", "next_attempt_at", "created_at", "last_error", "attempts", "status",
        "message_id", "unsubscribe_url", "language",
    ):
        op.drop_column("deliveries", name)
    op.alter_column("deliveries", "sent_at", nullable=False)
