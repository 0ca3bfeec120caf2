"""The enrolment service on the real Kafka and PostgreSQL: learners apply to offerings the catalogue opened.

The catalogue's and certification's events are produced here onto Kafka, as those services would publish them; the
service builds its read models from them and publishes its own events through its outbox.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.enrolment.app import create_service
from services.enrolment.settings import EnrolmentSettings
from shared.auth import Affiliation, Role
from shared.events import CloudEvent, Event, Topic
from shared.events.catalogue import (
    AwardingBody,
    CourseApproved,
    CourseRetired,
    DeliveryMode,
    FormOfParticipation,
    MicroCredentialDescription,
    OfferingOpened,
    Pace,
)
from shared.events.certification import CredentialIssued
from shared.events.common import LearnerCategory, LearnerIdentity, Money
from tests.integration.conftest import eventually, running
from tests.stack import NODE_URI, Stack, cloud_event, produce, read_topic

pytestmark = pytest.mark.integration

INSTITUTION = "uni-saarland"
SAARLAND = AwardingBody(id=INSTITUTION, name="Saarland University", country="DE")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- what the catalogue and certification publish ---


async def publish(stack: Stack, event: Event) -> None:
    """Onto Kafka as the producing service would: a structured CloudEvent keyed by its aggregate."""
    await produce(stack, event.topic, CloudEvent.wrap(event, source=NODE_URI).to_bytes(), key=event.key)


def course_approved(course_id: str, prerequisites: list[str] | None = None, accepts_declared: bool = False) -> CourseApproved:
    description = MicroCredentialDescription(
        title=f"Circular Economy in Practice ({course_id})",
        awarding_bodies=[SAARLAND],
        learning_outcomes=["Map the material flows of a regional value chain"],
        languages=["en"],
        ects=3,
        type_of_assessment="Project report",
        form_of_participation=FormOfParticipation.BLENDED,
        type_of_quality_assurance="Internal quality assurance of Saarland University",
        target_groups=["BA students", "professionals"],
        prerequisite_course_ids=prerequisites or [],
        accepts_declared_qualification=accepts_declared,
    )
    return CourseApproved(
        course_id=course_id, version=1, description=description, approved_by="qa@uni-saarland.de", approved_at=datetime.now(UTC)
    )


def offering_opened(course_id: str, **terms: Any) -> OfferingOpened:
    now = datetime.now(UTC)
    defaults: dict[str, Any] = {
        "offering_id": unique("offering"),
        "course_id": course_id,
        "course_version": 1,
        "title": f"Circular Economy in Practice ({course_id}), spring term",
        "institution": INSTITUTION,
        "delivery_mode": DeliveryMode.BLENDED,
        "pace": Pace.TIME_BOUND,
        "registration_opens_at": now - timedelta(hours=1),
        "registration_closes_at": now + timedelta(days=14),
    }
    return OfferingOpened(**(defaults | terms))


def credential_issued(learner_id: str, course_id: str) -> CredentialIssued:
    return CredentialIssued(
        credential_id=unique("credential"),
        learner_id=learner_id,
        learner=LearnerIdentity(learner_id=learner_id, name="Tomas Novak", email=f"{uuid.uuid4().hex[:8]}@example.eu"),
        course_id=course_id,
        course_version=1,
        title="Research Data Basics",
        awarding_bodies=[SAARLAND],
        issued_at=datetime.now(UTC),
        credential_url=f"https://mc.uni-saarland.de/credentials/{course_id}",
    )


async def open_offering(stack: Stack, client: httpx.AsyncClient, course: CourseApproved | None = None, **terms: Any) -> dict:
    """A course approved and an offering of it opened, once the enrolment service knows both."""
    course = course or course_approved(unique("course"))
    offering = offering_opened(course.course_id, **terms)
    await publish(stack, course)
    await publish(stack, offering)
    return await eventually(lambda: known_offering(client, offering.offering_id))


async def known_offering(client: httpx.AsyncClient, offering_id: str, retired: bool = False) -> dict | None:
    response = await client.get(f"/offerings/{offering_id}")
    if response.status_code == 200 and response.json()["course_known"] and response.json()["course_retired"] == retired:
        return response.json()
    return None


# --- people ---


def registrar(stack: Stack, institution: str = INSTITUTION) -> dict[str, str]:
    return stack.bearer(f"registrar@{institution}", Role.REGISTRAR, institution=institution)


# Learners' home universities: one in the alliance (EnrolmentSettings.alliance_institutions), one outside it.
ALLIANCE_UNIVERSITY, OUTSIDE_UNIVERSITY = "upr", "uni-elsewhere"
CLAIMS = {
    LearnerCategory.ALLIANCE_STUDENT: ([Affiliation.STUDENT], ALLIANCE_UNIVERSITY),
    LearnerCategory.ALLIANCE_STAFF: ([Affiliation.STAFF], ALLIANCE_UNIVERSITY),
    LearnerCategory.EXTERNAL: ([Affiliation.STUDENT], OUTSIDE_UNIVERSITY),
}


def learner_token(
    stack: Stack, learner_id: str, category: LearnerCategory = LearnerCategory.ALLIANCE_STUDENT, **claims: Any
) -> dict[str, str]:
    """A learner's token as their identity provider issues it: what makes them an alliance student, alliance staff or
    external is their affiliation and their home university."""
    affiliation, institution = CLAIMS[category]
    attested = {"name": "Ana Horvat", "email": f"{learner_id}@learners.example.eu"} | claims
    return stack.bearer(learner_id, Role.LEARNER, institution=institution, affiliation=affiliation, **attested)


async def registered(
    stack: Stack,
    client: httpx.AsyncClient,
    category: LearnerCategory = LearnerCategory.ALLIANCE_STUDENT,
    name: str = "Ana Horvat",
    **choices: Any,
) -> tuple[str, dict[str, str]]:
    """A learner who registered themself (`choices`: what the body may say): their id and their Authorization header."""
    learner_id = unique("learner")
    headers = learner_token(stack, learner_id, category, name=name)
    response = await client.post("/learners", json=choices, headers=headers)
    assert response.status_code == 201, response.text
    return learner_id, headers


async def apply(client: httpx.AsyncClient, headers: dict[str, str], offering_id: str, **extra: Any) -> httpx.Response:
    return await client.post("/applications", json={"offering_id": offering_id} | extra, headers=headers)


async def published_for(stack: Stack, offering_id: str, count: int, timeout: float = 30.0) -> list[dict]:
    """The enrolment events about an offering on Kafka, in order, once there are `count` of them."""

    def about(records: list) -> list[dict]:
        return [e for e in map(cloud_event, records) if e["data"].get("offering_id") == offering_id]

    return about(await read_topic(stack, Topic.ENROLMENTS, until=lambda rs: len(about(rs)) >= count, timeout=timeout))


def kind(event: dict) -> str:
    """`enrolled`, `waitlisted` or `withdrawn`, from the CloudEvent's type."""
    return event["type"].split(".")[-2]


