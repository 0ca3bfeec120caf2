"""Joint courses with consent at each partner's node: the two nodes of test_alliance_endorsements (each a catalogue,
a certification service and a gateway on the real Kafka and PostgreSQL, following one signed registry). Node A
(Saarbrücken) leads; the University of Silesia consents at node B (Katowice), four eyes there too.

What a user would notice: A's QA approving a joint course leaves it waiting for Silesia's consent, not in any
catalogue; Silesia's QA sees the request at B, and once a designer recommended it and a different QA officer consented,
A's course is approved and B's catalogue lists it with both awarding bodies; a decline sends it back to A's designers
with Silesia's reason; a repeated answer changes nothing; a request from a node that does not host the lead is
dead-lettered with the reason; a withdrawal stops new offerings at A while the credential already issued stays valid,
and one issued after it (on the offering still open) stays incomplete with Silesia's reason; a revision asks again, showing what changed; and B's certification endorses no
credential of a course Silesia has not consented to."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from deploy.alliance_journey import consent_at
from deploy.journey import open_offering
from shared.auth import Role
from shared.events import CloudEvent, Topic, dead_letter_topic
from shared.events.alliance import ConsentGiven, ConsentRequested
from shared.events.catalogue import CourseApproved
from tests.integration.conftest import eventually
from tests.integration.test_alliance_endorsements import (  # noqa: F401 (alliance: the fixture)
    PRIMORSKA,
    SAARLAND,
    SILESIA,
    WAIT,
    alliance,
    approved_by_as_qa,
    arrived,
    committed_past,
    course_approved_at_a,
    course_submitted_at_a,
    credential_of,
    node_uri,
    passed_at_a,
    staff,
    status_at_a,
)
from services.certification.tests.test_domain import alliance_course
from tests.stack import header, produce

pytestmark = pytest.mark.integration


async def case_at_b(alliance, course_id: str, version: int = 1) -> dict[str, Any]:
    """The request to consent, as Silesia's QA sees it at B once it has come through both gateways."""

    async def probe() -> dict[str, Any] | None:
        found = (await alliance.catalogues["silesia"].get("/consents", params={"course_id": course_id})).json()
        return next((case for case in found if case["version"] == version), None)

    return await eventually(probe, timeout=WAIT)


def b_staff(alliance, role: Role, who: str = "") -> dict[str, str]:
    return staff(alliance, "silesia", role, "uni-silesia", who)


async def listed_at_b(alliance, course_id: str) -> dict[str, Any] | None:
    found = (await alliance.catalogues["silesia"].get("/alliance/courses", params={"page_size": 100})).json()
    return next((item for item in found["items"] if item["course_id"] == course_id), None)


