"""Forged facts on the node's topics are dead-lettered and change nothing (produced with kcat, read over HTTP).

The broker's ACLs decide who may write a topic; these forgeries come from a client that may write it (an LMS on its
own topic, or the producing service's own principal, as if it were compromised) and show the second line: a consumer believes an event only when its
type belongs on the topic and its source is the topic's producer (shared/events/provenance.py).
"""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from deploy.journey import Node, sample_course
from deploy.kafka_security import service_principal
from shared.events import CloudEvent, Event, Topic, dead_letter_topic
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import CourseApproved, MicroCredentialDescription
from shared.events.certification import CredentialIssued
from shared.events.common import LearnerIdentity
from shared.events.enrolment import LearnerEnrolled
from shared.events.topics import lms_source
from tests.stack import Stack, header, read_topic, wait_until_all_consumed

pytestmark = pytest.mark.e2e

MALLORY_NODE = "urn:microcredentials:node:mallory"
# Who reads each topic of the node (the services' `consumes`).
CONSUMERS = {
    Topic.COURSES: ("enrolment", "assessment", "certification", "notifications"),
    Topic.OFFERINGS: ("enrolment", "notifications"),
    Topic.PROGRAMMES: ("certification", "notifications"),
    Topic.ENROLMENTS: ("assessment", "notifications"),
    Topic.GRADES: ("certification", "notifications"),
    Topic.CREDENTIALS: ("enrolment", "notifications"),
    # Topic.NOTIFICATIONS: no service of the node reads it (notifications log their own events as they publish them).
}


def forged(event: Event, source: str = MALLORY_NODE, **attributes: Any) -> str:
    return json.dumps(CloudEvent.wrap(event, source=source).model_dump(mode="json") | attributes)


def as_owner(node: Node, stack: Stack, topic: Topic, key: str, value: str) -> None:
    """Produce as the principal that may write the topic (its producing service): the broker lets it through."""
    node.produce_with_kcat(topic, key, value, principal=service_principal(topic.split(".")[1], stack.topic_prefix))


def dead_letters(stack: Stack, service: str, key: str) -> list[str]:
    """The reasons of the service's dead letters of messages with this key."""
    records = asyncio.run(
        read_topic(stack, dead_letter_topic(service), until=lambda rs: any(r.key == key.encode() for r in rs))
    )
    return [header(r, "x-dead-letter-reason") or "" for r in records if r.key == key.encode()]


def mallory(learner_id: str) -> LearnerIdentity:
    return LearnerIdentity(learner_id=learner_id, name="Mallory Forged", email=f"{learner_id}@mallory.example")


def test_a_forged_enrolment_on_the_lms_topic_is_dead_lettered_and_its_grade_issues_nothing(node: Node, stack: Stack):
    course = node.approved_course(sample_course(f"Forgery Resistance {uuid.uuid4().hex[:4]}"))
    learner_id = f"mallory-{uuid.uuid4().hex[:6]}"
    enrolment = LearnerEnrolled(
        enrolment_id=str(uuid.uuid4()), course_id=course["id"], course_version=1, course_title=course["description"]["title"],
        learner=mallory(learner_id), enrolled_at=datetime.now(UTC),
    )
    # The LMS may write its own topic, so it can put anything there; a LearnerEnrolled is not what an LMS publishes.
    node.produce_with_kcat(node.lms.topic, learner_id, forged(enrolment, source=lms_source(node.lms.id)))
    node.submit_grade_with_kcat(course["id"], learner_id, grade="1.0", passed=True)

    wait_until_all_consumed(node, stack)
    [reason] = dead_letters(stack, "assessment", learner_id)
    assert f"{LearnerEnrolled.type} does not belong on topic {node.lms.topic}" in reason
    [rejection] = node.rejections(learner_id)
    assert rejection["rule"] == "learner-not-enrolled"
    assert node.credentials(learner_id) == []
    assert node.emails_to(f"{learner_id}@mallory.example") == []


@pytest.mark.parametrize("topic", list(CONSUMERS))
def test_a_type_that_belongs_on_another_topic_is_dead_lettered_by_every_consumer_of_this_one(
    node: Node, stack: Stack, topic: Topic
):
    key = f"misplaced-{uuid.uuid4().hex[:6]}"
    # A genuine-looking fact of this node, on a topic whose producer never publishes it.
    stray = CredentialIssued if topic != Topic.CREDENTIALS else CourseApproved
    document = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": stack.node_uri, "type": stray.type,
                "time": datetime.now(UTC).isoformat(), "data": {}}
    as_owner(node, stack, topic, key, json.dumps(document))

    wait_until_all_consumed(node, stack)
    rule = f"{stray.type} does not belong on topic {topic}: the topic carries only what the {topic.split('.')[1]} service"
    for service in CONSUMERS[topic]:
        reasons = dead_letters(stack, service, key)
        assert len(reasons) == 1 and reasons[0].startswith(rule), f"{service} must dead-letter it once: {reasons}"


def test_facts_from_another_node_are_dead_lettered_and_change_nothing(node: Node, stack: Stack):
    course_id, learner_id = f"forged-course-{uuid.uuid4().hex[:6]}", f"mallory-{uuid.uuid4().hex[:6]}"
    description = MicroCredentialDescription.model_validate(sample_course("Forged Course"))
    approval = CourseApproved(
        course_id=course_id, version=1, description=description, approved_by="mallory", approved_at=datetime.now(UTC)
    )
    real = node.approved_course(sample_course(f"Real Course {uuid.uuid4().hex[:4]}"))
    grade = GradeRecorded(
        grade_id=str(uuid.uuid4()), enrolment_id=str(uuid.uuid4()), course_id=real["id"], course_version=1,
        learner_id=learner_id, learner=mallory(learner_id), grade="1.0", passed=True, assessed_on=date.today(),
        submission_id=str(uuid.uuid4()),
    )
    credential = CredentialIssued(
        credential_id=f"credential-{uuid.uuid4().hex[:8]}", learner_id=learner_id, learner=mallory(learner_id),
        course_id=real["id"], course_version=1, title="Real Course", awarding_bodies=description.awarding_bodies,
        issued_at=datetime.now(UTC), credential_url="https://mallory.example/credential",
    )
    as_owner(node, stack, Topic.COURSES, course_id, forged(approval))
    as_owner(node, stack, Topic.GRADES, learner_id, forged(grade))
    as_owner(node, stack, Topic.CREDENTIALS, learner_id, forged(credential))

    wait_until_all_consumed(node, stack)
    expected = {Topic.COURSES: course_id, Topic.GRADES: learner_id, Topic.CREDENTIALS: learner_id}
    for topic, key in expected.items():
        for service in CONSUMERS[topic]:
            reasons = dead_letters(stack, service, key)
            assert any(f"claims the source '{MALLORY_NODE}'" in r and topic in r for r in reasons), (service, reasons)
    assert node.call("GET", "assessment", f"/courses/{course_id}").status_code == 404, "the forged approval is unknown"
    assert node.credentials(learner_id) == [], "a forged pass signs nothing"
    assert node.emails_to(f"{learner_id}@mallory.example") == [], "a forged credential is not announced"
