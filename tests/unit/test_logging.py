"""Operators find one journey's log lines by its trace id, in text or in JSON."""

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

import pytest

from shared.logging import configure_logging


@pytest.fixture(autouse=True)
def restore_logging():
    """configure_logging sets up the process's root logger; put pytest's own handlers back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_json_log_lines_carry_the_service_and_the_current_trace_id(capsys):
    configure_logging("assessment", "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("grade") as span:
        logging.getLogger("services.assessment").warning("grade %s rejected", "g-1")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])

    assert line["service"] == "assessment" and line["level"] == "WARNING"
    assert line["message"] == "grade g-1 rejected"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_text_log_lines_say_when_there_is_no_trace(capsys):
    configure_logging("enrolment", "text")
    logging.getLogger("services.enrolment").info("started")

    assert "enrolment trace=- services.enrolment: started" in capsys.readouterr().err


def test_a_kafka_client_error_repeated_on_every_poll_is_logged_once_a_minute_with_the_count(capsys, monkeypatch):
    configure_logging("assessment", "text")
    clock = [1000.0]
    monkeypatch.setattr("shared.logging.time.monotonic", lambda: clock[0])
    kafka = logging.getLogger("aiokafka.consumer.fetcher")
    for second in range(90):  # The broker is away for a minute and a half; the client says so ten times a second.
        clock[0] = 1000.0 + second
        for _ in range(10):
            kafka.error("Failed fetch messages from %s: %s", 1, "NodeNotReadyError")
    logging.getLogger("shared.failures").warning("consumer: kafka back after 90.0 s")
    logging.getLogger("shared.failures").warning("consumer: kafka back after 90.0 s")
    lines = capsys.readouterr().err.strip().splitlines()

    assert len([line for line in lines if "Failed fetch messages from 1" in line]) == 2, lines
    assert "(and 599 more like this in the last 60 s)" in lines[1], lines[1]
    assert len([line for line in lines if "back after" in line]) == 2, "only the Kafka client's repeats are held back"