@pytest.fixture(scope="module")
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_service(stack.settings(EnrolmentSettings))) as client:
        yield client


# --- the tests ---


async def test_learners_register_themselves_once_and_only_they_or_a_registrar_see_their_record(stack, client):
    learner_id, headers = await registered(
        stack, client, LearnerCategory.EXTERNAL, esi="urn:schac:personalUniqueCode:int:esi:si:27000123"
    )
    again = await client.post("/learners", headers=headers, json={})
    assert again.status_code == 409 and "registered already" in again.json()["detail"]

    mine = await client.get(f"/learners/{learner_id}", headers=headers)
    assert mine.status_code == 200 and mine.json()["category"] == "external" and mine.json()["held_course_ids"] == []
    # A registrar reads the learners who applied to their institution's offerings, and no others.
    assert (await client.get(f"/learners/{learner_id}", headers=registrar(stack))).status_code == 403
    offering = await open_offering(stack, client)
    assert (await apply(client, headers, offering["id"])).status_code == 201
    assert (await client.get(f"/learners/{learner_id}", headers=registrar(stack))).status_code == 200
    elsewhere = await client.get(f"/learners/{learner_id}", headers=registrar(stack, "uni-sofia"))
    assert elsewhere.status_code == 403 and "uni-sofia" in elsewhere.json()["detail"]
    _, stranger = await registered(stack, client)
    assert (await client.get(f"/learners/{learner_id}", headers=stranger)).status_code == 403

    assert (await client.post("/learners", json={})).status_code == 401
    assert (await client.post("/learners", json={}, headers=registrar(stack))).status_code == 403
    bad_esi = {"esi": "ESI-27000123"}
    response = await client.post("/learners", json=bad_esi, headers=learner_token(stack, unique("learner")))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "esi"


