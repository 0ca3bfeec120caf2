"""Prometheus metrics every service exposes at `/metrics`: HTTP requests, events consumed, published and
dead-lettered, consumer lag, the outbox backlog, and the time spent waiting for the database or Kafka during outages.

Each app has its own registry, so several services can run in one process (the tests) without clashing.
"""

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("shared.http.requests")


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "mc_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.http_seconds = Histogram(
            "mc_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
            registry=self.registry,
        )
        self.events_consumed = Counter(
            "mc_events_consumed",
            "Kafka messages consumed, by outcome: handled, redelivered (already handled), skipped (not ours), "
            "dead-lettered",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "mc_events_published", "Events the outbox relay published to Kafka", ["topic"], registry=self.registry
        )
        self.dead_lettered = Counter(
            "mc_dead_lettered", "Messages sent to the dead-letter topic", ["topic"], registry=self.registry
        )
        self.consumer_lag = Gauge(
            "mc_consumer_lag", "Messages behind the end of the partition, after the last one handled",
            ["topic", "partition"], registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "mc_outbox_backlog", "Events in the outbox not yet published", registry=self.registry
        )
        # See shared.failures: a part of the service that cannot reach a dependency waits for it instead of failing.
        self.in_outage = Gauge(
            "mc_dependency_outage", "1 while a part of the service waits for a dependency that is unavailable",
            ["component", "dependency"], registry=self.registry,
        )
        self.outage_seconds = Counter(
            "mc_dependency_wait_seconds", "Seconds a part of the service spent waiting for an unavailable dependency",
            ["component", "dependency"], registry=self.registry,
        )

    def install(self, app: FastAPI, outbox_backlog: Callable[[], Awaitable[int]]) -> None:
        """Count every request by its route template (not its URL, which would explode the label values), and log it
        inside its span, so that the line carries the request's trace id (probes and scrapes are not logged)."""
        app.add_middleware(RequestMetrics, metrics=self)

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            # The backlog is read when scraped, so it costs nothing between scrapes. While the database is away the
            # last figure stays: the metrics must still answer, they tell about the outage.
            with contextlib.suppress(Exception):
                self.outbox_backlog.set(await outbox_backlog())
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """ASGI middleware counting and timing each request (until its response is sent) by method, route template and
    status, and logging it. Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs the
    app in a task of its own and passes the body through a memory stream, about a third of a light request's CPU.
    A request whose handler raised before answering is counted as the 500 the server answers for it."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            seconds = time.perf_counter() - started
            # The router has put the matched route into the scope (not the URL: its ids would explode the labels).
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(seconds)
            if not route.startswith(("/health", "/metrics")):
                log.info("%s %s -> %d in %.1f ms", method, route, status, seconds * 1000)
