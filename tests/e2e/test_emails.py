"""Learners are told each step once, in their language: enrolled, grade recorded, credential issued."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from deploy.journey import Node, sample_course
from tests.stack import ROOT, Stack, wait_until_all_consumed

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("language", "enrolled", "graded", "issued"),
    [
        ("de", "eingeschrieben", "Note", "ausgestellt"),
        ("fr", "inscription", "note", "délivrée"),
        ("it", "iscritto", "voto", "rilasciata"),
        ("es", "enrolled", "grade", "issued"),  # No Spanish templates: English, not nothing.
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
    assert {email["Content-Language"] for email in emails} == {language if language != "es" else "en"}


def test_an_smtp_outage_during_a_cohorts_grading_ends_with_every_email_sent_once(node: Node, stack: Stack):
    offering = node.opened_offering(node.approved_course(sample_course(f"Outage Course {uuid.uuid4().hex[:4]}")))
    cohort = [node.registered_learner(f"Learner {n}") for n in range(4)]
    for learner in cohort:
        node.enrolled(learner, offering)
        node.wait_for_email(learner.email, about="enrolled")

    smtp = smtp_server_pid()
    os.kill(smtp, signal.SIGTERM)
    node.wait_for("the mail server to stop", lambda: True if not _alive(smtp) else None)
    try:
        for learner in cohort:
            node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="2.0", passed=True)
        for learner in cohort:
            node.wait_for_credential(learner.subject)
        wait_until_all_consumed(node, stack)
        assert all(node.emails_to(learner.email, about="issued") == [] for learner in cohort), "the server is down"
    finally:
        subprocess.run(["bash", str(ROOT / "deploy" / "infra.sh"), "start"], check=True, stdout=subprocess.DEVNULL)

    for learner in cohort:
        node.wait_for_email(learner.email, about="issued")
    time.sleep(3)  # Several retry rounds: a second copy would have arrived by now.
    assert [len(node.emails_to(learner.email, about="issued")) for learner in cohort] == [1, 1, 1, 1]


def smtp_server_pid() -> int:
    state = Path(os.environ.get("MC_STATE_DIR", ROOT / ".run"))
    return int((state / "pids" / "smtp.pid").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
