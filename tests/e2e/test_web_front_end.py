"""The web front end, end to end in Debian's Chromium: people sign in at the real identity provider (Keycloak, typing
into its own login page), and the pages call the node's services with their tokens. A learner finds an offering,
applies and sees her application; sees her credential, downloads its PDF and JSON, shares it and takes the link back;
an employer verifies it by upload and by the certificate's QR code; signing out ends the session at both ends; a form
without its CSRF token is refused; the keyboard alone carries a learner from signing in to applying; a QA officer
reviews the queue, approves a revision after reading what changed, sends a course back with reasons and sees that one
she designed herself is another officer's to review (four eyes); axe-core finds nothing serious on any page. Screenshots of each page: .run/screenshots/."""

import asyncio
import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from markupsafe import escape
from sqlalchemy.engine import make_url

from deploy.journey import DESIGNER, Node, Person, sample_course
from deploy.keycloak_realm import DemoUser, demo_user
from services.web import domain
from services.web.i18n import read_catalog
from shared.events.catalogue import MicroCredentialDescription
from shared.db import utcnow
from tests.e2e.conftest import issuer_keys
from tests.e2e.front_end import (
    FrontEnd,
    browse,
    keycloak_issuer,
    running_front_end,
    serious_violations,
    step,
)
from tests.stack import Stack

pytestmark = pytest.mark.e2e

ANA, LENA = demo_user("ana.horvat"), demo_user("lena.fischer")
THOMAS = demo_user("thomas.wagner")  # A QA officer of Saarland University.


@pytest.fixture(scope="module")
def front_end(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontEnd]:
    with running_front_end(stack, issuer_keys(tmp_path_factory.mktemp("web-issuer-keys")), keycloak_issuer()) as started:
        yield started


def as_person(user: DemoUser) -> Person:
    """The demo user as the journey's API calls name them (a node token with the claims their Keycloak token holds)."""
    return Person(user.id, user.name, "learner", user.institution, user.email, user.affiliation)


def open_offering(node: Node, title: str, **terms: Any) -> dict[str, Any]:
    course = node.approved_course(sample_course(title))
    return node.opened_offering(course, **terms) | {"title": title}


@pytest.fixture(scope="module")
def offering(front_end: FrontEnd) -> dict[str, Any]:
    return open_offering(front_end.node, f"Circular Economy Lab {uuid.uuid4().hex[:6]}", capacity=20)


@pytest.fixture(scope="module")
def credential(front_end: FrontEnd, offering: dict[str, Any]) -> dict[str, Any]:
    """Ana's credential for the offering: she is enrolled (through the pages in the first test, else here), the LMS
    sends her passing grade with kcat, and certification issues it."""
    node = front_end.node
    ana = as_person(ANA)
    applications = node.call("GET", "enrolment", "/applications", by=ana)
    if applications.status_code != 200 or not any(a["offering_id"] == offering["id"] for a in applications.json()):
        if node.call("GET", "enrolment", f"/learners/{ANA.id}", by=ana).status_code != 200:
            node.ok("POST", "enrolment", "/learners", by=ana, json={"preferred_language": "en"})
        node.enrolled(ana, offering)
    node.wait_until_gradable(ANA.id, offering["course_id"])
    node.submit_grade_with_kcat(offering["course_id"], ANA.id, grade="1.7", passed=True)
    return node.wait_for_credential(ANA.id)


def test_a_learner_finds_an_offering_signs_in_at_her_university_and_applies(
    front_end: FrontEnd, offering: dict[str, Any]
) -> None:
    steps = browse("learner-applies.mjs", front_end, username=ANA.username, password=ANA.password,
                   title=offering["title"])

    assert step(steps, "searched")["found"] == [offering["title"]]
    assert step(steps, "searched")["count"] == "1 offering found."
    assert "Sign in to apply" in step(steps, "offering")["apply"]
    provider = step(steps, "identity provider")
    assert provider["url"].startswith(front_end.issuer), "she typed her password at Keycloak, not at the front end"
    assert step(steps, "signed in")["notice"] == "Welcome, Ana Horvat. You are signed in."
    applied = step(steps, "applied")
    assert applied["status"] == "enrolled"
    assert applied["notice"] == f"You have a place in “{offering['title']}”."
    assert offering["title"] in applied["row"] and "Enrolled" in applied["row"] and "free" in applied["row"]
    # What the pages did is what the services hold: her application, under the identity Keycloak attests.
    held = front_end.node.ok("GET", "enrolment", "/applications", by=as_person(ANA))
    assert [(a["offering_id"], a["status"]) for a in held] == [(offering["id"], "enrolled")]
    learner = front_end.node.ok("GET", "enrolment", f"/learners/{ANA.id}", by=as_person(ANA))
    assert (learner["name"], learner["email"], learner["category"]) == (ANA.name, ANA.email, "alliance-student")
    assert serious_violations(steps) == {}


