"""Integration tests run one service in this process, against the real Kafka and PostgreSQL."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

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


@contextlib.asynccontextmanager
async def served(service: Service, port: int) -> AsyncIterator[httpx.AsyncClient]:
    """The service migrated and served by uvicorn on 127.0.0.1:`port`, in this event loop: reachable over real HTTP,
    by other services (another node) as well as by the test's client."""
    await asyncio.to_thread(upgrade, service.settings, service.migrations)
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server, serving))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        server.should_exit = True
        await serving


async def _started(server: uvicorn.Server, serving: asyncio.Task) -> bool:
    if serving.done():
        serving.result()  # raises what stopped it
        raise RuntimeError("the server stopped while starting")
    return server.started


async def eventually(probe, timeout: float = 30.0, interval: float = 0.1):
    """Poll an async probe until it returns something truthy; the services are eventually consistent."""
    async with asyncio.timeout(timeout):
        while not (result := await probe()):
            await asyncio.sleep(interval)
    return result
