"""Issue #14's "Done when" as one journey, in Debian's Chromium, each person signing in at the real Keycloak and using
the pages only, each step taking the ids the one before produced: Julia (a course designer of Saarland University)
describes and submits a course; Thomas (a QA officer there, another person) approves it; Petra (its registrar) opens
an offering; Mila (a student of Sofia University, another member of the alliance this node hosts) finds it in the
catalogue and applies; Maria (Saarland's assessor) uploads a CSV with Mila's grade; Mila sees the credential in her
wallet, downloads it and shares it; an employer verifies the downloaded file and opens the share link. axe-core finds
nothing serious on any page. Screenshots: .run/screenshots/journey-*.png.

Between the steps the test only waits, through read endpoints, for what the node does on its own (enrolment learning
of the offering, assessment of the enrolment, certification issuing the credential). Maria sets the course's grading
scheme with her page before she uploads."""

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.journey import Person
from deploy.keycloak_realm import DemoUser, demo_user
from tests.e2e.conftest import issuer_keys
from tests.e2e.front_end import (
    SCREENSHOTS,
    FrontEnd,
    browse,
    keycloak_issuer,
    running_front_end,
    serious_violations,
    step,
)
from tests.stack import Stack

pytestmark = pytest.mark.e2e

JULIA = demo_user("julia.becker")  # Course designer, Saarland University.
THOMAS = demo_user("thomas.wagner")  # QA officer, Saarland University.
PETRA = demo_user("petra.klein")  # Registrar, Saarland University.
MARIA = demo_user("maria.schmidt")  # Assessor, Saarland University.
MILA = demo_user("mila.georgieva")  # A student of Sofia University: not the course's university.


@pytest.fixture(scope="module")
def front_end(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontEnd]:
    with running_front_end(stack, issuer_keys(tmp_path_factory.mktemp("web-issuer-keys")), keycloak_issuer()) as started:
        yield started


def staff(user: DemoUser) -> Person:
    """The demo user as the node's read endpoints name them (for waiting only)."""
    return Person(user.id, user.name, str(user.roles[0]), user.institution, user.email, user.affiliation)


def course_fields(title: str) -> dict[str, Any]:
    return {
        "title": title, "short_description": "Planning cities that cope with heat, drought and heavy rain.",
        "learning_outcomes": "Map a district's climate risks\nDesign a blue-green infrastructure plan",
        "languages": "en", "ects": "3", "workload_hours": "75", "eqf_level": "7",
        "type_of_assessment": "Project report and presentation", "form_of_participation": "online",
        "type_of_quality_assurance": "Internal quality assurance of Saarland University (system-accredited)",
        "awarding_bodies-0-name": "Saarland University", "awarding_bodies-0-country": "DE",
        "awarding_bodies-0-url": "https://www.uni-saarland.de",
        "prerequisites": "A bachelor's degree in planning, architecture or engineering",
        "identity_verification": "supervised-online", "stackability": "stackable",
        "contact": "microcredentials@uni-saarland.de", "accepts_declared_qualification": True,
        "faculty": "Faculty of Natural Sciences and Technology", "target_groups": "Master students\nCity planners",
        "participants_obligations": "Hand in the district plan", "competences": "Climate adaptation planning",
        "skills": "http://data.europa.eu/esco/skill/5c0d0a4c-e3a8-4d36-9d9a-a5e2d7e6a9f1",
        "literature": "IPCC AR6, Working Group II, chapter 6", "course_leaders": "Prof. Dr. Maria Schmidt",
        "lecturers": "Dr. Jan Novak", "pace": "time-bound", "access": "open", "funding": "alliance-funded",
        "funding_note": "Free for the alliance's students", "curriculum_inclusion": ["elective"],
        "application_and_selection": "Apply on the alliance's catalogue; first come, first served",
        "recognition_of_results": "3 ECTS recognised by every member university",
        "sustainability": "Run each summer semester from the faculty's budget",
        "student_support": "A tutor answers in the course forum within two days",
        "teacher_support": "Didactics training at the university's teaching centre",
        "infrastructure": "A laptop; the city's open GIS data",
        "qa_data_collected": "Learners' evaluations after each run",
    }