async def test_a_joint_course_is_approved_only_once_the_partner_consents_at_its_own_node(alliance):
    course = await course_submitted_at_a(alliance, SAARLAND, SILESIA)
    course_id = course["id"]
    waiting = await approved_by_as_qa(alliance, course_id)
    assert waiting["status"] == "awaiting-consent"
    [asked] = (await alliance.catalogues["saarland"].get(f"/courses/{course_id}/consents")).json()
    assert (asked["institution"], asked["node"], asked["answer"]) == ("uni-silesia", "silesia", "requested")

    case = await case_at_b(alliance, course_id)
    assert (case["state"], case["lead_node"], case["institutions"]) == ("received", "saarland", ["uni-saarland", "uni-silesia"])
    assert case["description"]["title"] == course["description"]["title"]
    # Not approved yet: nothing in A's approved courses, nor in B's catalogue.
    assert (await status_at_a(alliance, course_id, "awaiting-consent"))["status"] == "awaiting-consent"
    assert await listed_at_b(alliance, course_id) is None

    # Four eyes at B: whoever recommended it may not also consent; a designer may not consent at all; another
    # university's QA officer may not act for Silesia.
    cases = alliance.catalogues["silesia"]
    recommender = b_staff(alliance, Role.QA_OFFICER, "ewa")
    assert (await cases.post(f"/consents/{case['id']}/recommend", headers=recommender)).status_code == 200
    same = await cases.post(f"/consents/{case['id']}/consent", headers=recommender)
    assert same.status_code == 403 and "recommended" in same.json()["detail"] and "four eyes" in same.json()["detail"]
    designer = await cases.post(f"/consents/{case['id']}/consent", headers=b_staff(alliance, Role.COURSE_DESIGNER))
    assert designer.status_code == 403
    foreign = await cases.post(f"/consents/{case['id']}/consent",
                               headers=staff(alliance, "silesia", Role.QA_OFFICER, "upr"))
    assert foreign.status_code == 403
    assert (await status_at_a(alliance, course_id, "awaiting-consent"))["status"] == "awaiting-consent"

    given = await cases.post(f"/consents/{case['id']}/consent", headers=b_staff(alliance, Role.QA_OFFICER, "jan"))
    assert given.status_code == 200 and given.json()["state"] == "consented"
    await status_at_a(alliance, course_id, "approved")
    listed = await eventually(lambda: listed_at_b(alliance, course_id), timeout=WAIT)
    assert listed["institutions"] == ["uni-saarland", "uni-silesia"]
    assert [body["id"] for body in listed["description"]["awarding_bodies"]] == ["uni-saarland", "uni-silesia"]

    # B's answer again (its gateway's retry, say): the course stays approved, announced once.
    a = alliance.nodes["saarland"].stack
    again = ConsentGiven(sender="silesia", recipient="saarland", course_id=course_id, course_version=1,
                         institution="uni-silesia", given_at=datetime.now(UTC))
    before = len(await arrived(a, Topic.ALLIANCE_INCOMING, again.key))
    await produce(alliance.nodes["silesia"].stack, Topic.ALLIANCE_OUTGOING,
                  CloudEvent.wrap(again, source=node_uri("silesia")).to_bytes(), again.key)
    answers = await arrived(a, Topic.ALLIANCE_INCOMING, again.key, count=before + 1)
    await eventually(lambda: committed_past(a, "mc-catalogue", answers[-1]), timeout=WAIT)
    events = [CloudEvent.model_validate_json(r.value).type for r in await arrived(a, Topic.COURSES, course_id, count=2)]
    assert events.count(CourseApproved.type) == 1
    assert (await alliance.catalogues["saarland"].get(f"/courses/{course_id}")).json()["status"] == "approved"


async def test_a_partners_decline_sends_the_course_back_to_its_designers_with_the_reason(alliance):
    course_id = (await course_submitted_at_a(alliance, SAARLAND, SILESIA))["id"]
    await approved_by_as_qa(alliance, course_id)
    case = await case_at_b(alliance, course_id)
    reason = "Silesia cannot staff the lab sessions in the winter term"
    declined = await alliance.catalogues["silesia"].post(
        f"/consents/{case['id']}/decline", json={"reason": reason}, headers=b_staff(alliance, Role.QA_OFFICER)
    )
    assert declined.status_code == 200 and declined.json()["state"] == "declined"
    rejected = await status_at_a(alliance, course_id, "rejected")
    assert rejected["rejection_reasons"] == [f"uni-silesia does not co-award this version: {reason}"]
    [asked] = (await alliance.catalogues["saarland"].get(f"/courses/{course_id}/consents")).json()
    assert (asked["answer"], asked["reason"]) == ("declined", reason)
    # Decided: consenting afterwards is refused.
    late = await alliance.catalogues["silesia"].post(f"/consents/{case['id']}/recommend", headers=b_staff(alliance, Role.QA_OFFICER))
    assert late.status_code == 409


async def test_a_request_from_a_node_that_does_not_host_the_lead_is_dead_lettered_with_the_reason(alliance):
    """Node A names the University of Primorska (node primorska's) as the lead: B's catalogue keeps no case."""
    b = alliance.nodes["silesia"].stack
    forged = ConsentRequested(
        sender="saarland", recipient="silesia", course_id=f"course-{uuid.uuid4().hex[:8]}", course_version=1,
        institution="uni-silesia", lead_institution="upr", institutions=["upr", "uni-silesia"],
        description=alliance_course().model_copy(update={"awarding_bodies": [PRIMORSKA, SILESIA]}),
    )
    a = alliance.nodes["saarland"].stack
    await produce(a, Topic.ALLIANCE_OUTGOING, CloudEvent.wrap(forged, source=node_uri("saarland")).to_bytes(), forged.key)
    [record] = await arrived(b, dead_letter_topic("catalogue"), forged.key)
    assert "the lead institution upr is hosted by node primorska, not by node saarland, which asked" in (
        header(record, "x-dead-letter-reason") or ""
    )
    found = (await alliance.catalogues["silesia"].get("/consents", params={"course_id": forged.course_id})).json()
    assert found == []