async def test_who_a_learner_is_comes_from_their_token_and_follows_it(stack, client):
    learner_id = unique("learner")
    declared = {"name": "Mallory", "email": "mallory@example.eu", "category": "alliance-student"}
    refused = await client.post("/learners", json=declared, headers=learner_token(stack, learner_id))
    assert refused.status_code == 422
    assert {tuple(error["loc"]) for error in refused.json()["detail"]} == {
        ("body", "name"), ("body", "email"), ("body", "category")
    }
    nameless = stack.bearer(learner_id, Role.LEARNER, institution=ALLIANCE_UNIVERSITY)
    no_email = await client.post("/learners", json={}, headers=nameless)
    assert no_email.status_code == 403 and "email" in no_email.json()["detail"]

    esi = "urn:schac:personalUniqueCode:int:esi:si:63000123"
    outside = learner_token(stack, learner_id, LearnerCategory.EXTERNAL, name="Jana Novak", esi=esi)
    answer = await client.post("/learners", json={"esi": "urn:schac:personalUniqueCode:int:esi:si:1"}, headers=outside)
    assert answer.status_code == 201, answer.text
    record = answer.json()
    assert (record["name"], record["email"], record["home_institution"], record["category"], record["esi"]) == (
        "Jana Novak", f"{learner_id}@learners.example.eu", OUTSIDE_UNIVERSITY, "external", esi
    )

    # She becomes staff of an alliance university and marries: her next request carries the new claims.
    offering = await open_offering(stack, client, fee=Money(amount=90, currency="EUR"), open_to=[LearnerCategory.ALLIANCE_STAFF])
    assert (await apply(client, outside, offering["id"])).status_code == 403
    now_staff = learner_token(stack, learner_id, LearnerCategory.ALLIANCE_STAFF, name="Jana Horvat", email="jana@upr.si")
    placed = await apply(client, now_staff, offering["id"])
    assert placed.status_code == 201 and placed.json()["fee_status"] == "waived"
    [enrolled] = await published_for(stack, offering["id"], count=1)
    assert enrolled["data"]["learner"].items() >= {
        "name": "Jana Horvat", "email": "jana@upr.si", "home_institution": ALLIANCE_UNIVERSITY,
        "category": "alliance-staff", "esi": esi,
    }.items()
    me = (await client.get(f"/learners/{learner_id}", headers=now_staff)).json()
    assert (me["name"], me["category"]) == ("Jana Horvat", "alliance-staff")


async def test_a_withdrawal_promotes_the_first_in_line_and_moves_the_waitlist_up(stack, client):
    offering = await open_offering(stack, client, capacity=2)
    people = [await registered(stack, client) for _ in range(5)]
    answers = [await apply(client, headers, offering["id"]) for _, headers in people]
    assert [a.status_code for a in answers] == [201, 201, 202, 202, 202]
    assert [a.json()["position"] for a in answers[2:]] == [1, 2, 3]
    first, second, third, fourth, fifth = (a.json()["id"] for a in answers)

    withdrawn = await client.post(f"/applications/{first}/withdraw", headers=people[0][1])
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    promoted = (await client.get(f"/applications/{third}", headers=people[2][1])).json()
    assert (promoted["status"], promoted["position"], promoted["promoted_from_waitlist"]) == ("enrolled", None, True)
    again = await client.post(f"/applications/{first}/withdraw", headers=people[0][1])
    assert again.status_code == 409 and "withdrawn already" in again.json()["detail"]

    # A waitlisted learner withdrawn by their registrar: those behind move up.
    assert (await client.post(f"/applications/{fourth}/withdraw", headers=registrar(stack))).status_code == 200
    waitlist = (await client.get("/applications", params={"offering_id": offering["id"], "status": "waitlisted"},
                                 headers=registrar(stack))).json()
    assert [(a["id"], a["position"]) for a in waitlist] == [(fifth, 1)]
    counts = (await client.get(f"/offerings/{offering['id']}")).json()
    assert (counts["enrolled"], counts["waitlisted"], counts["places_left"]) == (2, 1, 0)

    # Keyed by application, so each application's events are in order (across applications, partitions interleave).
    events = await published_for(stack, offering["id"], count=8)
    story: dict[str, list[tuple[str, Any]]] = {}
    for event in events:
        data = event["data"]
        detail = data.get("position") or data.get("promoted_from_waitlist", data.get("was_enrolled"))
        story.setdefault(data["enrolment_id"], []).append((kind(event), detail))
    assert story == {
        first: [("enrolled", False), ("withdrawn", True)],
        second: [("enrolled", False)],
        third: [("waitlisted", 1), ("enrolled", True)],
        fourth: [("waitlisted", 2), ("withdrawn", False)],
        fifth: [("waitlisted", 3)],
    }

    # Having withdrawn, a learner may apply again: at the end of the line.
    back = await apply(client, people[0][1], offering["id"])
    assert back.status_code == 202 and back.json()["position"] == 2 and back.json()["id"] != first


