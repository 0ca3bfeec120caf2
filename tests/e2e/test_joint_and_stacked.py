"""Issue #12's "Done when", with the three nodes of deploy/alliance.sh as separate processes (the session's alliance,
tests/e2e/conftest.py), driven only through HTTP and Kafka: Saarland (A, lead) and Silesia (B) make a joint course,
approved only after two people of B consent at B; a learner of B passes it at A; her credential carries A's proof and
B's endorsement signed at B, and Digital Bazaar's verifier with the standard contexts accepts both. She also passes a
course at B. A programme at Primorska (C) stacks A's course and B's; she presents both credentials at C (a Verifiable
Presentation), C verifies each and issues the programme credential, listing them, and e-mails it; A's credential
presented at C also meets the prerequisite of a course at C. B revokes its part; B tells C, which reads B's status
list and revokes the programme credential. No node's key directory holds another university's private key."""

import datetime
import uuid
from typing import Any

import pytest

from deploy.alliance_journey import consent_at, credential_for_a_visitor, listed_at, visiting
from deploy.journey import DESIGNER, GERMAN_SCHEME, QA_OFFICER, Node, Person, sample_course
from tests.e2e.conftest import Alliance
from tests.e2e.test_alliance_demo import SILESIA, SILESIAN_STAFF
from tests.integration.test_independent_verifier import node, verified_by_digital_bazaar  # noqa: F401 (node: fixture)

pytestmark = pytest.mark.e2e

SAARLAND = {"id": "uni-saarland", "name": "Universität des Saarlandes", "country": "DE"}
PRIMORSKA = {"id": "upr", "name": "Univerza na Primorskem", "country": "SI"}
SILESIAN_REGISTRAR = Person("registrar@us.edu.pl", "Dział Kształcenia", "registrar", "uni-silesia")
PRIMORSKA_STAFF = {
    role: Person(f"{role}@upr.si", name, role, "upr")
    for role, name in (("course-designer", "Dr Maja Novak"), ("qa-officer", "Prof. Luka Kranjc"),
                       ("registrar", "Študentska pisarna"), ("assessor", "Dr Ana Zupan"))
}
DID = "did:web:127.0.0.1%3A{}:institutions:{}"


def did_of(base: int, institution: str) -> str:
    return DID.format(base, institution)


def joint_course_of_a_and_b(a: Node, b: Node) -> dict[str, Any]:
    """A's designer proposes a joint course of A (lead) and B, A's QA approves it, and it is approved only once two
    people of B have consented at B's node; B's node will endorse it."""
    description = sample_course(f"Cross-Border Data Stewardship {uuid.uuid4().hex[:4]}") | {
        "awarding_bodies": [SAARLAND, SILESIA]
    }
    course = a.ok("POST", "catalogue", "/courses", json={"description": description}, by=DESIGNER)
    a.ok("POST", "catalogue", f"/courses/{course['id']}/submit", by=DESIGNER)
    waiting = a.ok("POST", "catalogue", f"/courses/{course['id']}/approve", by=QA_OFFICER, json={})
    assert waiting["status"] == "awaiting-consent", waiting
    consent_at(b, course["id"])
    approved = a.wait_for("A to approve the course once B consented", lambda: found if (
        found := a.ok("GET", "catalogue", f"/courses/{course['id']}"))["status"] == "approved" else None)
    a.grading_scheme(approved["id"], GERMAN_SCHEME)
    return approved


def complete_credential(a: Node, credential_id: str) -> dict[str, Any]:
    return a.wait_for(
        "B's endorsement to be attached at A",
        lambda: found if (found := a.ok("GET", "certification", f"/credentials/{credential_id}"))["complete"] else None,
    )


