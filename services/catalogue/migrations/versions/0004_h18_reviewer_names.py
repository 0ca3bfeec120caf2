"""The names of the people who designed, submitted and reviewed each version of a course or programme, as their
tokens said when they acted: the designer's and QA pages show people, not token subjects. Nullable: versions written
before keep none. The T4EU fields of a description (funding, curriculum inclusion, ...) need no column: descriptions
are JSONB, and a description without them reads with their defaults.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TABLES = ("courses", "programmes")
COLUMNS = ("designed_by_name", "submitted_by_name", "reviewed_by_name")


def upgrade() -> None:
    for table in TABLES:
        for column in COLUMNS:
            op.add_column(table, sa.Column(column, sa.String, nullable=True))


def downgrade() -> None:
    for table in TABLES:
        for column in COLUMNS:
            op.drop_column(table, column)
