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
