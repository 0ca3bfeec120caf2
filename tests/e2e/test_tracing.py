"""One trace follows a learner's journey: the enrolling request, the Kafka hops, the grade, the credential, the email."""

import asyncio
import json
import uuid

import pytest

from deploy.journey import Node, sample_course
from shared.events import Topic
from tests.stack import Stack, read_topic

pytestmark = pytest.mark.e2e


def trace_id(record) -> str:
    return json.loads(record.value)["traceparent"].split("-")[1]


def about(stack: Stack, topic: Topic, match) -> list:
    records = asyncio.run(read_topic(stack, topic, until=lambda rs: any(match(json.loads(r.value)) for r in rs)))
    return [r for r in records if match(json.loads(r.value))]


def test_the_journey_from_enrolling_to_the_credentials_email_is_one_trace(node: Node, stack: Stack):
    offering = node.opened_offering(node.approved_course(sample_course(f"Traced Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Tereza Dvořáková")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.3", passed=True)
    credential = node.wait_for_credential(learner.subject)
    node.wait_for_email(learner.email, about="issued")

    mine = lambda event: event["data"].get("learner_id", event["data"].get("learner", {}).get("learner_id")) == learner.subject  # noqa: E731
    [enrolled] = about(stack, Topic.ENROLMENTS, mine)
    [graded] = about(stack, Topic.GRADES, mine)
    [issued] = about(stack, Topic.CREDENTIALS, lambda e: e["data"]["credential_id"] == credential["id"])
    sent = about(stack, Topic.NOTIFICATIONS, lambda e: e["data"]["about_event_id"] == json.loads(issued.value)["id"])

    journey = trace_id(enrolled)
    assert trace_id(graded) == journey, "assessment (the LMS's grade) continued the enrolment's trace"
    assert trace_id(issued) == journey, "certification continued it"
    assert [trace_id(record) for record in sent] == [journey], "and the credential's email was sent within it"
