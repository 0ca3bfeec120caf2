"""The registrar's and the assessor's pages, end to end in Debian's Chromium, signing in at Keycloak: a registrar
opens an offering with the form, sees who has a place and who waits (with their positions), records a fee as paid,
revokes a credential with a reason (none is refused) and reads the emails that failed; an assessor uploads a cohort's
CSV whose bad lines are refused one by one, naming the line and field, while the good ones around them are recorded,
watches the results page until it is done, and records one grade with the form. axe-core finds nothing serious.
Screenshots: .run/screenshots/."""

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from deploy.journey import ASSESSOR, REGISTRAR, Node, Person, sample_course
from deploy.keycloak_realm import demo_user
from tests.e2e.conftest import issuer_keys
from tests.e2e.front_end import FrontEnd, browse, keycloak_issuer, running_front_end, serious_violations, step
from tests.stack import Stack

pytestmark = pytest.mark.e2e

PETRA = demo_user("petra.klein")  # A registrar of Saarland University.
MARIA = demo_user("maria.schmidt")  # An assessor of Saarland University.


@pytest.fixture(scope="module")
def front_end(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontEnd]:
    with running_front_end(stack, issuer_keys(tmp_path_factory.mktemp("web-issuer-keys")), keycloak_issuer()) as started:
        yield started


def external_learner(node: Node, name: str) -> Person:
    """A learner from outside the alliance: they owe an offering's fee."""
    return node.registered_learner(name, affiliation=(), institution=None)


def wait_for_offering(node: Node, offering_id: str) -> None:
    node.wait_for("enrolment to know the offering and its course", lambda: True if any(
        o["id"] == offering_id and o["course_known"] for o in node.ok("GET", "enrolment", "/offerings")) else None)


def test_a_registrar_opens_an_offering_follows_its_waitlist_and_revokes_a_credential_with_a_reason(
    front_end: FrontEnd,
) -> None:
    node, tag = front_end.node, uuid.uuid4().hex[:6]
    course = node.approved_course(sample_course(f"Smart Grids Studio {tag}"))
    title = course["description"]["title"]
    today = date.today()
    steps = browse("registrar-opens-offering.mjs", front_end, username=PETRA.username, password=PETRA.password,
                   course=title, opens=today.isoformat(), closes=(today + timedelta(days=10)).isoformat(),
                   capacity=1, fee=120, starts=(today + timedelta(days=20)).isoformat(),
                   ends=(today + timedelta(days=60)).isoformat())
    refused = step(steps, "refused")
    assert "starts_on" in refused["problem"] and "a time-bound offering has a start and an end date" in refused["problem"]
    assert refused["capacity"] == "1", "the form comes back with what was typed"
    opened = step(steps, "opened")
    offering_id = opened["url"].rsplit("/", 1)[1]
    assert opened["heading"] == title
    assert opened["notice"].startswith(f"“{title}” is open: learners can apply from ")
    held = node.ok("GET", "catalogue", f"/offerings/{offering_id}")
    assert (held["capacity"], held["fee"], held["opened_by"]) == (1, {"amount": 120.0, "currency": "EUR"}, PETRA.id)

    # Two learners from outside the alliance apply: one gets the place (and owes the fee), the other waits.
    wait_for_offering(node, offering_id)
    first, second = external_learner(node, f"Ines Keller {tag}"), external_learner(node, f"Omar Haddad {tag}")
    assert node.apply(first, {"id": offering_id}).status_code == 201
    assert node.apply(second, {"id": offering_id}).status_code == 202
    # The first passes, and Saarland issues her credential.
    node.wait_until_gradable(first.subject, course["id"])
    node.submit_grade_with_kcat(course["id"], first.subject, grade="1.3", passed=True)
    credential = node.wait_for_credential(first.subject)
    reason = "Plagiarism found in the final project"

    steps = browse("registrar-follows-offering.mjs", front_end, username=PETRA.username, password=PETRA.password,
                   offering=offering_id, credential=credential["id"], reason=reason)

    seen = step(steps, "offering")
    assert [row["learner"] for row in seen["enrolled"]] == [first.subject]
    assert first.name in seen["enrolled"][0]["text"] and "to be paid" in seen["enrolled"][0]["text"]
    assert [(row["learner"], row["position"]) for row in seen["waitlist"]] == [(second.subject, "1")]
    assert second.name in seen["waitlist"][0]["text"]
    assert "1 of 1" in seen["facts"] and "€120" in seen["facts"].replace("\u00a0", "").replace(" ", "")
    fee = step(steps, "fee recorded")
    assert fee["notice"] == "The fee is recorded as paid." and "paid" in fee["enrolled"][0]["text"]
    assert step(steps, "no reason")["notice"] == "Nothing changed: give a reason (at least 3 characters)."
    revoked = step(steps, "revoked")
    assert revoked["notice"] == (f"The credential “{title}” is revoked: verifiers now see it as revoked.")
    assert revoked["status"] == "revoked" and f"Reason: {reason}" in revoked["text"]
    assert step(steps, "failed emails")["heading"] == "Emails that could not be delivered"

    # What the pages did is what the services hold, under the identity Keycloak attests.
    application = node.ok("GET", "enrolment", "/applications", by=REGISTRAR, params={"offering_id": offering_id})
    assert {(a["learner_id"], a["status"], a["fee_status"]) for a in application} == {
        (first.subject, "enrolled", "paid"), (second.subject, "waitlisted", None)}
    stored = node.ok("GET", "certification", f"/credentials/{credential['id']}")
    assert (stored["status"], stored["revocation_reason"]) == ("revoked", reason)
    assert serious_violations(steps) == {}