def test_a_course_goes_from_its_designer_to_an_employer_who_verifies_a_learners_credential_of_it(
    front_end: FrontEnd, tmp_path: Path
) -> None:
    node, shots = front_end.node, {"screenshotPrefix": "journey-"}
    title = f"Climate-Resilient Cities {uuid.uuid4().hex[:6]}"
    assert MILA.institution != JULIA.institution, "the learner's university is not the course's"
    every: list[dict[str, Any]] = []

    # 1. Julia describes and submits the course; Thomas, another person, finds it in his queue and approves it.
    steps = browse("designer-describes.mjs", front_end, timeout=600, **shots,
                   designer={"username": JULIA.username, "password": JULIA.password},
                   qa={"username": THOMAS.username, "password": THOMAS.password}, fields=course_fields(title))
    every += steps
    assert step(steps, "saved")["notice"] == f"Draft saved: “{title}”, version 1."
    course_id = step(steps, "saved")["url"].rstrip("/").rsplit("/", 1)[-1]
    assert title in step(steps, "submitted")["submitted"]
    row = next(course for course in step(steps, "queue")["courses"] if course["title"] == title)
    assert (row["lead"], row["designedBy"]) == ("Saarland University", JULIA.name)
    assert "Someone else designed and submitted this version" in step(steps, "new course")["fourEyes"]
    assert step(steps, "approved")["notice"] == f"“{title}”, version 1, is approved: it is in the catalogue now."

    # 2. Petra opens an offering of it (the form first refuses it without teaching dates: the course is time-bound).
    today = date.today()
    steps = browse("registrar-opens-offering.mjs", front_end, **shots, username=PETRA.username, password=PETRA.password,
                   course=title, opens=today.isoformat(), closes=(today + timedelta(days=14)).isoformat(),
                   capacity=30, fee=150, starts=(today + timedelta(days=21)).isoformat(),
                   ends=(today + timedelta(days=80)).isoformat())
    every += steps
    opened = step(steps, "opened")
    offering_id = opened["url"].rsplit("/", 1)[1]
    assert opened["heading"] == title
    assert opened["notice"].startswith(f"“{title}” is open: learners can apply from ")
    node.wait_for("enrolment to know the offering and its course", lambda: True if any(
        o["id"] == offering_id and o["course_known"] for o in node.ok("GET", "enrolment", "/offerings")) else None)

    # 3. Mila, of Sofia University, finds it in the alliance's catalogue, signs in at Keycloak and applies.
    steps = browse("learner-applies.mjs", front_end, **shots, username=MILA.username, password=MILA.password,
                   title=title)
    every += steps
    assert step(steps, "searched")["found"] == [title]
    assert step(steps, "identity provider")["url"].startswith(front_end.issuer)
    assert step(steps, "signed in")["notice"] == f"Welcome, {MILA.name}. You are signed in."
    applied = step(steps, "applied")
    assert applied["status"] == "enrolled"
    assert applied["notice"] == f"You have a place in “{title}”."
    assert title in applied["row"] and "Enrolled" in applied["row"]
    node.wait_until_gradable(MILA.id, course_id, assessor=staff(MARIA))

    # 4. Maria sets the course's grading scheme (German, 1.0 best, 4.0 passes), then uploads the cohort's CSV with
    # Mila's grade; the line is accepted.
    csv = tmp_path / "cohort.csv"
    csv.write_text(f"learner_id,grade,assessed_on\n{MILA.id},1.3,{today.isoformat()}\n")
    steps = browse("assessor-uploads-cohort.mjs", front_end, **shots, username=MARIA.username,
                   password=MARIA.password, course=course_id, csv=str(csv),
                   scheme={"kind": "numeric", "fields": {"name": "German 1.0-5.0", "minimum": "1.0", "maximum": "5.0",
                                                         "pass_mark": "4.0"}, "lowerIsBetter": True})
    every += steps
    assert step(steps, "scheme")["notice"] == "The grading scheme is saved: grades are judged by it from now on."
    assert "Numbers from 1 to 5; 4 still passes." in step(steps, "course")["scheme"]
    assert MILA.id in step(steps, "course")["ungraded"]
    results = step(steps, "results")
    assert results["progress"] == "Done: 1 of 1 lines processed."
    assert results["lines"] == [{"line": 2, "outcome": "accepted", "details": "grade 1.3, passed"}]

    # Certification issues the credential on its own: wait for it (read endpoint), then Mila opens her wallet.
    node.wait_for_credential(MILA.id)
    steps = browse("learner-wallet.mjs", front_end, **shots, username=MILA.username, password=MILA.password,
                   downloads=str(tmp_path), keepShare=True)
    every += steps
    assert step(steps, "wallet") == {"step": "wallet", "title": title, "status": "valid"}
    assert {s["kind"]: s["status"] for s in steps if s["step"] == "downloaded"} == {"pdf": 200, "json": 200}
    shared = step(steps, "shared")
    assert shared["url"].startswith(f"{front_end.url}/shared/") and "New share link, valid until" in shared["notice"]
    opened_link = step(steps, "share link opened")
    assert (opened_link["status"], opened_link["outcome"], opened_link["heading"]) == (200, "valid", title)

    # 5. An employer verifies the file Mila downloaded from her wallet: valid, naming her and the university.
    downloaded = tmp_path / "credential.json"
    assert json.loads(downloaded.read_text())["credentialSubject"], "the wallet's JSON download is a credential"
    steps = browse("employer-verifies.mjs", front_end, **shots, credential=str(downloaded))
    every += steps
    uploaded = step(steps, "uploaded")
    assert (uploaded["outcome"], uploaded["heading"]) == ("valid", "✔ Valid")
    assert MILA.name in uploaded["text"] and "Saarland University" in uploaded["text"] and title in uploaded["text"]

    assert serious_violations(every) == {}
    for name in ("designer-new", "qa-queue-with-names", "registrar-open-offering", "catalogue", "applications",
                 "assessor-upload-results", "wallet", "shared-credential", "verify-uploaded"):
        assert (SCREENSHOTS / f"journey-{name}.png").is_file(), name

