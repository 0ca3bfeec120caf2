"""Integration tests run one service in this process, against the real Kafka and PostgreSQL."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.migrations import upgrade
from shared.service import Service, create_app

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """The service migrated, started (consumer and outbox relay included) and reachable over HTTP."""
    # Alembic drives its own event loop, so migrations run in a worker thread.
    await asyncio.to_thread(upgrade, service.settings, service.migrations)
    app = create_app(service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def eventually(probe, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async probe until it returns something truthy; the services are eventually consistent."""
    async with asyncio.timeout(timeout):
        while not (result := await probe()):
            await asyncio.sleep(interval)
    return result
