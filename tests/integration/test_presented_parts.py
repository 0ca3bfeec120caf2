"""Stacking across nodes, on the two in-process nodes of test_alliance_endorsements (each a certification service
served at its base URL and a gateway, on the real Kafka and PostgreSQL, following one signed registry): a learner
presents a credential of node A (Saarbrücken) for a programme of node B (Katowice); B checks it is hers and VALID,
and issues the programme credential listing it; refusals name the part and the rule; presenting again changes
nothing; A's revocation of the part reaches B as a message (B's schedule reads statuses only hourly here), and B
revokes the programme credential, naming the part; a part revoked without a word is found by the schedule."""

import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from services.certification.tests.test_domain import alliance_course
from shared.auth import Role
from shared.events import CloudEvent, Topic
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import CourseApproved, ProgrammeApproved, StackingRule, StackingRuleKind
from shared.events.common import LearnerIdentity
from tests.integration.conftest import eventually, running
from tests.integration.test_alliance_endorsements import (  # noqa: F401 (alliance: the fixture)
    NOW,
    SAARLAND,
    SILESIA,
    WAIT,
    alliance,
    arrived,
    committed_past,
    course_approved_at_a,
    credential_of,
    node_uri,
    passed_at_a,
)
from tests.stack import produce

pytestmark = pytest.mark.integration


async def programme_at_b(alliance, course_ids: list[str]) -> str:  # noqa: F811
    programme_id = f"programme-{uuid.uuid4().hex[:8]}"
    event = ProgrammeApproved(
        programme_id=programme_id, version=1, title=f"Certificate in Just Transitions {programme_id[-4:]}",
        awarding_bodies=[SILESIA], rule=StackingRule(kind=StackingRuleKind.ALL_OF, course_ids=course_ids),
        approved_by="qa@us.edu.pl", approved_at=NOW,
    )
    b = alliance.nodes["silesia"].stack
    await produce(b, Topic.PROGRAMMES, CloudEvent.wrap(event, source=node_uri("silesia")).to_bytes(), event.key)
    return programme_id


async def presented(client: httpx.AsyncClient, path: str, headers: dict[str, str], body: Any) -> httpx.Response:
    """Presented once B knows the programme (its ProgrammeApproved may still be on its way)."""

    async def probe() -> httpx.Response | None:
        response = await client.post(path, json=body, headers=headers)
        return None if response.status_code == 404 else response

    return await eventually(probe, timeout=WAIT)


async def test_a_credential_of_a_presented_at_b_completes_bs_programme_until_a_revokes_it(alliance):  # noqa: F811
    course_id = await course_approved_at_a(alliance, SAARLAND)
    who = await passed_at_a(alliance, course_id)
    vc = (await credential_of(alliance, who))["credential"]
    programme_id = await programme_at_b(alliance, [course_id])
    b, client = alliance.nodes["silesia"].stack, alliance.silesia
    path = f"/programmes/{programme_id}/presentations"
    # At B she is who her token says, under another id than A's.
    hers = b.bearer("zofia", Role.LEARNER, name=who.name, email=who.email)
    presentation = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"],
                    "verifiableCredential": [vc]}

    someone_else = b.bearer("eve", Role.LEARNER, name="Eve", email="eve@us.edu.pl")
    refused = await presented(client, path, someone_else, presentation)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"].startswith(f"part 1 ({vc['id']}) is not yours: its subject's e-mail address")

    tampered = vc | {"name": "Advanced Quantum Computing"}
    refused = await client.post(path, json=[tampered], headers=hers)
    assert refused.status_code == 422, refused.text
    assert "is not valid here (tampered)" in refused.json()["detail"], refused.text

    refused = await client.post(f"/programmes/{programme_id}-none/presentations", json=vc, headers=hers)
    assert refused.status_code == 404 and "no approved programme" in refused.text, refused.text

    response = await client.post(path, json=presentation, headers=hers)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert [(p["credential_id"], p["node"], p["institution"], p["status"]) for p in issued["parts"]] == [
        (vc["id"], "saarland", "uni-saarland", "valid")
    ]
    credential = issued["credential"]
    assert credential["learner_id"] == "zofia" and credential["programme"] is True
    assert credential["parts"] == [vc["id"]]
    assert [e["id"] for e in credential["credential"]["evidence"]] == [vc["id"]]
    assert credential["credential"]["proof"], "signed by B's lead institution"

    again = await client.post(path, json=vc, headers=hers)
    assert again.status_code == 200 and again.json()["credential"]["id"] == credential["id"], again.text
    assert len([c for c in (await client.get("/wallet", headers=hers)).json() if c["programme"]]) == 1

    # Presented for use at B in general (a prerequisite), the same part is the one B holds already.
    general = await client.post("/presentations", json=vc, headers=hers)
    assert general.status_code == 200 and [p["credential_id"] for p in general.json()] == [vc["id"]], general.text

    # A revokes the part: A tells B (which relies on it), B reads A's list and revokes the programme credential.
    a = alliance.nodes["saarland"].stack
    registrar = a.bearer("registrar", Role.REGISTRAR, institution="uni-saarland")
    revoked = await alliance.saarland.post(f"/credentials/{vc['id'].rsplit('/', 1)[1]}/revoke", headers=registrar,
                                           json={"reason": "the exam was annulled"})
    assert revoked.status_code == 200, revoked.text

    async def programme_revoked() -> dict[str, Any] | None:
        found = (await client.get(f"/credentials/{credential['id']}")).json()
        return found if found["status"] == "revoked" else None

    found = await eventually(programme_revoked, timeout=WAIT)
    assert found["revocation_reason"].startswith(f"its part {vc['name']} ({vc['id']}), issued by "), found
    mine = (await client.get(f"{path}/mine", headers=hers)).json()
    assert (mine["complete"], [p["status"] for p in mine["parts"]]) == (False, ["revoked"])