async def test_an_external_learner_owes_the_fee_an_alliance_student_does_not_and_a_registrar_records_payment(stack, client):
    offering = await open_offering(stack, client, fee=Money(amount=150, currency="EUR"))
    external_id, external = await registered(stack, client, LearnerCategory.EXTERNAL)
    _, student = await registered(stack, client, LearnerCategory.ALLIANCE_STUDENT)

    charged = await apply(client, external, offering["id"])
    free = await apply(client, student, offering["id"])
    assert charged.status_code == 201 and free.status_code == 201, "no capacity: no limit"
    assert (charged.json()["fee_status"], charged.json()["fee"]) == ("due", {"amount": 150.0, "currency": "EUR"})
    assert free.json()["fee_status"] == "waived"

    fee_path = f"/applications/{charged.json()['id']}/fee"
    assert (await client.post(fee_path, json={"status": "paid"}, headers=external)).status_code == 403
    elsewhere = await client.post(fee_path, json={"status": "paid"}, headers=registrar(stack, "uni-sofia"))
    assert elsewhere.status_code == 403 and INSTITUTION in elsewhere.json()["detail"]
    assert (await client.post(fee_path, json={"status": "due"}, headers=registrar(stack))).status_code == 422
    paid = await client.post(fee_path, json={"status": "paid"}, headers=registrar(stack))
    assert paid.status_code == 200 and paid.json()["fee_status"] == "paid"
    mine = (await client.get("/applications", headers=external)).json()
    assert [(a["id"], a["fee_status"]) for a in mine] == [(charged.json()["id"], "paid")]

    events = await published_for(stack, offering["id"], count=2)
    by_learner = {e["data"]["learner"]["learner_id"]: e["data"] for e in events}
    assert (by_learner[external_id]["fee"], by_learner[external_id]["fee_status"]) == (
        {"amount": 150.0, "currency": "EUR"},
        "due",
    )
    assert by_learner[external_id]["learner"]["category"] == "external"


async def test_a_missing_prerequisite_is_refused_until_the_learner_holds_its_credential(stack, client):
    basics = unique("course-basics")
    await publish(stack, course_approved(basics))
    offering = await open_offering(stack, client, course_approved(unique("course-advanced"), prerequisites=[basics]))
    learner_id, headers = await registered(stack, client)

    refused = await apply(client, headers, offering["id"])
    assert refused.status_code == 403 and f"missing prerequisites for course {offering['course_id']}: {basics}" in refused.text
    assert (await client.get("/applications", headers=headers)).json() == [], "nothing written on a refusal"

    await publish(stack, credential_issued(learner_id, basics))
    await eventually(lambda: holds(client, headers, learner_id, basics))
    accepted = await apply(client, headers, offering["id"])
    assert accepted.status_code == 201 and accepted.json()["status"] == "enrolled"


async def holds(client: httpx.AsyncClient, headers: dict[str, str], learner_id: str, course_id: str) -> bool:
    return course_id in (await client.get(f"/learners/{learner_id}", headers=headers)).json()["held_course_ids"]


async def test_a_declared_qualification_stands_in_where_the_course_accepts_one(stack, client):
    course = course_approved(unique("course"), prerequisites=[unique("course-basics")], accepts_declared=True)
    offering = await open_offering(stack, client, course)
    _, headers = await registered(stack, client)
    assert (await apply(client, headers, offering["id"])).status_code == 403
    accepted = await apply(client, headers, offering["id"], declared_qualification="MSc Chemistry, Univ. of Ljubljana")
    assert accepted.status_code == 201 and accepted.json()["declared_qualification"].startswith("MSc Chemistry")


async def test_refusals_name_their_reason_and_write_nothing(stack, client):
    now = datetime.now(UTC)
    opens, closes = now - timedelta(days=10), now - timedelta(days=1)
    closed = await open_offering(stack, client, registration_opens_at=opens, registration_closes_at=closes)
    alliance_only = await open_offering(stack, client, open_to=[LearnerCategory.ALLIANCE_STUDENT, LearnerCategory.ALLIANCE_STAFF])
    _, headers = await registered(stack, client, LearnerCategory.EXTERNAL)

    late = await apply(client, headers, closed["id"])
    assert late.status_code == 409
    assert f"opens {opens.isoformat()}" in late.json()["detail"] and f"closes {closes.isoformat()}" in late.json()["detail"]

    unknown = await apply(client, headers, unique("offering"))
    assert unknown.status_code == 404 and "no offering" in unknown.json()["detail"]

    outsider = await apply(client, headers, alliance_only["id"])
    assert outsider.status_code == 403
    assert "open to alliance-student, alliance-staff; this learner is external" in outsider.json()["detail"]

    unregistered = await apply(client, stack.bearer(unique("learner"), Role.LEARNER), alliance_only["id"])
    assert unregistered.status_code == 409 and "POST /learners" in unregistered.json()["detail"]
    assert (await apply(client, registrar(stack), alliance_only["id"])).status_code == 403, "registrars do not apply"
    assert (await client.post("/applications", json={"offering_id": alliance_only["id"]})).status_code == 401
    assert (await client.get("/applications")).status_code == 401

    assert (await client.get("/applications", headers=headers)).json() == []
    counts = (await client.get(f"/offerings/{alliance_only['id']}")).json()
    assert (counts["enrolled"], counts["waitlisted"]) == (0, 0)


