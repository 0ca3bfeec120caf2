"""A learner's journey across the five services, and what happens to grades that must not count."""

import asyncio
import json
import uuid

import pytest

from deploy.journey import ASSESSOR, NODE_LMS, Node, Person, grade_submission, sample_course
from shared.events import dead_letter_topic
from tests.stack import Stack, header, read_topic, wait_until_all_consumed

pytestmark = pytest.mark.e2e

ANNEX_I_MANDATORY = (
    "identification_of_the_learner",
    "title",
    "countries_of_the_issuer",
    "awarding_bodies",
    "date_of_issuing",
    "learning_outcomes",
    "languages",
    "workload_ects",
    "eqf_level",
    "type_of_assessment",
    "form_of_participation",
    "type_of_quality_assurance",
)


@pytest.fixture
def offering(node: Node) -> dict:
    course = node.approved_course(sample_course(f"Circular Economy in Practice {uuid.uuid4().hex[:4]}"))
    return node.opened_offering(course)


def enrolled_learner(node: Node, offering: dict, name: str = "Ana Horvat") -> Person:
    learner = node.registered_learner(name)
    node.enrolled(learner, offering)
    return learner


def test_a_passing_grade_from_the_lms_becomes_a_credential_and_an_email(node: Node, offering: dict):
    learner = enrolled_learner(node, offering)

    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.3", passed=True)

    credential = node.wait_for_credential(learner.subject)
    record = credential["record"]
    missing = [element for element in ANNEX_I_MANDATORY if record.get(element) in (None, "", [])]
    assert missing == [], f"mandatory elements missing from the credential: {missing}"
    assert record["identification_of_the_learner"]["name"] == "Ana Horvat"
    assert record["title"] == offering["title"]
    assert record["countries_of_the_issuer"] == ["DE"] and record["grade_achieved"] == "1.3"
    assert credential["signed"] is True and credential["status"] == "valid"
    assert credential["credential"]["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"

    email = node.wait_for_email(learner.email, about="micro-credential")
    assert offering["title"] in email["Subject"]
    for kind in ("plain", "html"):
        part = email.get_body((kind,)).get_content()
        assert "Ana Horvat" in part and credential["id"] in part, "the email greets the learner and links the credential"


def test_a_grade_for_a_learner_who_is_not_enrolled_is_rejected_and_issues_nothing(
    node: Node, offering: dict, stack: Stack
):
    stranger = node.registered_learner("Petar Ivanov")
    control = enrolled_learner(node, offering, name="Lena Weber")

    node.submit_grade_with_kcat(offering["course_id"], stranger.subject, grade="1.0", passed=True)
    node.submit_grade_with_kcat(offering["course_id"], control.subject, grade="2.0", passed=True)

    node.wait_for_email(control.email, about="micro-credential")
    wait_until_all_consumed(node, stack)
    [rejection] = node.rejections(stranger.subject)
    assert rejection["rule"] == "learner-not-enrolled"
    assert stranger.subject in rejection["reason"] and offering["course_id"] in rejection["reason"]
    assert node.ok("GET", "assessment", "/grades", by=ASSESSOR, params={"learner_id": stranger.subject}) == []
    assert node.credentials(stranger.subject) == []
    assert node.emails_to(stranger.email) == []


def test_the_same_grade_published_twice_yields_one_credential_and_one_email(node: Node, offering: dict, stack: Stack):
    learner = enrolled_learner(node, offering)
    failing = enrolled_learner(node, offering, name="Ivo Kranjc")
    document = json.dumps(grade_submission(offering["course_id"], learner.subject, "2.3", True))

    node.produce_with_kcat(NODE_LMS.topic, learner.subject, document)
    node.produce_with_kcat(NODE_LMS.topic, learner.subject, document)
    # The LMS also resends the grade as a new submission (a plugin's retry): refused, still one credential.
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="2.3", passed=True)
    node.submit_grade_with_kcat(offering["course_id"], failing.subject, grade="5.0", passed=False)

    node.wait_for_email(learner.email, about="micro-credential")
    wait_until_all_consumed(node, stack)
    grades = node.ok("GET", "assessment", "/grades", by=ASSESSOR, params={"learner_id": learner.subject})
    assert len(grades) == 1, "the redelivered submission is recorded once"
    [resent] = node.rejections(learner.subject)
    assert resent["rule"] == "already-graded", "a second grade is an amendment, not a new submission"
    assert len(node.credentials(learner.subject)) == 1
    assert len(node.emails_to(learner.email, about="micro-credential")) == 1
    assert node.credentials(failing.subject) == [], "a fail earns nothing"
    assert node.emails_to(failing.email, about="micro-credential") == []


def test_a_malformed_lms_message_is_dead_lettered_and_grading_goes_on(node: Node, offering: dict, stack: Stack):
    learner = enrolled_learner(node, offering)
    key = learner.subject.encode()

    node.produce_with_kcat(NODE_LMS.topic, learner.subject, '{"grade": "1.0"')
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.0", passed=True)

    node.wait_for_credential(learner.subject)
    dead = asyncio.run(read_topic(stack, dead_letter_topic("assessment"), until=lambda rs: any(r.key == key for r in rs)))
    mine = [record for record in dead if record.key == key]
    assert len(mine) == 1
    assert "not a JSON document" in header(mine[0], "x-dead-letter-reason")
    assert mine[0].value == b'{"grade": "1.0"', "kept as sent, to be replayed once fixed"
