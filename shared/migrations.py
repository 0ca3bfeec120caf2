"""Alembic, shared by the services: each has its own `migrations/` folder and its own database.

`upgrade()` creates the service's database when missing and migrates it to the newest revision under an advisory
lock, so several instances starting at once do not race.
"""

import asyncio
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.settings import ServiceSettings

MIGRATION_LOCK_ID = 0x6D6D6967


async def ensure_database(settings: ServiceSettings) -> None:
    server = make_url(settings.database_url).set(drivername="postgresql")
    name = make_url(settings.service_database_url).database
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # Another instance created it just now.
    finally:
        await connection.close()


def alembic_config(settings: ServiceSettings, migrations: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", settings.service_database_url.replace("%", "%%"))
    return config


def upgrade(settings: ServiceSettings, migrations: Path) -> None:
    asyncio.run(ensure_database(settings))
    command.upgrade(alembic_config(settings, migrations), "head")


def run_env() -> None:
    """The body of every service's `migrations/env.py` (online mode only: migrations run against a live database)."""
    asyncio.run(_run_async(context.config.get_main_option("sqlalchemy.url")))


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        await connection.commit()
        await connection.run_sync(_run_sync)
        await connection.commit()
    await engine.dispose()


def _run_sync(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


def create_plumbing_tables() -> None:
    """The outbox and processed-event tables, which every service's first migration creates."""
    create_outbox_table("outbox")
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String, primary_key=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_outbox_table(name: str) -> None:
    """An outbox (shared.db.OutboxBase): the node's, or another for another cluster (the alliance gateway's)."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(f"ix_{name}_unpublished", name, ["id"], postgresql_where=text("published_at IS NULL"))