async def test_a_learner_sees_and_withdraws_only_their_own_applications(stack, client):
    offering = await open_offering(stack, client, capacity=5)
    owner_id, owner = await registered(stack, client)
    _, other = await registered(stack, client)
    application = (await apply(client, owner, offering["id"])).json()
    path = f"/applications/{application['id']}"

    assert (await client.get(path, headers=other)).status_code == 403
    assert (await client.post(f"{path}/withdraw", headers=other)).status_code == 403
    assert (await client.get("/applications", params={"learner_id": owner_id}, headers=other)).status_code == 403
    assert (await client.get(path, headers=registrar(stack, "uni-sofia"))).status_code == 403
    assert (await client.post(f"{path}/withdraw", headers=registrar(stack, "uni-sofia"))).status_code == 403
    assert (await client.get(path, headers=owner)).json()["status"] == "enrolled"
    assert (await client.get(path, headers=registrar(stack))).json()["learner_id"] == owner_id
    assert (await client.get(f"/applications/{unique('application')}", headers=owner)).status_code == 404


async def test_applying_twice_even_at_the_same_moment_gives_one_place(stack, client):
    offering = await open_offering(stack, client, capacity=3)
    _, headers = await registered(stack, client)
    answers = await asyncio.gather(*(apply(client, headers, offering["id"]) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert all("already" in a.json()["detail"] for a in answers if a.status_code == 409)
    assert len((await client.get("/applications", headers=headers)).json()) == 1


async def test_a_retired_course_takes_no_new_applications(stack, client):
    course = course_approved(unique("course"))
    offering = await open_offering(stack, client, course)
    await publish(stack, CourseRetired(course_id=course.course_id, version=1, retired_by="qa@uni-saarland.de"))
    await eventually(lambda: known_offering(client, offering["id"], retired=True))
    _, headers = await registered(stack, client)
    refused = await apply(client, headers, offering["id"])
    assert refused.status_code == 409 and "retired" in refused.json()["detail"]


async def test_the_read_models_take_each_fact_once_and_the_latest_terms_of_an_offering(stack, client):
    course = course_approved(unique("course"))
    offering = offering_opened(course.course_id, capacity=1)
    delivered = CloudEvent.wrap(offering, source=NODE_URI).to_bytes()
    await publish(stack, course)
    await publish(stack, course)  # Published again under a new id: the approved version stays as it was.
    await produce(stack, offering.topic, delivered, key=offering.key)
    await produce(stack, offering.topic, delivered, key=offering.key)  # Redelivered: the same id.
    await publish(stack, offering.model_copy(update={"capacity": 2}))
    await eventually(lambda: has_capacity(client, offering.offering_id, 2))

    assert [o["id"] for o in (await client.get("/offerings", params={"course_id": course.course_id})).json()] == [
        offering.offering_id
    ]
    answers = [await apply(client, (await registered(stack, client))[1], offering.offering_id) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 202]


async def has_capacity(client: httpx.AsyncClient, offering_id: str, capacity: int) -> bool:
    response = await client.get(f"/offerings/{offering_id}")
    return response.status_code == 200 and response.json()["course_known"] and response.json()["capacity"] == capacity


async def test_a_registrar_lists_the_offerings_their_institution_runs_and_no_others(stack, client):
    """The registrar's offerings page asks for its institution's offerings only (`institution`)."""
    course = course_approved(unique("course"))
    own = await open_offering(stack, client, course)
    other_course = course_approved(unique("course"))
    other = await open_offering(stack, client, other_course, institution="uni-sofia")

    listed = (await client.get("/offerings", params={"institution": INSTITUTION})).json()
    assert own["id"] in [o["id"] for o in listed] and other["id"] not in [o["id"] for o in listed]
    assert {o["institution"] for o in listed} == {INSTITUTION}
    assert [o["id"] for o in (await client.get("/offerings", params={"institution": "uni-sofia"})).json()
            if o["course_id"] == other_course.course_id] == [other["id"]]
