"""OpenTelemetry set-up and the W3C trace context that travels with every event.

The trace context is captured when an event is written to the outbox (inside the request or the consumer that caused
it) and travels in the CloudEvent's `traceparent` and the Kafka header of the same name, so one trace spans the whole
journey across services even though the outbox relay publishes later, from another task.
"""

import functools

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
