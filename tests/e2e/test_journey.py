"""A learner's journey across the five services, and what happens to grades that must not count."""

import asyncio
import json
import uuid

import pytest

from deploy.journey import GRADE_SUBMISSIONS_TOPIC, Node, grade_submission, sample_course
from shared.events import dead_letter_topic
from tests.stack import Stack, header, read_topic, unconsumed

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
def course(node: Node) -> dict:
    title = f"Circular Economy in Practice {uuid.uuid4().hex[:4]}"
    return node.approved_course(sample_course(title), designer="designer@uni-saarland.de", qa_officer="qa@uni-saarland.de")


def enrolled_learner(node: Node, course: dict, name: str = "Ana Horvat") -> dict:
    learner = node.registered_learner(name, f"{uuid.uuid4().hex[:8]}@student.example.eu", "University of Primorska")
    node.enrolment(learner["id"], course["id"])
    node.wait_until_gradable(learner["id"], course["id"])
    return learner


def test_a_passing_grade_from_the_lms_becomes_a_credential_and_an_email(node: Node, course: dict):
    learner = enrolled_learner(node, course)

    node.submit_grade_with_kcat(course["id"], learner["id"], grade="1.3", passed=True)

    credential = node.wait_for_credential(learner["id"])
    record = credential["record"]
    missing = [element for element in ANNEX_I_MANDATORY if record.get(element) in (None, "", [])]
    assert missing == [], f"mandatory elements missing from the credential: {missing}"
    assert record["identification_of_the_learner"]["name"] == "Ana Horvat"
    assert record["title"] == course["description"]["title"]
    assert record["countries_of_the_issuer"] == ["DE"] and record["grade_achieved"] == "1.3"
    assert credential["signed"] is False, "signing is not built yet, and nothing pretends it is"

    email = node.wait_for_email(learner["email"])
    assert course["description"]["title"] in email["Subject"]
    text, html = (email.get_body((kind,)).get_content() for kind in ("plain", "html"))
    for part in (text, html):
        assert "Ana Horvat" in part and credential["id"] in part, "the email greets the learner and links the credential"


def test_a_grade_for_a_learner_who_is_not_enrolled_is_rejected_and_issues_nothing(
    node: Node, course: dict, stack: Stack
):
    stranger = node.registered_learner("Petar Ivanov", f"{uuid.uuid4().hex[:8]}@example.eu")
    control = enrolled_learner(node, course, name="Lena Weber")

    node.submit_grade_with_kcat(course["id"], stranger["id"], grade="1.0", passed=True)
    node.submit_grade_with_kcat(course["id"], control["id"], grade="2.0", passed=True)

    node.wait_for_email(control["email"])
    wait_until_all_consumed(node, stack)
    [rejection] = node.rejections(stranger["id"])
    assert rejection["rule"] == "learner-not-enrolled"
    assert stranger["id"] in rejection["reason"] and course["id"] in rejection["reason"]
    assert node.ok("GET", "assessment", "/grades", params={"learner_id": stranger["id"]}) == []
    assert node.credentials(stranger["id"]) == []
    assert node.emails_to(stranger["email"]) == []


def test_the_same_grade_published_twice_yields_one_credential_and_one_email(node: Node, course: dict, stack: Stack):
    learner = enrolled_learner(node, course)
    failing = enrolled_learner(node, course, name="Ivo Kranjc")
    document = json.dumps(grade_submission(course["id"], learner["id"], "2.3", True))

    node.produce_with_kcat(GRADE_SUBMISSIONS_TOPIC, learner["id"], document)
    node.produce_with_kcat(GRADE_SUBMISSIONS_TOPIC, learner["id"], document)
    # The LMS also resends the grade as a new submission (a plugin's retry): a second grade, still one credential.
    node.submit_grade_with_kcat(course["id"], learner["id"], grade="2.3", passed=True)
    node.submit_grade_with_kcat(course["id"], failing["id"], grade="5.0", passed=False)

    node.wait_for_email(learner["email"])
    wait_until_all_consumed(node, stack)
    grades = node.ok("GET", "assessment", "/grades", params={"learner_id": learner["id"]})
    assert len(grades) == 2, "the redelivered submission is recorded once, the resent one once"
    assert len(node.credentials(learner["id"])) == 1
    assert len(node.emails_to(learner["email"])) == 1
    assert node.credentials(failing["id"]) == [] and node.emails_to(failing["email"]) == [], "a fail earns nothing"


def test_a_malformed_lms_message_is_dead_lettered_and_grading_goes_on(node: Node, course: dict, stack: Stack):
    learner = enrolled_learner(node, course)
    key = learner["id"].encode()

    node.produce_with_kcat(GRADE_SUBMISSIONS_TOPIC, learner["id"], '{"grade": "1.0"')
    node.submit_grade_with_kcat(course["id"], learner["id"], grade="1.0", passed=True)

    node.wait_for_credential(learner["id"])
    dead = asyncio.run(read_topic(stack, dead_letter_topic("assessment"), until=lambda rs: any(r.key == key for r in rs)))
    mine = [record for record in dead if record.key == key]
    assert len(mine) == 1
    assert "not a JSON document" in header(mine[0], "x-dead-letter-reason")
    assert mine[0].value == b'{"grade": "1.0"', "kept as sent, to be replayed once fixed"


def wait_until_all_consumed(node: Node, stack: Stack) -> None:
    """Every service has handled everything on the topics it reads: nothing more is on its way."""
    for service in ("assessment", "certification", "notifications"):
        node.wait_for(f"{service} to catch up", lambda: True if asyncio.run(unconsumed(stack, service)) == 0 else None)