def test_an_assessor_uploads_a_cohort_whose_bad_lines_are_refused_alone_and_records_one_grade(
    front_end: FrontEnd, tmp_path: Path
) -> None:
    node, tag = front_end.node, uuid.uuid4().hex[:6]
    course = node.approved_course(sample_course(f"Water Futures Lab {tag}"))
    offering = node.opened_offering(course, capacity=10)
    learners = [node.registered_learner(f"Learner {n} {tag}") for n in range(4)]
    for learner in learners:
        node.enrolled(learner, offering)
    good, out_of_scale, bad_date, after = learners[:4]
    csv = tmp_path / "cohort.csv"
    csv.write_text("\n".join([
        "learner_id,grade,assessed_on",
        f"{good.subject},1.7,2026-11-20",
        f"{out_of_scale.subject},7.5,2026-11-20",
        f"nobody-{tag},2.0,2026-11-20",
        f"{bad_date.subject},2.3,20.11.2026",
        "",
        f"{after.subject},3.0,2026-11-21",
    ]) + "\n")

    steps = browse("assessor-uploads-cohort.mjs", front_end, username=MARIA.username, password=MARIA.password,
                   course=course["id"], csv=str(csv), one={"learner": bad_date.subject, "grade": "2.0"})

    seen = step(steps, "course")
    assert "Numbers from 1 to 5; 4 still passes." in seen["scheme"]
    assert set(seen["ungraded"]) == {learner.subject for learner in learners}
    results = step(steps, "results")
    assert results["progress"] == "Done: 5 of 5 lines processed."
    lines = {line["line"]: line for line in results["lines"]}
    assert {n: line["outcome"] for n, line in lines.items()} == {
        2: "accepted", 3: "refused", 4: "refused", 5: "refused", 7: "accepted"}
    assert lines[2]["details"] == "grade 1.7, passed" and lines[7]["details"] == "grade 3.0, passed"
    assert lines[3]["details"].startswith("line 3, field grade: ")
    assert lines[4]["details"].startswith("line 4, field learner_id: ") and "not enrolled" in lines[4]["details"]
    assert lines[5]["details"] == "line 5, field assessed_on: '20.11.2026' is not a date (YYYY-MM-DD)"
    one = step(steps, "one grade")
    assert one["notice"] == f"Grade 2.0 is recorded for {bad_date.subject} (passed)."

    grades = node.ok("GET", "assessment", "/grades", by=ASSESSOR, params={"course_id": course["id"]})
    assert {(g["learner_id"], g["grade"], g["channel"], g["assessor"]) for g in grades} == {
        (good.subject, "1.7", "csv", MARIA.id), (after.subject, "3.0", "csv", MARIA.id),
        (bad_date.subject, "2.0", "http", MARIA.id)}
    assert serious_violations(steps) == {}
