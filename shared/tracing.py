"""OpenTelemetry set-up and the W3C trace context that travels with every event.

The trace context is captured when an event is written to the outbox (inside the request or the consumer that caused
it) and travels in the CloudEvent's `traceparent` and the Kafka header of the same name, so one trace spans the whole
journey across services even though the outbox relay publishes later, from another task.
"""

import functools
from collections.abc import MutableMapping
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


def setup_tracing(settings: ServiceSettings) -> None:
    """Install the process's tracer provider once; a second service in the same process (tests) keeps the first."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
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
