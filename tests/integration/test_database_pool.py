"""The services' connection pool on the real PostgreSQL: a connection the server closed is never handed out."""

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.enrolment.settings import EnrolmentSettings
from shared.db import create_engine
from shared.migrations import upgrade
from services.enrolment.app import create_service

pytestmark = pytest.mark.integration


async def test_the_first_query_after_the_server_closed_the_pooled_connections_succeeds(stack):
    """What a PostgreSQL restart does to every pooled connection, done to one: its backend is terminated."""
    settings = stack.settings(EnrolmentSettings)
    await asyncio.to_thread(upgrade, settings, create_service(settings).migrations)
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # Back in the pool now; the server ends it as a restart would.
        admin = await asyncpg.connect(make_url(stack.database_url).set(drivername="postgresql").render_as_string(False))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.5)  # The client hears of it.
        async with engine.connect() as connection:
            assert (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
    finally:
        await engine.dispose()