def passed_at_b(b: Node, learner: Person) -> dict[str, Any]:
    """B's own course; the learner (registered at B, her home) applies, B's assessor grades her, B issues."""
    course = b.approved_course(
        sample_course(f"Silesian Open Data Practice {uuid.uuid4().hex[:4]}") | {"awarding_bodies": [SILESIA]},
        *SILESIAN_STAFF.values(),
    )
    offering = b.opened_offering(course, registrar=SILESIAN_REGISTRAR)
    application = b.apply(learner, offering)
    assert application.status_code == 201, application.text
    b.wait_until_gradable(learner.subject, course["id"], assessor=SILESIAN_STAFF["assessor"])
    b.ok("POST", "assessment", "/grades", by=SILESIAN_STAFF["assessor"], json={
        "course_id": course["id"], "learner_id": learner.subject, "grade": "1.3",
        "assessed_on": datetime.date.today().isoformat(),
    })
    return b.wait_for("B's credential", lambda: next(
        (c for c in b.ok("GET", "certification", "/wallet", by=learner) if c["course_id"] == course["id"]), None
    ))


def programme_at_c(c: Node, course_ids: list[str]) -> dict[str, Any]:
    """C's designer makes a programme stacking courses of A and B (listed on the bus); C's QA approves it."""
    designer, qa = PRIMORSKA_STAFF["course-designer"], PRIMORSKA_STAFF["qa-officer"]
    programme = c.ok("POST", "catalogue", "/programmes", by=designer, json={
        "title": f"Alliance Certificate in Data for Regions {uuid.uuid4().hex[:4]}",
        "awarding_bodies": [PRIMORSKA],
        "rule": {"kind": "all-of", "course_ids": course_ids},
    })
    c.ok("POST", "catalogue", f"/programmes/{programme['id']}/submit", by=designer)
    return c.ok("POST", "catalogue", f"/programmes/{programme['id']}/approve", by=qa, json={})


