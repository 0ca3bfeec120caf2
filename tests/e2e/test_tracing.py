"""One trace follows a learner's journey: the catalogue, the enrolling request, the Kafka hops, the grade, the credential,
the email."""

import asyncio
import json
import uuid

import pytest

from deploy.journey import Node, sample_course
from shared.events import Topic
from tests.stack import ROOT, Stack, read_topic

pytestmark = pytest.mark.e2e


def trace_id(record) -> str:
    return json.loads(record.value)["traceparent"].split("-")[1]


def about(stack: Stack, topic: Topic, match) -> list:
    records = asyncio.run(read_topic(stack, topic, until=lambda rs: any(match(json.loads(r.value)) for r in rs)))
    return [r for r in records if match(json.loads(r.value))]


def test_the_journey_from_the_catalogue_to_the_credentials_email_is_one_trace(node: Node, stack: Stack):
    offering = node.opened_offering(node.approved_course(sample_course(f"Traced Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Tereza Dvořáková")
    # The learner's browser (instrumented, as a front end would be) reads the offering, then applies: one trace.
    journey = uuid.uuid4().hex
    browser = {"traceparent": f"00-{journey}-{uuid.uuid4().hex[:16]}-01"}
    assert node.call("GET", "catalogue", f"/offerings/{offering['id']}", headers=browser).status_code == 200
    applied = node.call("POST", "enrolment", "/applications", by=learner, json={"offering_id": offering["id"]},
                        headers=browser)
    assert applied.status_code == 201
    node.wait_until_gradable(learner.subject, offering["course_id"])
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.3", passed=True)
    credential = node.wait_for_credential(learner.subject)
    node.wait_for_email(learner.email, about="issued")

    mine = lambda event: event["data"].get("learner_id", event["data"].get("learner", {}).get("learner_id")) == learner.subject  # noqa: E731
    [enrolled] = about(stack, Topic.ENROLMENTS, mine)
    [graded] = about(stack, Topic.GRADES, mine)
    [issued] = about(stack, Topic.CREDENTIALS, lambda e: e["data"].get("credential_id") == credential["id"])
    sent = about(stack, Topic.NOTIFICATIONS, lambda e: e["data"].get("about_event_id") == json.loads(issued.value)["id"])

    catalogue_log = (ROOT / ".run" / "logs" / "e2e-catalogue.log").read_text()
    assert any(f"trace={journey}" in line and "GET /offerings/{offering_id}" in line for line in catalogue_log.splitlines())
    assert trace_id(enrolled) == journey, "enrolment continued the browser's trace"
    assert trace_id(graded) == journey, "assessment (the LMS's grade) continued the enrolment's trace"
    assert trace_id(issued) == journey, "certification continued it"
    assert [trace_id(record) for record in sent] == [journey], "and the credential's email was sent within it"
