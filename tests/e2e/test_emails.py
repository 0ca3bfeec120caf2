"""Learners are told each step once, in their language: enrolled, grade recorded, credential issued."""

import uuid

import pytest

from deploy.journey import Node, sample_course
from tests.stack import Stack, wait_until_all_consumed

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("language", "enrolled", "graded", "issued"),
    [
        ("de", "eingeschrieben", "Note", "ausgestellt"),
        ("fr", "inscription", "note", "délivrée"),
        ("it", "enrolled", "grade", "issued"),  # No Italian templates yet: English, not nothing.
    ],
)
def test_each_step_of_the_journey_is_emailed_once_in_the_learners_language(
    node: Node, stack: Stack, language: str, enrolled: str, graded: str, issued: str
):
    offering = node.opened_offering(node.approved_course(sample_course(f"Language Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Chiara Bianchi", language=language)
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.7", passed=True)
    node.wait_for_email(learner.email, about=issued)
    wait_until_all_consumed(node, stack)

    emails = node.emails_to(learner.email)
    subjects = sorted(email["Subject"] for email in emails)
    assert len(emails) == 3, subjects
    for word in (enrolled, graded, issued):
        assert sum(word in subject for subject in subjects) >= 1, (word, subjects)
    assert {email["Content-Language"] for email in emails} == {language if language != "it" else "en"}