def test_a_joint_credential_and_a_credential_of_b_stack_into_a_programme_at_c_until_b_revokes(
    alliance: Alliance, node: str  # noqa: F811 (the verifier's fixture)
):
    a, b, c = (alliance.nodes[name] for name in ("saarland", "silesia", "primorska"))

    # A and B's joint course, listed at B (B's node endorses only a course A lists naming B) and at C.
    joint = joint_course_of_a_and_b(a, b)
    offering = a.opened_offering(joint)
    for other in (b, c):
        listed_at(other, joint, offering)

    # A learner of B passes it at A: A signs, B endorses at B with its own key.
    learner, _, issued = credential_for_a_visitor(a, b, offering, "Zofia Wiśniewska", "uni-silesia")
    at_a = complete_credential(a, issued["id"])
    vc_a = at_a["credential"]
    assert vc_a["issuer"]["id"] == did_of(8100, "uni-saarland")
    [endorsement] = vc_a["endorsement"]
    assert (endorsement["issuer"]["id"], endorsement["credentialSubject"]["id"]) == (did_of(8200, "uni-silesia"), vc_a["id"])
    code, report = verified_by_digital_bazaar(node, vc_a)
    assert (code, report["verified"]) == (0, True), report
    assert [(e["issuer"], e["verified"]) for e in report["endorsements"]] == [(did_of(8200, "uni-silesia"), True)]

    # She passes a course of B's own at B.
    at_b = passed_at_b(b, learner)
    vc_b = at_b["credential"]
    assert vc_b["issuer"]["id"] == did_of(8200, "uni-silesia")

    # C's programme stacks A's course and B's, which C's catalogue knows from the bus.
    def listed_at_c() -> set[str] | None:
        items = c.ok("GET", "catalogue", "/alliance/courses", params={"page_size": 100})["items"]
        shown = {item["course_id"] for item in items}
        return shown if {joint["id"], at_b["course_id"]} <= shown else None

    c.wait_for("C to list A's and B's courses", listed_at_c)
    programme = programme_at_c(c, [joint["id"], at_b["course_id"]])
    at_c = visiting(c, b)  # C's services, with the tokens of her home's identity provider

    # A course at C requires A's joint course: until she presents A's credential at C, she may not apply.
    advanced = c.approved_course(
        sample_course(f"Advanced Data Stewardship {uuid.uuid4().hex[:4]}")
        | {"awarding_bodies": [PRIMORSKA], "prerequisite_course_ids": [joint["id"]]},
        *(PRIMORSKA_STAFF[role] for role in ("course-designer", "qa-officer", "assessor")),
    )
    advanced_offering = c.opened_offering(advanced, registrar=PRIMORSKA_STAFF["registrar"])
    at_c.ok("POST", "enrolment", "/learners", by=learner, json={"preferred_language": "en"})
    refused = at_c.apply(learner, advanced_offering)
    assert refused.status_code == 403 and joint["id"] in refused.text, refused.text

    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [vc_a, vc_b],
    }
    path = f"/programmes/{programme['id']}/presentations"

    # Someone else presenting her credentials is refused, naming the part and the rule; nothing is kept.
    stranger = Person(str(uuid.uuid4()), "Jan Kowalski", "learner", "uni-silesia", email="jan.kowalski@us.edu.pl")
    refused = at_c.wait_for("C to know the programme", lambda: (
        r if (r := at_c.call("POST", "certification", path, by=stranger, json=presentation)).status_code != 404 else None
    ))
    assert refused.status_code == 403, refused.text
    assert "part 1" in refused.json()["detail"] and "is not yours" in refused.json()["detail"], refused.text

    # She presents both: C verifies each at its issuer's node and issues the programme credential, listing them.
    response = at_c.call("POST", "certification", path, by=learner, json=presentation)
    assert response.status_code == 201, response.text
    issued_at_c = response.json()
    assert issued_at_c["complete"] is True
    assert sorted((p["node"], p["status"]) for p in issued_at_c["parts"]) == [("saarland", "valid"), ("silesia", "valid")]
    programme_credential = issued_at_c["credential"]
    vc_c = programme_credential["credential"]
    assert vc_c["issuer"]["id"] == did_of(8300, "upr")
    assert sorted(e["id"] for e in vc_c["evidence"]) == sorted([vc_a["id"], vc_b["id"]])
    assert sorted(programme_credential["parts"]) == sorted([vc_a["id"], vc_b["id"]])
    assert programme_credential["record"]["workload_ects"] == 6  # 3 ECTS each
    code, report = verified_by_digital_bazaar(node, vc_c)
    assert (code, report["verified"]) == (0, True), report
    email = c.wait_for_email(learner.email, programme["title"])
    assert email is not None

    # Presented at C, A's credential meets the prerequisite there too.
    applied = at_c.wait_for("C's enrolment to learn of the presented credential", lambda: (
        r if (r := at_c.apply(learner, advanced_offering)).status_code == 201 else None
    ))
    assert applied.json()["status"] == "enrolled", applied.text

    # Presenting again changes nothing: the same programme credential, no second one.
    again = at_c.call("POST", "certification", path, by=learner, json=presentation)
    assert again.status_code == 200, again.text
    assert again.json()["credential"]["id"] == programme_credential["id"]

    # B revokes its part; B's node tells C's (which relies on it), C reads B's list and revokes the programme's.
    b.ok("POST", "certification", f"/credentials/{at_b['id']}/revoke", by=SILESIAN_REGISTRAR,
         json={"reason": "plagiarism found in the final project"})
    revoked = c.wait_for("C to revoke the programme credential", lambda: (
        found if (found := c.ok("GET", "certification", f"/credentials/{programme_credential['id']}"))["status"]
        == "revoked" else None
    ))
    assert vc_b["id"] in revoked["revocation_reason"], revoked["revocation_reason"]
    mine = at_c.ok("GET", "certification", f"{path}/mine", by=learner)
    assert (mine["complete"], sorted(p["status"] for p in mine["parts"])) == (False, ["revoked", "valid"])
    # The part of A stands: A's credential is valid at A.
    assert a.ok("GET", "certification", f"/credentials/{issued['id']}")["status"] == "valid"

    # No node holds another university's signing key.
    for name, institution in (("saarland", "uni-saarland"), ("silesia", "uni-silesia"), ("primorska", "upr")):
        held = sorted(path.name for path in (alliance.folder / name / "keys" / "issuers").glob("*.pem"))
        assert held == [f"{institution}.pem"], (name, held)