def test_the_learner_sees_her_credential_shares_it_takes_the_link_back_and_signs_out(
    front_end: FrontEnd, offering: dict[str, Any], credential: dict[str, Any], tmp_path: Path
) -> None:
    steps = browse("learner-wallet.mjs", front_end, username=ANA.username, password=ANA.password,
                   downloads=str(tmp_path))

    assert step(steps, "wallet") == {"step": "wallet", "title": offering["title"], "status": "valid"}
    downloads = {s["kind"]: s for s in steps if s["step"] == "downloaded"}
    assert (downloads["pdf"]["status"], downloads["pdf"]["type"]) == (200, "application/pdf")
    text = subprocess.run(["pdftotext", "-raw", str(tmp_path / "certificate.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert offering["title"] in " ".join(text.split()) and ANA.name in text
    assert downloads["json"]["status"] == 200
    assert json.loads((tmp_path / "credential.json").read_text()) == credential["credential"]

    shared = step(steps, "shared")
    assert shared["url"].startswith(f"{front_end.url}/shared/")
    assert "New share link, valid until" in shared["notice"] and shared["url"] in shared["notice"]
    opened = step(steps, "share link opened")
    assert (opened["status"], opened["outcome"], opened["heading"]) == (200, "valid", offering["title"])
    revoked = step(steps, "share revoked")
    assert revoked["notice"] == "The share link is revoked: it no longer shows anything."
    assert revoked["active"] == 0 and revoked["ended"].startswith("Revoked on")
    gone = step(steps, "revoked link opened")
    assert gone["status"] == 410 and "taken back by the learner" in gone["text"]

    assert step(steps, "preferences saved") == {
        "step": "preferences saved", "notice": "Your email preferences are saved.", "optional": False}
    forged = step(steps, "form without CSRF token")
    assert (forged["status"], forged["heading"]) == (403, "This form was not accepted")
    assert step(steps, "preferences after the refused form")["optional"] is False, "the refused form changed nothing"
    assert front_end.node.ok("GET", "notifications", "/preferences", by=as_person(ANA))["optional_emails"] is False

    signed_out = step(steps, "signed out")
    assert signed_out["heading"] == "You have signed out" and "Sign in" in signed_out["header"]
    assert step(steps, "wallet after signing out")["url"].startswith(front_end.issuer), (
        "after signing out, the wallet sends her to the identity provider, which asks for her password again")
    assert serious_violations(steps) == {}


def qr_link(pdf: bytes, folder: Path) -> str:
    (folder / "certificate.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(folder / "certificate.pdf"), str(folder / "page")],
                   check=True)
    return subprocess.run(["zbarimg", "-q", "--raw", str(folder / "page.png")], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_an_employer_verifies_the_credential_by_upload_and_by_the_qr_code(
    front_end: FrontEnd, credential: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "credential.json").write_text(json.dumps(credential["credential"]))
    tampered = json.loads(json.dumps(credential["credential"]))
    tampered["credentialSubject"]["achievement"]["name"] = "Doctorate in Everything"
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    qr = qr_link(httpx.get(credential["certificate_url"]).content, tmp_path)
    assert qr == f"{front_end.url}/verify?id={credential['id']}", "the certificate's QR code leads to the front end"

    steps = browse("employer-verifies.mjs", front_end, credential=str(tmp_path / "credential.json"),
                   tampered=str(tmp_path / "tampered.json"), qr=qr)

    uploaded = step(steps, "uploaded")
    assert (uploaded["outcome"], uploaded["heading"]) == ("valid", "✔ Valid")
    assert "Saarland University" in uploaded["text"] and ANA.name in uploaded["text"]
    assert step(steps, "tampered uploaded")["outcome"] == "tampered"
    assert step(steps, "QR link")["outcome"] == "valid"
    german = step(steps, "QR link in German")
    assert (german["outcome"], german["lang"], german["heading"]) == ("valid", "de", "✔ Gültig")
    assert serious_violations(steps) == {}


def test_the_keyboard_alone_takes_a_learner_from_signing_in_to_a_waitlist_place(front_end: FrontEnd) -> None:
    node = front_end.node
    full = open_offering(node, f"Keyboard Access Studio {uuid.uuid4().hex[:6]}", capacity=1)
    node.enrolled(node.registered_learner("Someone Earlier"), full)  # The one place is taken.

    steps = browse("keyboard-journey.mjs", front_end, username=LENA.username, password=LENA.password,
                   title=full["title"])

    applied = step(steps, "applied")
    assert applied["status"] == "waitlisted"
    assert applied["notice"].startswith(f"“{full['title']}” is full: you are number 1 on the waitlist.")
    assert "On the waitlist: number 1" in applied["row"]
    assert all(presses <= 40 for presses in applied["presses"].values()), applied["presses"]
    assert applied["presses"]["skipLink"] == 1, "the first Tab reaches the link that skips to the content"


def submitted_course(node: Node, description: dict[str, Any], designer: Person = DESIGNER) -> dict[str, Any]:
    course = node.ok("POST", "catalogue", "/courses", by=designer, json={"description": description})
    return node.ok("POST", "catalogue", f"/courses/{course['id']}/submit", by=designer)


def test_a_qa_officer_approves_a_revision_sends_a_course_back_with_reasons_and_sees_four_eyes(
    front_end: FrontEnd,
) -> None:
    node, tag = front_end.node, uuid.uuid4().hex[:6]
    # A revision of an approved course: more credits (and the hours the policy asks for), one more learning outcome.
    first = node.approved_course(sample_course(f"Regional Innovation Lab {tag}"))
    revised_description = first["description"] | {
        "ects": 4, "workload_hours": 100, "learning_outcomes": [*first["description"]["learning_outcomes"], "Run a living-lab pilot"],
    }
    node.ok("POST", "catalogue", f"/courses/{first['id']}/revisions", by=DESIGNER,
            json={"description": revised_description})
    revised = node.ok("POST", "catalogue", f"/courses/{first['id']}/submit", by=DESIGNER)
    rejected = submitted_course(node, sample_course(f"Hydrogen Economy Basics {tag}"))
    # Thomas also designs courses (his token as a designer): the one he wrote is not his to review.
    own = submitted_course(node, sample_course(f"Quality Culture Workshop {tag}"),
                           designer=Person(THOMAS.id, THOMAS.name, "course-designer", THOMAS.institution))
    # Led by Sofia University: its QA officers review it, not Saarland's.
    sofia = sample_course(f"Black Sea Ecology {tag}") | {"awarding_bodies": [
        {"id": "uni-sofia", "name": "Sofia University", "country": "BG", "url": "https://www.uni-sofia.bg"}]}
    elsewhere = submitted_course(node, sofia, designer=Person("elena@uni-sofia.bg", "Elena", "course-designer",
                                                              "uni-sofia"))
    reasons = ["State how the pilot is assessed", "Name the course leaders"]

    steps = browse("qa-officer-reviews.mjs", front_end, username=THOMAS.username, password=THOMAS.password,
                   revised=revised["description"]["title"], rejected=rejected["description"]["title"],
                   own=own["description"]["title"], reasons=reasons)

    queue = {course["title"]: course["fourEyes"] for course in step(steps, "queue")["courses"]}
    assert set(queue) == {revised["description"]["title"], rejected["description"]["title"],
                          own["description"]["title"]}, "the submitted courses Saarland leads, and no other"
    assert elsewhere["description"]["title"] not in queue
    assert queue[own["description"]["title"]] == "You designed it: another QA officer reviews it."
    assert queue[rejected["description"]["title"]] == "You may review it."

    revision = step(steps, "revision")
    assert [(c["field"], c["before"], c["after"]) for c in revision["changed"]] == [
        ("learning_outcomes", " ".join(first["description"]["learning_outcomes"]),
         " ".join(revised_description["learning_outcomes"])),
        ("ects", "3", "4"),
        ("workload_hours", "75", "100"),
    ]
    assert "Someone else designed and submitted this version" in revision["fourEyes"]
    approved = step(steps, "approved")
    assert approved["notice"] == f"“{revised['description']['title']}”, version 2, is approved: it is in the catalogue now."
    assert revised["description"]["title"] not in [course["title"] for course in approved["courses"]]

    assert "A new course: there is no approved version to compare with." in step(steps, "new course")["changes"]
    assert step(steps, "no reason")["notice"].startswith("Not sent back: say what the designers must change")
    sent_back = step(steps, "sent back")
    assert sent_back["notice"] == (f"“{rejected['description']['title']}”, version 1, is sent back to its designers "
                                   "with your reasons.")
    own_page = step(steps, "own course")
    assert "You designed this version, so you may not review it" in own_page["fourEyes"]
    assert own_page["forms"] == 0, "no approve or send-back buttons for the course's own designer"

    # What the pages did is what the catalogue holds, under the identity Keycloak attests.
    held = node.ok("GET", "catalogue", f"/courses/{first['id']}")
    assert (held["version"], held["status"], held["reviewed_by"]) == (2, "approved", THOMAS.id)
    held = node.ok("GET", "catalogue", f"/courses/{rejected['id']}")
    assert (held["status"], held["reviewed_by"], held["rejection_reasons"]) == ("rejected", THOMAS.id, reasons)
    assert node.ok("GET", "catalogue", f"/courses/{own['id']}")["status"] == "submitted"
    assert node.ok("GET", "catalogue", f"/courses/{elsewhere['id']}")["status"] == "submitted"
    assert serious_violations(steps) == {}


JULIA = demo_user("julia.becker")  # A course designer of Saarland University.


def test_a_designer_describes_a_course_with_every_field_fixes_the_rules_she_broke_and_qa_approves_it_twice(
    front_end: FrontEnd,
) -> None:
    """Through the pages only: Julia describes, is told the rules she broke next to their fields, saves and submits;
    Thomas finds it by names, approves; she revises it; he reads what changed, field by field, and approves again."""
    title = f"Green Hydrogen Valleys {uuid.uuid4().hex[:6]}"
    fields = {
        "title": title, "short_description": "Regional hydrogen economies, from electrolysis to the grid.",
        "learning_outcomes": "Size an electrolyser for a regional demand\nAssess a hydrogen valley's business case",
        "languages": "en", "ects": "3", "workload_hours": "75", "eqf_level": "6",
        "type_of_assessment": "Written case study and oral defence", "form_of_participation": "blended",
        "type_of_quality_assurance": "Internal quality assurance of Saarland University (system-accredited)",
        "awarding_bodies-0-name": "Saarland University", "awarding_bodies-0-country": "DE",
        "awarding_bodies-0-url": "https://www.uni-saarland.de",
        "prerequisites": "Basic thermodynamics", "identity_verification": "supervised-online",
        "stackability": "stackable", "contact": "microcredentials@uni-saarland.de",
        "accepts_declared_qualification": True,
        "faculty": "Faculty of Natural Sciences and Technology", "target_groups": "Master students\nEngineers",
        "participants_obligations": "Attend the three online workshops", "competences": "Systems thinking",
        "skills": "http://data.europa.eu/esco/skill/5c0d0a4c-e3a8-4d36-9d9a-a5e2d7e6a9f1",
        "literature": "IEA, Global Hydrogen Review (2025)", "course_leaders": "Prof. Dr. Maria Schmidt",
        "lecturers": "Dr. Jan Novak\nDr. Ana Petrova",
        "pace": "time-bound", "access": "limited", "max_participants": "25", "funding": "alliance-funded",
        "funding_note": "Free for the alliance's students", "curriculum_inclusion": ["elective", "extracurricular"],
        "application_and_selection": "Apply on the alliance's catalogue; first come, first served",
        "recognition_of_results": "3 ECTS recognised by every member university",
        "sustainability": "Run each winter semester from the faculty's budget",
        "student_support": "Weekly online office hours with a tutor",
        "teacher_support": "Didactics training at the university's teaching centre",
        "infrastructure": "A laptop with a webcam; the hydrogen lab for the site visit",
        "qa_data_collected": "Learners' and partner firms' evaluations after each run",
    }
    broken = {"funding": "other", "funding_note": "", "workload_hours": "40", "languages": "en, english"}
    fixed = {"funding": "alliance-funded", "funding_note": fields["funding_note"], "workload_hours": "75",
             "languages": "en, de"}
    revision = {"funding": "free", "funding_note": "", "curriculum_inclusion": ["compulsory", "elective"],
                "sustainability": "Part of the alliance's shared offer until 2030"}

    steps = browse("designer-describes.mjs", front_end, timeout=600,
                   designer={"username": JULIA.username, "password": JULIA.password},
                   qa={"username": THOMAS.username, "password": THOMAS.password},
                   fields=fields, broken=broken, fixed=fixed, revision=revision)

    assert step(steps, "my courses")["heading"] == "My courses"
    form = step(steps, "form")
    every_element = set(MicroCredentialDescription.model_fields) - {"awarding_bodies"}
    assert every_element <= set(form["fields"]), f"not in the form: {every_element - set(form['fields'])}"
    assert {"awarding_bodies-0-id", "awarding_bodies-1-name"} <= set(form["fields"])
    assert "Activity description" in form["sections"] and "The T4EU course template" in form["sections"]

    refused = step(steps, "refused")
    rules = {item["field"]: item["rules"] for item in refused["atFields"]}
    assert rules == {
        "funding_note": ["T4EU policy: say how other funding works"],
        "workload_hours": ["T4EU policy: 25 hours per ECTS (±20%), so about 75 hours for 3 ECTS"],
        "languages": ["T4EU policy: an ISO 639-1 language code, not 'english'"],
    }
    assert all(item["invalid"] == "true" for item in refused["atFields"]), "each broken field is marked invalid"
    assert sorted(item["field"] for item in refused["summary"]) == sorted(rules), "and listed above the form"
    assert refused["kept"] == title, "what she typed is kept"

    saved = step(steps, "saved")
    assert saved["notice"] == f"Draft saved: “{title}”, version 1."
    course_id = saved["url"].rstrip("/").rsplit("/", 1)[-1]
    submitted = step(steps, "submitted")
    assert submitted["notice"] == (f"“{title}”, version 1, is submitted: a QA officer of the lead institution "
                                   "reviews it.")
    assert title in submitted["submitted"]

    row = next(course for course in step(steps, "queue")["courses"] if course["title"] == title)
    assert (row["lead"], row["designedBy"]) == ("Saarland University", JULIA.name)
    assert row["submitted"].endswith(f"by {JULIA.name}") and JULIA.id not in str(row)
    first = step(steps, "new course")
    assert (first["designedBy"], first["lead"]) == (JULIA.name, "Saarland University")
    assert first["submittedBy"].startswith(JULIA.name)
    assert "Someone else designed and submitted this version" in first["fourEyes"]
    assert step(steps, "approved")["notice"] == f"“{title}”, version 1, is approved: it is in the catalogue now."

    assert step(steps, "revision saved")["notice"] == f"Draft saved: “{title}”, version 2."
    changed = step(steps, "revision")
    assert [row["field"] for row in changed["changed"]] == [
        "funding", "funding_note", "curriculum_inclusion", "sustainability"]
    by_field = {row["field"]: row for row in changed["changed"]}
    assert (by_field["funding"]["before"], by_field["funding"]["after"]) == (
        "alliance or project funded", "free of charge, funded by the university")
    assert by_field["sustainability"]["after"] == revision["sustainability"]
    assert changed["designedBy"] == JULIA.name
    assert step(steps, "revision approved")["notice"] == (
        f"“{title}”, version 2, is approved: it is in the catalogue now.")

    # What the pages did is what the catalogue holds: every field as typed, the people as Keycloak named them.
    versions = front_end.node.ok("GET", "catalogue", f"/courses/{course_id}/versions")
    assert [(v["version"], v["status"]) for v in versions] == [(1, "approved"), (2, "approved")]
    first_version, second = versions[0], versions[1]
    assert (first_version["designed_by"], first_version["designed_by_name"]) == (JULIA.id, JULIA.name)
    assert (second["reviewed_by"], second["reviewed_by_name"]) == (THOMAS.id, THOMAS.name)
    held = first_version["description"]
    assert held["awarding_bodies"] == [{"id": "uni-saarland", "name": "Saarland University", "country": "DE",
                                        "url": "https://www.uni-saarland.de"}]
    assert (held["languages"], held["ects"], held["workload_hours"], held["eqf_level"]) == (["en", "de"], 3, 75, 6)
    assert held["learning_outcomes"] == fields["learning_outcomes"].split("\n")
    assert held["lecturers"] == ["Dr. Jan Novak", "Dr. Ana Petrova"]
    assert (held["access"], held["max_participants"], held["funding"]) == ("limited", 25, "alliance-funded")
    assert held["accepts_declared_qualification"] is True
    for name in ("pace", "funding_note", "application_and_selection", "recognition_of_results", "sustainability",
                 "student_support", "teacher_support", "infrastructure", "qa_data_collected", "identity_verification",
                 "type_of_quality_assurance", "faculty", "participants_obligations", "contact"):
        assert held[name] == fields[name], name
    assert held["curriculum_inclusion"] == ["elective", "extracurricular"]
    assert second["description"]["funding"] == "free" and second["description"]["funding_note"] is None
    assert serious_violations(steps) == {}


async def _sessions(front_end: FrontEnd, stack: Stack, statement: str, *values: Any) -> Any:
    url = make_url(stack.database_url).set(drivername="postgresql", database=f"{stack.database_prefix}_web_web")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        return await connection.fetch(statement, *values)
    finally:
        await connection.close()


def test_a_session_ends_when_idle_too_long_and_when_the_provider_ends_it(front_end: FrontEnd, stack: Stack) -> None:
    """The same cookie: signed in while the session is fresh; signed out, told so, once it has idled too long; and
    signed out when the identity provider refuses to refresh its tokens."""
    cookie, now = domain.random_token(), utcnow()
    claims = {"sub": ANA.id, "name": ANA.name, "roles": ["learner"], "institution": ANA.institution}
    # A token of the right shape; no page here calls a service with it.
    token = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                     for part in ({"alg": "none"}, claims)) + ".unsigned"

    def session_row(last_seen: timedelta, access_expires: timedelta, refresh_token: str | None) -> None:
        asyncio.run(_sessions(front_end, stack, "DELETE FROM sessions WHERE id = $1", domain.session_id(cookie)))
        asyncio.run(_sessions(
            front_end, stack,
            "INSERT INTO sessions (id, subject, claims, access_token, access_expires_at, refresh_token, id_token, "
            "created_at, last_seen_at) VALUES ($1, $2, $3::jsonb, $4, $5, $6, 'not-used', $7, $8)",
            domain.session_id(cookie), ANA.id, json.dumps(claims), token, now + access_expires, refresh_token,
            now - last_seen, now - last_seen,
        ))

    def home() -> httpx.Response:
        return httpx.get(f"{front_end.url}/", headers={"Cookie": f"mc_browser={cookie}"})

    session_row(timedelta(minutes=1), timedelta(minutes=5), None)
    assert "Signed in as Ana Horvat" in home().text
    # A learner's session opens no QA officer's page, nor does the menu offer one; nobody signed in is sent to sign in.
    queue = httpx.get(f"{front_end.url}/qa/courses", headers={"Cookie": f"mc_browser={cookie}"})
    assert queue.status_code == 403 and "This page is for people with the role qa-officer." in queue.text
    assert 'href="/qa/courses"' not in home().text
    anonymous = httpx.get(f"{front_end.url}/qa/courses")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in?next=")

    session_row(timedelta(minutes=31), timedelta(minutes=5), None)
    ended = home()
    assert "Signed in as" not in ended.text and "Your session has ended. Please sign in again." in ended.text
    assert ended.cookies.get("mc_browser") not in (None, cookie), "the browser gets a new cookie"
    assert not asyncio.run(_sessions(front_end, stack, "SELECT id FROM sessions WHERE id = $1", domain.session_id(cookie)))

    # The access token has expired and Keycloak does not know the refresh token: the provider's session is over.
    session_row(timedelta(minutes=1), timedelta(minutes=-1), "not-a-refresh-token-keycloak-issued")
    refused = home()
    assert "Signed in as" not in refused.text and "Your session has ended" in refused.text


@pytest.mark.parametrize("language", ["en", "de", "fr", "bg", "it", "lt"])
def test_every_page_speaks_the_readers_language(front_end: FrontEnd, offering: dict[str, Any], language: str) -> None:
    """Chosen from the browser's Accept-Language: the page's lang, its title and its words are the language's."""
    catalog = read_catalog(language) if language != "en" else None

    def said(english: str) -> str:
        return catalog[english].string if catalog is not None else english

    pages = {"/": "Micro-credentials of the alliance", "/catalogue": "Catalogue", "/verify": "Verify a micro-credential"}
    for path, heading in pages.items():
        page = httpx.get(f"{front_end.url}{path}", headers={"Accept-Language": f"{language},en;q=0.5"})
        assert page.status_code == 200
        assert f'<html lang="{language}">' in page.text and page.headers["content-language"] == language
        assert f"<h1>{escape(said(heading))}</h1>" in page.text
    detail = httpx.get(f"{front_end.url}/catalogue/{offering['id']}", headers={"Accept-Language": language})
    # Translations are the site's own text, put into the page as they are; what services say is escaped.
    assert said("Learning outcomes") in detail.text and said("Sign in to apply") in detail.text
