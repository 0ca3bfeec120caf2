"""OpenTelemetry set-up and the W3C trace context that travels with every event.

The trace context is captured when an event is written to the outbox (inside the request or the consumer that caused
it) and travels in the CloudEvent's `traceparent` and the Kafka header of the same name, so one trace spans the whole
journey across services even though the outbox relay publishes later, from another task.
"""

import contextlib
import functools
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

from fastapi.telemetry import TelemetryConfig

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import ServiceSettings

_propagator = TraceContextTextMapPropagator()
# Whether this process's spans go anywhere (setup_tracing installed an exporter); see `continuing`.
_exported = False


def setup_tracing(settings: ServiceSettings) -> None:
    """Install the process's tracer provider once; a second service in the same process (tests) keeps the first."""
    global _exported
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    _exported = settings.otel_traces_exporter != "none"
    provider = TracerProvider(resource=Resource.create({"service.name": f"mc-{settings.service_name}"}))
    if settings.otel_traces_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif settings.otel_traces_exporter == "otlp":
        # The endpoint comes from OTEL_EXPORTER_OTLP_ENDPOINT (e.g. the collector in docker-compose.yml).
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


@functools.cache
def tracer(name: str) -> trace.Tracer:
    # One per module: asking the provider anew for every event's span was a few per cent of a consumer's CPU. (A
    # tracer got before setup_tracing is a proxy that follows the provider installed later.)
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> otel_context.Context:
    return _propagator.extract({"traceparent": traceparent} if traceparent else {})


def request_spans(*untraced: str) -> TelemetryConfig:
    """FastAPI's own telemetry, as every app of the node uses it: one span per request, named by its route and
    continuing the caller's traceparent, in the provider setup_tracing installs; none for paths under `untraced`
    (probes, static files). Metrics are Prometheus's (shared.metrics) and errors are logged by the app, so FastAPI's
    are off. (opentelemetry-instrumentation-fastapi matched every request's route a second time and cost ~0.15 ms of
    CPU per request more.)"""

    def excluded(scope: MutableMapping[str, Any]) -> bool:
        return scope["path"].startswith(untraced)

    return {"metrics": False, "logs": False, "operation_spans": False, "exclude": excluded}


@contextlib.contextmanager
def continuing(
    traceparent: str | None,
    name: str,
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    attributes: dict[str, str] | None = None,
    links: Sequence[trace.Link] = (),
) -> Iterator[None]:
    """Work done on behalf of a message (a consumed event), inside the trace its `traceparent` names: what it publishes
    and logs carries that trace. With an exporter the work has a span of its own (`name`); without one
    (OTEL_TRACES_EXPORTER=none) it runs in the message's trace context alone: a span per event that nobody receives
    was several per cent of a consumer's CPU."""
    parent = context_from_traceparent(traceparent)
    if not _exported:
        token = otel_context.attach(parent)
        try:
            yield
        finally:
            otel_context.detach(token)
        return
    with tracer(__name__).start_as_current_span(name, context=parent, kind=kind, attributes=attributes, links=links):
        yield