async def test_a_part_revoked_without_a_word_is_found_by_the_schedule(alliance):  # noqa: F811
    """A credential of B itself, presented at B by the learner under another account: no node is told anything when
    B revokes it; B's schedule (an instance re-reading every half second) finds the bit set and revokes the programme
    credential."""
    b, course_id = alliance.nodes["silesia"].stack, f"course-{uuid.uuid4().hex[:8]}"
    course = CourseApproved(course_id=course_id, version=1, approved_by="qa@us.edu.pl", approved_at=NOW,
                            description=alliance_course().model_copy(update={"awarding_bodies": [SILESIA]}))
    await produce(b, Topic.COURSES, CloudEvent.wrap(course, source=node_uri("silesia")).to_bytes(), course.key)
    [record] = await arrived(b, Topic.COURSES, course.key)
    await eventually(lambda: committed_past(b, "mc-certification", record), timeout=WAIT)
    who = LearnerIdentity(learner_id=f"learner-{uuid.uuid4().hex[:8]}", name="Ola Nowak", email="ola@us.edu.pl")
    grade = GradeRecorded(grade_id=str(uuid.uuid4()), enrolment_id=str(uuid.uuid4()), course_id=course_id,
                          course_version=1, learner_id=who.learner_id, learner=who, grade="2.0", passed=True,
                          assessed_on=date.today(), submission_id=str(uuid.uuid4()))
    await produce(b, Topic.GRADES, CloudEvent.wrap(grade, source=node_uri("silesia")).to_bytes(), who.learner_id)
    client = alliance.silesia
    as_issued = b.bearer(who.learner_id, Role.LEARNER, name=who.name, email=who.email)
    [issued] = await eventually(lambda: _listed(client, as_issued), timeout=WAIT)
    programme_id = await programme_at_b(alliance, [course_id])
    other_account = b.bearer("ola-elsewhere", Role.LEARNER, name=who.name, email=who.email)
    response = await presented(client, f"/programmes/{programme_id}/presentations", other_account, issued["credential"])
    assert response.status_code == 201, response.text
    programme_credential = response.json()["credential"]
    assert response.json()["parts"][0]["node"] is None  # this node's own: nobody to tell

    async with running(alliance.certification("silesia", presented_parts_recheck_seconds=0.5)):
        registrar = b.bearer("registrar", Role.REGISTRAR, institution="uni-silesia")
        revoked = await client.post(f"/credentials/{issued['id']}/revoke", headers=registrar,
                                    json={"reason": "issued to the wrong learner"})
        assert revoked.status_code == 200, revoked.text

        async def programme_revoked() -> dict[str, Any] | None:
            found = (await client.get(f"/credentials/{programme_credential['id']}")).json()
            return found if found["status"] == "revoked" else None

        found = await eventually(programme_revoked, timeout=WAIT)
    assert issued["credential"]["id"] in found["revocation_reason"], found


async def _listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]] | None:
    return (await client.get("/wallet", headers=headers)).json() or None