async def test_a_withdrawal_stops_new_offerings_and_leaves_the_credential_issued_valid(alliance):
    course_id = await course_approved_at_a(alliance, SAARLAND, SILESIA)
    a_catalogue = alliance.catalogues["saarland"]
    registrar = staff(alliance, "saarland", Role.REGISTRAR, "uni-saarland")
    assert (await a_catalogue.post("/offerings", json=open_offering(course_id), headers=registrar)).status_code == 201
    who = await passed_at_a(alliance, course_id)
    issued = await credential_of(alliance, who, complete=True)

    case = await case_at_b(alliance, course_id)
    reason = "The partnership agreement with Saarland ended"
    withdrawn = await alliance.catalogues["silesia"].post(
        f"/consents/{case['id']}/withdraw", json={"reason": reason}, headers=b_staff(alliance, Role.QA_OFFICER)
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"

    async def refused() -> dict[str, Any] | None:
        response = await a_catalogue.post("/offerings", json=open_offering(course_id), headers=registrar)
        assert response.status_code in (201, 409), response.text
        return response.json() if response.status_code == 409 else None

    refusal = await eventually(refused, timeout=WAIT)
    assert f"uni-silesia withdrew on {datetime.now(UTC):%Y-%m-%d}: {reason}" in refusal["detail"]
    # The credential issued before stays as it was, and valid at both nodes.
    assert (await credential_of(alliance, who))["credential"] == issued["credential"]
    for client in (alliance.saarland, alliance.silesia):
        verdict = (await client.post("/verify", json=issued["credential"])).json()
        assert verdict["valid"] and verdict["endorsed_by"] == ["University of Silesia in Katowice"], verdict

    # A learner passing afterwards, on the offering already open, gets a credential naming both universities (the
    # course she took) but not Silesia's endorsement: B's certification declines any credential issued from the second
    # of the withdrawal on (validFrom has whole seconds; issued within the same second as the withdrawal, it was once
    # endorsed). The learner sees it incomplete with B's reason; a verifier sees it valid, endorsed by no one.
    # B's certification takes in the withdrawal from its own catalogue (consented, then withdrawn, keyed by the
    # course) before the request comes: a request that overtook it would still be endorsed (README, Joint courses).
    b = alliance.nodes["silesia"].stack
    told = await arrived(b, Topic.COURSES, course_id, count=2)
    await eventually(lambda: committed_past(b, "mc-certification", told[-1]), timeout=WAIT)
    later = await passed_at_a(alliance, course_id)
    seen: dict[str, Any] = {}

    async def answered_by_b() -> dict[str, Any] | None:
        seen.update(await credential_of(alliance, later))
        requests = seen["endorsement_requests"]
        return seen if seen["complete"] or (requests and requests[0]["declined_reason"]) else None

    await eventually(answered_by_b, timeout=WAIT)
    vc = seen["credential"]
    assert (seen["complete"], seen["pending_endorsements"]) == (False, ["uni-silesia"]), (
        f"issued {vc['validFrom']}, withdrawn {withdrawn.json()['withdrawn_at']}: {seen['endorsement_requests']}"
    )
    [request] = seen["endorsement_requests"]
    assert f"uni-silesia withdrew from course {course_id} version 1" in request["declined_reason"]
    assert "endorsement" not in vc
    assert [body["id"] for body in seen["record"]["awarding_bodies"]] == ["uni-saarland", "uni-silesia"]
    for client in (alliance.saarland, alliance.silesia):
        verdict = (await client.post("/verify", json=vc)).json()
        assert verdict["valid"] and verdict["endorsed_by"] == [], verdict
    page = (await alliance.saarland.get("/verify", params={"id": seen["id"]})).text
    assert "not complete: University of Silesia in Katowice\ndeclined to endorse it (uni-silesia withdrew" in page, page
    assert "still awaited" not in page


async def test_a_revision_asks_the_partner_again_showing_what_changed(alliance):
    course_id = await course_approved_at_a(alliance, SAARLAND, SILESIA)
    a_catalogue = alliance.catalogues["saarland"]
    designer = staff(alliance, "saarland", Role.COURSE_DESIGNER, "uni-saarland")
    first = (await a_catalogue.get(f"/courses/{course_id}")).json()
    description = first["description"] | {"ects": first["description"]["ects"] + 1,
                                          "workload_hours": (first["description"]["ects"] + 1) * 25}
    revised = await a_catalogue.post(f"/courses/{course_id}/revisions", json={"description": description}, headers=designer)
    assert revised.status_code == 201, revised.text
    assert (await a_catalogue.post(f"/courses/{course_id}/submit", headers=designer)).status_code == 200
    assert (await approved_by_as_qa(alliance, course_id))["status"] == "awaiting-consent"

    case = await case_at_b(alliance, course_id, version=2)
    assert case["previous_version"] == 1
    read = (await alliance.catalogues["silesia"].get(f"/consents/{case['id']}")).json()
    assert "ects" in read["changes"] and "workload_hours" in read["changes"] and "title" not in read["changes"]
    assert read["previous_description"]["ects"] == first["description"]["ects"]
    # Version 1 stays approved (and offered) while version 2 waits.
    assert (await a_catalogue.get(f"/courses/{course_id}/versions/1")).json()["status"] == "approved"
    await asyncio.to_thread(consent_at, alliance.journeys["silesia"], course_id)
    await status_at_a(alliance, course_id, "approved", version=2)


async def test_a_partner_endorses_no_credential_of_a_course_it_has_not_consented_to(alliance):
    """A lead that skips consent (here: its course approval written straight onto its topic, as a lead's catalogue
    without consent would) gets no endorsement: B declines, naming why."""
    course_id = f"course-{uuid.uuid4().hex[:8]}"
    description = alliance_course().model_copy(update={"awarding_bodies": [SAARLAND, SILESIA]})
    event = CourseApproved(course_id=course_id, version=1, description=description, approved_by="qa@uni-saarland.de",
                           approved_at=datetime.now(UTC))
    a = alliance.nodes["saarland"].stack
    await produce(a, Topic.COURSES, CloudEvent.wrap(event, source=node_uri("saarland")).to_bytes(), event.key)
    [record] = await arrived(a, Topic.COURSES, event.key)
    await eventually(lambda: committed_past(a, "mc-certification", record), timeout=WAIT)
    who = await passed_at_a(alliance, course_id)

    async def declined() -> dict[str, Any] | None:
        current = await credential_of(alliance, who)
        requests = current["endorsement_requests"]
        return current if requests and requests[0]["declined_reason"] else None

    current = await eventually(declined, timeout=WAIT)
    assert current["complete"] is False and current["pending_endorsements"] == ["uni-silesia"]
    assert "uni-silesia has not consented, at this node, to co-award course" in (
        current["endorsement_requests"][0]["declined_reason"]
    )


async def test_a_partner_that_does_not_answer_is_asked_again(alliance):
    """Primorska's node never answers here: A asks again every CONSENT_RETRY_SECONDS (1 s in this test)."""
    course_id = (await course_submitted_at_a(alliance, SAARLAND, PRIMORSKA))["id"]
    await approved_by_as_qa(alliance, course_id)

    async def asked_again() -> dict[str, Any] | None:
        [asked] = (await alliance.catalogues["saarland"].get(f"/courses/{course_id}/consents")).json()
        return asked if asked["attempts"] >= 3 else None

    asked = await eventually(asked_again, timeout=WAIT)
    assert (asked["institution"], asked["node"], asked["answer"]) == ("upr", "primorska", "requested")
    assert (await alliance.catalogues["saarland"].get(f"/courses/{course_id}")).json()["status"] == "awaiting-consent"
