"""The app factory every service uses: one process, one event loop, FastAPI for HTTP and FastStream for Kafka.

A service describes itself (settings, routes, the events it handles); this module wires the rest the same way for all:
database, broker, consumer, outbox relay, tracing, health, metrics. Nothing connects until the app starts.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import State

from shared.alliance import watch_alliance
from shared.asyncapi import document as asyncapi_document
from shared.auth import TokenVerifier
from shared.consumer import EventConsumer, Handler
from shared.db import UnitOfWork, create_engine, create_sessionmaker, database_answers
from shared.events import Event, Topic, dead_letter_topic, topic_name
from shared.events.topics import is_family
from shared.failures import Outages
from shared.http import REFUSALS, health_router
from shared.limits import BodyLimit, Limit, invalid_request, storable_text
from shared.logging import configure_logging
from shared.metrics import ServiceMetrics
from shared.migrations import upgrade
from shared.outbox import OutboxRelay
from shared.kafka import create_broker
from shared.settings import ServiceSettings
from shared.topic_admin import check_topics, published_topics
from shared.tracing import request_spans, setup_tracing


@dataclass
class Service:
    settings: ServiceSettings
    title: str
    description: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    # Event type -> handler(event, envelope, unit_of_work); dependencies are bound in beforehand (functools.partial).
    handlers: dict[type[Event], Handler] = field(default_factory=dict)
    consumes: Sequence[Topic] = ()
    # Long-running tasks beside the consumer and the outbox relay (e.g. a delivery worker), each called with the app's
    # state (settings, unit_of_work, broker, outages) once the broker runs, and cancelled on shutdown before the broker
    # stops. With ALLIANCE_REGISTRY_URL, every service also follows the alliance registry (shared.alliance.watch_alliance:
    # `shared.alliance.registry_in_use(app.state)` is the registry in use).
    background: Sequence[Callable[[State], Awaitable[None]]] = ()
    # Request paths that take more than HTTP_MAX_BODY_BYTES (uploads), with their own limit.
    body_limits: Mapping[str, Limit] = field(default_factory=dict)
    # Checks run before anything connects; one that raises stops the service from starting, with its message
    # (certification refuses a key directory holding another member's signing key).
    startup_checks: Sequence[Callable[[ServiceSettings], Awaitable[None]]] = ()


def service_topics(service: Service) -> list[str]:
    """The topics the service writes (its contracts' and its dead-letter topic) and reads (families aside)."""
    prefix = service.settings.topic_prefix
    names = [topic_name(topic, prefix) for topic in published_topics(service.settings.service_name)]
    names += [topic_name(topic, prefix) for topic in service.consumes if not is_family(topic)]
    if service.handlers:
        names.append(dead_letter_topic(service.settings.service_name, prefix))
    return names


def create_app(service: Service) -> FastAPI:
    settings = service.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.http_workers > 1:  # A worker process of `run`, which configured only its parent's logging.
            configure_logging(settings.service_name, settings.log_format)
        for startup_check in service.startup_checks:
            await startup_check(settings)
        setup_tracing(settings)
        await check_topics(settings, service_topics(service))
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        broker = create_broker(settings, client_id=f"mc-{settings.service_name}")
        app.state.database_answers = lambda: database_answers(sessionmaker)
        consumer = None
        if service.handlers:
            consumer = EventConsumer(
                settings,
                lambda: UnitOfWork(sessionmaker, settings.node_uri),
                service.handlers,
                service.consumes,
                metrics,
                outages,
                app.state.database_answers,
            )
            consumer.subscribe(broker)
        relay = OutboxRelay(settings, sessionmaker, broker, metrics, outages)
        app.state.settings = settings
        app.state.metrics = metrics
        app.state.sessionmaker = sessionmaker
        app.state.unit_of_work = lambda: UnitOfWork(sessionmaker, settings.node_uri)
        app.state.broker = broker
        app.state.outbox_relay = relay
        app.state.alliance = None  # The registry watcher, once watch_alliance runs.
        background = [*service.background]
        if settings.alliance_registry_url and watch_alliance not in background:
            background.insert(0, watch_alliance)
        await broker.start()
        relay_task = asyncio.create_task(relay.run(), name=f"{settings.service_name}-outbox-relay")
        tasks = [
            asyncio.create_task(task(app.state), name=f"{settings.service_name}-background-{number}")
            for number, task in enumerate(background)
        ]
        try:
            yield
        finally:
            # Background tasks first: they may still write to the outbox while finishing what they were doing.
            for task in [*tasks, relay_task]:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if consumer is not None:
                await consumer.close()  # Commits the offsets of what was handled, so it is not delivered again.
            await broker.stop()
            await engine.dispose()
            await app.state.tokens.close()

    # Bad input is bounded before any route sees it: the body's size, and text PostgreSQL cannot store (shared.limits).
    app = FastAPI(
        title=service.title,
        description=service.description,
        lifespan=lifespan,
        dependencies=[Depends(storable_text)],
        exception_handlers={RequestValidationError: invalid_request},
        responses=REFUSALS,
        telemetry=request_spans("/health"),
    )
    # Added before the metrics and tracing middleware, which then count and trace the refusals too.
    app.add_middleware(
        BodyLimit, default=Limit(settings.http_max_body_bytes, "HTTP_MAX_BODY_BYTES"), routes=service.body_limits
    )
    metrics = ServiceMetrics()
    # What the consumer, the outbox relay and background tasks are waiting for (shown by /health/ready, /metrics).
    outages = app.state.outages = Outages(metrics)
    metrics.install(app, outbox_backlog=lambda: app.state.outbox_relay.backlog())
    # Who may call: the node's key, its OpenID Connect providers, the registry's members (shared.auth.current_principal).
    app.state.tokens = TokenVerifier(settings, metrics.registry)
    app.include_router(health_router)

    @app.get("/asyncapi.json", include_in_schema=False)
    def asyncapi() -> dict:
        """The events this service publishes and consumes, generated from the code."""
        return asyncapi_document(service.title, settings, [(settings.service_name, service.handlers)])

    for router in service.routers:
        app.include_router(router)
    return app


def run(service: Service, argv: Sequence[str]) -> None:
    """`python -m services.<name> [migrate|serve]`: serve migrates first, then listens."""
    settings = service.settings
    configure_logging(settings.service_name, settings.log_format)
    command = argv[0] if argv else "serve"
    if command not in ("migrate", "serve"):
        raise SystemExit(f"usage: python -m services.{settings.service_name} [migrate|serve]")
    upgrade(settings, service.migrations)
    if command == "serve":
        # No access log: shared.metrics logs each request once, with its trace id (a second line per request cost CPU).
        # uvloop and httptools: asyncio's own loop and h11's pure-Python parser cost a fifth of a request's CPU.
        # Several workers need the app by name: each worker process makes its own from the environment's settings.
        app = create_app(service) if settings.http_workers == 1 else f"services.{settings.service_name}.app:create_app"
        uvicorn.run(
            app, factory=settings.http_workers > 1, workers=settings.http_workers, host=settings.http_host,
            port=settings.http_port, log_config=None, access_log=False, loop="uvloop", http="httptools",
        )
