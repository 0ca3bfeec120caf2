"""shared.tracing.continuing: work on behalf of a consumed event stays in the event's trace, with a span of its own only
when spans are exported (OTEL_TRACES_EXPORTER)."""

import pytest
from opentelemetry import trace

import shared.tracing
from shared.settings import ServiceSettings
from shared.tracing import continuing, current_traceparent, setup_tracing

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = f"00-{TRACE}-b7ad6b7169203331-01"


def test_without_an_exporter_the_work_runs_in_the_events_trace_context_and_leaves_it_after(monkeypatch) -> None:
    monkeypatch.setattr(shared.tracing, "_exported", False)
    with continuing(PARENT, "test consume"):
        assert current_traceparent() == PARENT  # What it publishes carries the producer's trace.
    assert current_traceparent() is None or TRACE not in current_traceparent()


def test_with_an_exporter_the_work_has_a_span_of_its_own_in_the_events_trace(monkeypatch) -> None:
    setup_tracing(ServiceSettings(service_name="tracing-test"))
    monkeypatch.setattr(shared.tracing, "_exported", True)
    with continuing(PARENT, "test consume", kind=trace.SpanKind.CONSUMER):
        inner = current_traceparent()
    assert inner is not None and inner.split("-")[1] == TRACE
    assert inner != PARENT, "a span of its own, a child of the producer's"


@pytest.mark.parametrize("exported", [False, True])
def test_an_event_without_trace_context_starts_a_trace_only_when_spans_are_exported(monkeypatch, exported: bool) -> None:
    setup_tracing(ServiceSettings(service_name="tracing-test"))
    monkeypatch.setattr(shared.tracing, "_exported", exported)
    with continuing(None, "test consume"):
        started = current_traceparent()
    assert (started is not None) == exported
