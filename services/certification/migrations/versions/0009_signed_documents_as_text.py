"""Signed credentials stored as the signer's JSON text, compressed with LZ4 where the server has it.

Storing a credential was PostgreSQL's costliest statement in a cohort (bench/bench_cohort.py with pg_stat_statements:
0.47 ms each, more than recording the grade and the email together). Most of it was the 8 KB signed document: parsed
into JSONB, then compressed with pglz to fit the row. Nothing queries inside the document, so JSON (checked, kept as
text) serves as well and keeps it exactly as issued; LZ4 compresses it in a fraction of pglz's time. Inserting 2,000
such credentials, server time per row: JSONB + pglz 264-296 us, JSON + LZ4 80 us.

Revision ID: 0009_signed_text
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSON, JSONB

revision = "0009_signed_text"
down_revision = "0008_h25"

# The large values of a credential's row: what TOAST compresses.
LARGE = ("verifiable_credential", "record")


def _lz4_available() -> bool:
    """PostgreSQL 14 and later built with LZ4 (Debian's and most others are); otherwise pglz stays."""
    return bool(
        op.get_bind().scalar(
            sa.text("SELECT coalesce(bool_or(value = 'lz4'), false) FROM pg_settings, unnest(enumvals) AS value "
                    "WHERE name = 'default_toast_compression'")
        )
    )


def upgrade() -> None:
    op.alter_column(
        "credentials", "verifiable_credential", type_=JSON, existing_type=JSONB,
        postgresql_using="verifiable_credential::text::json",
    )
    if _lz4_available():
        op.execute(
            "ALTER TABLE credentials " + ", ".join(f"ALTER COLUMN {column} SET COMPRESSION lz4" for column in LARGE)
        )


def downgrade() -> None:
    if _lz4_available():
        op.execute(
            "ALTER TABLE credentials " + ", ".join(f"ALTER COLUMN {column} SET COMPRESSION default" for column in LARGE)
        )
    op.alter_column(
        "credentials", "verifiable_credential", type_=JSONB, existing_type=JSON,
        postgresql_using="verifiable_credential::jsonb",
    )
