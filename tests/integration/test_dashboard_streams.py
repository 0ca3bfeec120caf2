"""The dashboards' event stream over real HTTP (the service under uvicorn in this process): it ends when asked to, and
it serves a bounded number of streams at once, refusing one more with 503 and Retry-After until one closes."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from services.notifications.app import create_service
from services.notifications.settings import NotificationsSettings
from shared.auth import Role
from shared.migrations import upgrade
from shared.service import Service, create_app
from tests.integration.conftest import eventually
from tests.stack import free_port

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def serving(service: Service) -> AsyncIterator[str]:
    """The service under uvicorn on a free port (a stream needs a real connection), until the block ends."""
    await asyncio.to_thread(upgrade, service.settings, service.migrations)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await eventually(started)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_stream_ends_when_asked_and_takes_no_more_than_its_limit_at_once(stack):
    settings = stack.settings(NotificationsSettings, dashboard_max_streams=2)
    staff = stack.bearer("dashboard@uni-saarland.example", Role.NODE_ADMIN, institution="uni-saarland")
    async with serving(create_service(settings)) as url, httpx.AsyncClient(base_url=url, headers=staff) as client:
        ended = await client.get("/dashboard/events", params={"follow": "false"}, timeout=10)
        assert ended.status_code == 200 and ended.text.startswith("retry:")

        async with client.stream("GET", "/dashboard/events") as first, client.stream("GET", "/dashboard/events") as second:
            assert first.status_code == second.status_code == 200
            refused = await client.get("/dashboard/events", params={"follow": "false"}, timeout=10)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "5" and "DASHBOARD_MAX_STREAMS" in refused.json()["detail"]

        async def served_again() -> bool:
            again = await client.get("/dashboard/events", params={"follow": "false"}, timeout=10)
            return again.status_code == 200

        # The closed streams gave their places back (once the service noticed the clients had gone).
        await eventually(served_again, timeout=10)
