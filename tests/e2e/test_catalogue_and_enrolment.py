"""What partner universities and learners do with the catalogue and enrolment, across the running node."""

import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.journey import ALLIANCE_UNIVERSITY, OUTSIDE_UNIVERSITY, QA_OFFICER, Node, Person, sample_course
from tests.stack import ROOT

pytestmark = pytest.mark.e2e

SOFIA_DESIGNER = Person("maria.ivanova@uni-sofia.bg", "Dr. Maria Ivanova", "course-designer", "uni-sofia")
SOFIA_QA = Person("qa@uni-sofia.bg", "Sofia University QA office", "qa-officer", "uni-sofia")


def titled(title: str) -> str:
    return f"{title} {uuid.uuid4().hex[:4]}"


def test_a_joint_course_is_approved_by_the_lead_universitys_qa_officer_not_its_designer(node: Node):
    description = sample_course(titled("Digital Entrepreneurship across Borders"))
    description["awarding_bodies"].append(
        {"id": "uni-sofia", "name": "Sofia University St. Kliment Ohridski", "country": "BG"}
    )
    course = node.ok("POST", "catalogue", "/courses", by=SOFIA_DESIGNER, json={"description": description})
    node.ok("POST", "catalogue", f"/courses/{course['id']}/submit", by=SOFIA_DESIGNER)

    # The designer, even holding a QA role, may not approve their own course.
    same_person_as_qa = Person(SOFIA_DESIGNER.subject, SOFIA_DESIGNER.name, "qa-officer", "uni-sofia")
    own = node.call("POST", "catalogue", f"/courses/{course['id']}/approve", by=same_person_as_qa, json={})
    assert own.status_code == 403
    # QA belongs to the lead awarding university (the first awarding body).
    partner = node.call("POST", "catalogue", f"/courses/{course['id']}/approve", by=SOFIA_QA, json={})
    assert partner.status_code == 403 and "uni-saarland" in partner.text
    approved = node.ok("POST", "catalogue", f"/courses/{course['id']}/approve", by=QA_OFFICER, json={})
    assert approved["status"] == "approved"
    node.grading_scheme(course["id"], {"kind": "numeric", "name": "Bulgarian 2-6", "minimum": 2, "maximum": 6, "pass_mark": 3})

    offering = node.opened_offering(approved)
    learner = node.registered_learner("Elena Georgieva")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(course["id"], learner.subject, grade="6.00", passed=True)
    record = node.wait_for_credential(learner.subject)["record"]
    assert [body["name"] for body in record["awarding_bodies"]] == [
        "Saarland University",
        "Sofia University St. Kliment Ohridski",
    ]
    assert record["countries_of_the_issuer"] == ["BG", "DE"]


def test_an_offering_fills_up_and_its_waitlist_moves_up_when_someone_withdraws(node: Node):
    course = node.approved_course(sample_course(titled("Green Hydrogen Basics")))
    offering = node.opened_offering(course, capacity=2)
    first, second, third = (node.registered_learner(name) for name in ("Ana Horvat", "Jonas Berg", "Lucia Rossi"))

    assert node.apply(first, offering).status_code == 201
    assert node.apply(second, offering).status_code == 201
    waitlisted = node.apply(third, offering)
    assert waitlisted.status_code == 202
    assert waitlisted.json()["status"] == "waitlisted" and waitlisted.json()["position"] == 1
    assert "number 1" in node.wait_for_email(third.email, about="waitlist").get_body(("plain",)).get_content()

    first_application = node.ok("GET", "enrolment", "/applications", by=first)[0]
    node.withdraw(first, first_application["id"])

    promoted = node.wait_for_email(third.email, about="place opened up")
    assert offering["title"] in promoted["Subject"]
    mine = node.ok("GET", "enrolment", f"/applications/{waitlisted.json()['id']}", by=third)
    assert mine["status"] == "enrolled"
    node.wait_for_email(first.email, about="withdrawn")
    counts = next(o for o in node.ok("GET", "enrolment", "/offerings") if o["id"] == offering["id"])
    assert (counts["enrolled"], counts["waitlisted"]) == (2, 0)


def test_an_external_learner_is_charged_the_fee_and_an_alliance_student_is_not(node: Node):
    course = node.approved_course(sample_course(titled("Heritage Tourism Management")))
    offering = node.opened_offering(course, fee={"amount": 150, "currency": "EUR"})
    # What they are comes from their universities' identity providers: both students, one outside the alliance.
    external = node.registered_learner("Sam Taylor", affiliation=("student",), institution=OUTSIDE_UNIVERSITY)
    student = node.registered_learner("Marta Kowalska", affiliation=("student",), institution=ALLIANCE_UNIVERSITY)

    charged = node.apply(external, offering).json()
    free = node.apply(student, offering).json()

    assert (charged["fee_status"], charged["fee"]) == ("due", {"amount": 150.0, "currency": "EUR"})
    assert free["fee_status"] == "waived"
    assert "150.00 EUR" in node.wait_for_email(external.email, about="enrolled").get_body(("plain",)).get_content()
    assert "no fee" in node.wait_for_email(student.email, about="enrolled").get_body(("plain",)).get_content()


def test_a_learner_missing_a_prerequisite_is_refused_and_accepted_once_they_hold_it(node: Node):
    basics = node.approved_course(sample_course(titled("Research Data Basics")))
    advanced_description = sample_course(titled("Advanced Research Data Management"))
    advanced_description["prerequisite_course_ids"] = [basics["id"]]
    advanced = node.approved_course(advanced_description)
    basics_offering, advanced_offering = node.opened_offering(basics), node.opened_offering(advanced)
    learner = node.registered_learner("Tomas Novak")

    refused = node.apply(learner, advanced_offering)
    assert refused.status_code == 403 and basics["id"] in refused.text

    node.enrolled(learner, basics_offering)
    node.submit_grade_with_kcat(basics["id"], learner.subject, grade="1.0", passed=True)
    node.wait_for_credential(learner.subject)
    accepted = node.wait_for(
        "enrolment to learn of the credential",
        lambda: response if (response := node.apply(learner, advanced_offering)).status_code == 201 else None,
    )
    assert accepted.json()["status"] == "enrolled"


def test_the_public_catalogue_page_shows_the_open_offerings_in_a_real_browser(node: Node):
    open_title, closed_title = titled("Open Science in Practice"), titled("Closed Registration Course")
    node.opened_offering(node.approved_course(sample_course(open_title)))
    now = datetime.now(UTC)
    node.opened_offering(
        node.approved_course(sample_course(closed_title)),
        registration_opens_at=(now - timedelta(days=10)).isoformat(),
        registration_closes_at=(now - timedelta(days=1)).isoformat(),
    )

    page = headless_chromium(f"{node.urls['catalogue']}/catalogue")

    assert open_title in page and closed_title not in page
    for element in ("Saarland University", "ECTS", "EQF", "Project with a final presentation", "blended"):
        assert element in page, f"the page does not show {element!r}"


def headless_chromium(url: str) -> str:
    """The page's DOM after Chromium loaded it; a screenshot goes to .run/screenshots for people to look at."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    shots = ROOT / ".run" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            ["chromium", *flags, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True, text=True, timeout=90, check=True,
        ).stdout
        subprocess.run(
            ["chromium", *flags, f"--user-data-dir={profile}", f"--screenshot={Path(shots, 'catalogue.png')}",
             "--window-size=1280,2000", url],
            capture_output=True, timeout=90, check=True,
        )
    return dom
