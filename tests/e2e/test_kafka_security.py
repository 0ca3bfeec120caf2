"""Kafka itself checks who is speaking: a kcat without credentials or with a guessed password, or an LMS writing where
it may not, is refused by the broker; an LMS of another institution is heard, but its grade is rejected with the rule.

Driven through HTTP and kcat only, as an LMS integrator or an attacker would.
"""

import asyncio
import json
import uuid

import pytest

from deploy.journey import ASSESSOR, LMS_OF_ANOTHER_INSTITUTION, NODE_LMS, Node, Person, grade_submission, sample_course
from shared.events import Topic
from tests.stack import Stack, cloud_event, read_topic, wait_until_all_consumed

pytestmark = pytest.mark.e2e

TOPIC_AUTHORIZATION_FAILED = "Delivery failed for message: Broker: Topic authorization failed"


@pytest.fixture
def offering(node: Node) -> dict:
    """An offering of a course that only Saarland University awards."""
    course = node.approved_course(sample_course(f"Regional Energy Transitions {uuid.uuid4().hex[:4]}"))
    return node.opened_offering(course)


def enrolled_learner(node: Node, offering: dict, name: str) -> Person:
    learner = node.registered_learner(name)
    node.enrolled(learner, offering)
    return learner


def only_grade(node: Node, learner: Person) -> list[str]:
    return [g["grade"] for g in node.ok("GET", "assessment", "/grades", by=ASSESSOR, params={"learner_id": learner.subject})]


def test_kcat_without_credentials_is_refused_by_the_broker(node: Node, offering: dict, stack: Stack):
    learner = enrolled_learner(node, offering, "Maja Novak")
    forged = json.dumps(grade_submission(offering["course_id"], learner.subject, "1.0", True))

    refused = node.produce_with_kcat(NODE_LMS.topic, learner.subject, forged, principal=None, check=False)

    assert refused.returncode != 0
    # The broker speaks TLS and SASL only: a plain connection is dropped before any request is answered.
    assert "Disconnected while requesting ApiVersion" in refused.stderr, refused.stderr
    assert "security.protocol" in refused.stderr
    # The same learner's grade sent afterwards by the LMS, on the same partition, is the only one there is.
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="2.7", passed=True)
    node.wait_for_credential(learner.subject)
    wait_until_all_consumed(node, stack)
    assert only_grade(node, learner) == ["2.7"]
    assert node.rejections(learner.subject) == []


def test_kcat_with_a_guessed_password_is_refused_by_the_broker(node: Node, stack: Stack):
    genuine = node.kcat_config(node.lms_principal())
    guessed = genuine.read_text().replace("sasl.password=", "sasl.password=guessed-")
    impostor = "impostor-with-the-lms-name"
    node.kcat_config(impostor).write_text(guessed)

    refused = node.produce_with_kcat(NODE_LMS.topic, "learner-x", "{}", principal=impostor, check=False)

    assert refused.returncode != 0
    assert (
        "SASL authentication error: Authentication failed during authentication due to invalid credentials with "
        "SASL mechanism SCRAM-SHA-512"
    ) in refused.stderr, refused.stderr


@pytest.mark.parametrize(
    "topic",
    [Topic.ENROLMENTS, Topic.COURSES, Topic.GRADES, LMS_OF_ANOTHER_INSTITUTION.topic],
    ids=["enrolments", "courses", "grades", "another-lms"],
)
def test_an_lms_can_write_nothing_but_its_own_topic(node: Node, topic: str):
    forged = json.dumps({"specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:forged", "type": "x.v1"})

    refused = node.produce_with_kcat(topic, "learner-x", forged, check=False)  # As the node's LMS.

    assert refused.returncode != 0
    assert TOPIC_AUTHORIZATION_FAILED in refused.stderr, refused.stderr


def test_the_lms_of_another_institution_is_rejected_with_the_rule(node: Node, offering: dict, stack: Stack):
    learner = enrolled_learner(node, offering, "Elena Petrova")
    sofia = LMS_OF_ANOTHER_INSTITUTION

    # Sofia's LMS writes its own topic with its own credentials: the broker lets it, assessment refuses the grade.
    submission_id = node.submit_grade_with_kcat(offering["course_id"], learner.subject, "1.0", True, lms=sofia)

    rejection = node.wait_for("the rejection", lambda: next(iter(node.rejections(learner.subject)), None))
    assert rejection["rule"] == "lms-not-authorized-for-course"
    assert rejection["submission_id"] == submission_id and rejection["lms"] == sofia.id
    assert rejection["reason"] == (
        f"LMS canvas-sofia (Canvas of Sofia University) is registered to grade for uni-sofia, but course "
        f"{offering['course_id']} is awarded by uni-saarland"
    )
    published = asyncio.run(
        read_topic(stack, Topic.GRADES, until=lambda rs: any(cloud_event(r)["data"].get("submission_id") == submission_id for r in rs))
    )
    [event] = [cloud_event(r) for r in published if cloud_event(r)["data"].get("submission_id") == submission_id]
    assert event["type"] == "eu.microcredentials.assessment.grade.rejected.v1"
    assert event["data"]["rule"] == "lms-not-authorized-for-course"
    # Saarland's own LMS then grades her as usual.
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.7", passed=True)
    node.wait_for_credential(learner.subject)
    assert only_grade(node, learner) == ["1.7"]
