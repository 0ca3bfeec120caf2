"""shared.metrics' request middleware on a small app wired as the app factory wires every service (body limit inside
it): each request counted and timed by method, route template and status, refusals and failures included, and logged."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from shared.limits import BodyLimit, Limit
from shared.metrics import ServiceMetrics


def app_with_metrics() -> tuple[FastAPI, ServiceMetrics]:
    app = FastAPI()
    app.add_middleware(BodyLimit, default=Limit(100, "HTTP_MAX_BODY_BYTES"))
    metrics = ServiceMetrics()

    async def no_outbox() -> int:
        return 3

    metrics.install(app, outbox_backlog=no_outbox)

    @app.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
        return {"id": thing_id}

    @app.post("/things")
    async def create(thing: dict) -> dict:
        return thing

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "live"}

    return app, metrics


@pytest.fixture
async def app_and_client() -> AsyncIterator[tuple[ServiceMetrics, httpx.AsyncClient]]:
    app, metrics = app_with_metrics()
    # The server answers 500 for an exception that escapes the app; the test client would raise it instead.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield metrics, client


def count(metrics: ServiceMetrics, method: str, route: str, status: str) -> float | None:
    labels = {"method": method, "route": route, "status": status}
    return metrics.registry.get_sample_value("mc_http_requests_total", labels)


def timed(metrics: ServiceMetrics, method: str, route: str) -> float | None:
    return metrics.registry.get_sample_value("mc_http_request_duration_seconds_count", {"method": method, "route": route})


async def test_requests_are_counted_and_timed_by_route_template_and_status(app_and_client):
    metrics, client = app_and_client
    for thing_id in ("a", "b", "missing"):
        await client.get(f"/things/{thing_id}")
    assert count(metrics, "GET", "/things/{thing_id}", "200") == 2
    assert count(metrics, "GET", "/things/{thing_id}", "404") == 1
    assert timed(metrics, "GET", "/things/{thing_id}") == 3


async def test_refusals_and_failures_are_counted_with_their_status(app_and_client):
    metrics, client = app_and_client
    assert (await client.post("/things", json={"name": "x" * 200})).status_code == 413
    assert (await client.post("/things", content=b"not json", headers={"content-type": "application/json"})).status_code == 422
    assert (await client.get("/broken")).status_code == 500
    assert (await client.get("/nowhere")).status_code == 404
    # The body limit refuses before the route is known.
    assert count(metrics, "POST", "unmatched", "413") == 1
    assert count(metrics, "POST", "/things", "422") == 1
    assert count(metrics, "GET", "/broken", "500") == 1
    assert count(metrics, "GET", "unmatched", "404") == 1


async def test_requests_are_logged_but_probes_and_scrapes_are_not(app_and_client, caplog):
    metrics, client = app_and_client
    with caplog.at_level(logging.INFO, logger="shared.http.requests"):
        await client.get("/things/a")
        await client.get("/health/live")
        scrape = await client.get("/metrics")
    assert [record.getMessage().split(" in ")[0] for record in caplog.records] == ["GET /things/{thing_id} -> 200"]
    assert "mc_outbox_backlog 3.0" in scrape.text
    assert count(metrics, "GET", "/health/live", "200") == 1
