"""What a learner finally holds and what an employer checks: signed, verifiable, revocable, stackable credentials."""

import json
import subprocess
import uuid

import pytest

from deploy.journey import ASSESSOR, DESIGNER, QA_OFFICER, Node, Person, sample_course
from services.certification.tests.ob_schemas import schema_problems
from tests.stack import ROOT, Stack, wait_until_all_consumed

pytestmark = pytest.mark.e2e

VERIFIER = ROOT / "tools" / "vc-verifier" / "verify.mjs"
SOFIA_DESIGNER = Person("maria.ivanova@uni-sofia.bg", "Dr. Maria Ivanova", "course-designer", "uni-sofia")


def digital_bazaar_verifies(credential: dict) -> dict:
    """Digital Bazaar's verifier with only the standard contexts, fetching the issuers' DID documents and the status
    list from the node (its did:web identifiers and status list URLs point at it)."""
    run = subprocess.run(
        ["node", str(VERIFIER)], input=json.dumps(credential), capture_output=True, text=True, timeout=60
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (run.returncode == 0) == result["verified"]
    return result


def verifies_and_validates(credential: dict) -> dict:
    """Verified by Digital Bazaar's verifier, not revoked, and valid by 1EdTech's Open Badges 3.0 JSON Schemas."""
    assert schema_problems(credential) == []
    result = digital_bazaar_verifies(credential)
    assert result["verified"] and result["status"] == {"revocation": "not revoked"}, result
    return result


def test_a_cohort_graded_through_the_lms_gets_one_verifiable_credential_per_pass_and_nothing_for_a_fail(
    node: Node, stack: Stack
):
    offering = node.opened_offering(node.approved_course(sample_course(f"Cohort Course {uuid.uuid4().hex[:4]}")))
    cohort = {name: node.registered_learner(name) for name in ("Ana", "Ben", "Cleo", "Dara", "Emil")}
    grades = {"Ana": "1.0", "Ben": "2.7", "Cleo": "4.0", "Dara": "4.3", "Emil": "5.0"}  # German scale: up to 4.0 passes
    for learner in cohort.values():
        node.enrolled(learner, offering)

    for name, learner in cohort.items():
        node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade=grades[name], passed=True)

    for name in ("Ana", "Ben", "Cleo"):
        learner = cohort[name]
        credential = node.wait_for_credential(learner.subject)
        node.wait_for_email(learner.email, about="issued")
        assert credential["record"]["grade_achieved"] == grades[name]
        verifies_and_validates(credential["credential"])
    wait_until_all_consumed(node, stack)
    for name, learner in cohort.items():
        passed = name in ("Ana", "Ben", "Cleo")
        assert len(node.credentials(learner.subject)) == (1 if passed else 0), name
        assert len(node.emails_to(learner.email, about="issued")) == (1 if passed else 0), name

    tampered = node.credentials(cohort["Ana"].subject)[0]["credential"]
    tampered["credentialSubject"]["result"] = [{"type": ["Result"], "value": "1.0 (with honours)"}]
    assert not digital_bazaar_verifies(tampered)["verified"], "a tampered copy is refused"
    verdict = node.ok("POST", "certification", "/verify", json=tampered)
    assert verdict["outcome"] == "tampered" and not verdict["valid"]


def test_an_amended_grade_revokes_the_credential_and_the_verify_page_says_so(node: Node):
    offering = node.opened_offering(node.approved_course(sample_course(f"Amended Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Jan Novak")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="3.7", passed=True)
    credential = node.wait_for_credential(learner.subject)
    assert node.ok("POST", "certification", "/verify", json=credential["credential"])["outcome"] == "valid"
    verifies_and_validates(credential["credential"])

    [grade] = node.ok("GET", "assessment", "/grades", by=learner, params={"learner_id": learner.subject})
    node.ok("POST", "assessment", f"/grades/{grade['id']}/amendments", by=ASSESSOR,
            json={"grade": "4.7", "reason": "A plagiarised section was found after marking."})

    revoked = node.wait_for(
        "the credential to be revoked",
        lambda: c if (c := node.ok("GET", "certification", f"/credentials/{credential['id']}"))["status"] == "revoked"
        else None,
    )
    verdict = node.ok("POST", "certification", "/verify", json=revoked["credential"])
    assert verdict["outcome"] == "revoked" and not verdict["valid"]
    page = node.call("GET", "certification", "/verify", params={"id": credential["id"]}).text
    assert "REVOKED" in page and "Jan Novak" in page
    independent = digital_bazaar_verifies(revoked["credential"])
    assert (independent["verified"], independent["status"]) == (False, {"revocation": "revoked"}), independent


def test_a_joint_credential_carries_the_lead_proof_and_the_partner_endorsement(node: Node):
    description = sample_course(f"Joint Course {uuid.uuid4().hex[:4]}")
    description["awarding_bodies"].append({"id": "uni-sofia", "name": "Sofia University", "country": "BG"})
    course = node.approved_course(description, designer=SOFIA_DESIGNER)
    offering = node.opened_offering(course)
    learner = node.registered_learner("Elena Georgieva")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(course["id"], learner.subject, grade="1.3", passed=True)

    credential = node.wait_for_credential(learner.subject)
    vc = credential["credential"]
    assert vc["proof"][0]["verificationMethod"].startswith(vc["issuer"]["id"]), "the lead university signs"
    assert "uni-saarland" in vc["issuer"]["id"]
    [endorsement] = vc["endorsement"]
    assert "uni-sofia" in endorsement["issuer"]["id"] and credential["pending_endorsements"] == []
    result = verifies_and_validates(vc)
    assert [(e["issuer"], e["verified"]) for e in result["endorsements"]] == [(endorsement["issuer"]["id"], True)]
    tampered = json.loads(json.dumps(vc))
    tampered["endorsement"][0]["credentialSubject"]["endorsementComment"] = "Sofia University knows nothing of it."
    assert not digital_bazaar_verifies(tampered)["verified"], "a tampered endorsement is refused"
    assert node.ok("POST", "certification", "/verify", json=vc)["outcome"] == "valid"


def test_completing_a_programmes_last_part_issues_the_programme_credential(node: Node):
    parts = [node.approved_course(sample_course(f"Programme Part {n} {uuid.uuid4().hex[:4]}")) for n in (1, 2)]
    programme = node.ok("POST", "catalogue", "/programmes", by=DESIGNER, json={
        "title": f"Sustainable Entrepreneurship Certificate {uuid.uuid4().hex[:4]}",
        "awarding_bodies": parts[0]["description"]["awarding_bodies"],
        "rule": {"kind": "all-of", "course_ids": [part["id"] for part in parts]},
    })
    node.ok("POST", "catalogue", f"/programmes/{programme['id']}/submit", by=DESIGNER)
    node.ok("POST", "catalogue", f"/programmes/{programme['id']}/approve", by=QA_OFFICER, json={})
    learner = node.registered_learner("Sofia Lind")
    for part in parts:
        node.enrolled(learner, node.opened_offering(part))

    node.submit_grade_with_kcat(parts[0]["id"], learner.subject, grade="2.0", passed=True)
    node.wait_for_credential(learner.subject)
    assert not any(c["programme"] for c in node.credentials(learner.subject)), "one part is not the programme"
    node.submit_grade_with_kcat(parts[1]["id"], learner.subject, grade="1.7", passed=True)

    programme_credential = node.wait_for(
        "the programme credential",
        lambda: next((c for c in node.credentials(learner.subject) if c["programme"]), None),
    )
    assert sorted(programme_credential["parts"]) == sorted(
        c["id"] for c in node.credentials(learner.subject) if not c["programme"]
    )
    verifies_and_validates(programme_credential["credential"])
    tampered = json.loads(json.dumps(programme_credential["credential"]))
    tampered["evidence"] = tampered["evidence"][:1]
    assert not digital_bazaar_verifies(tampered)["verified"], "a programme credential missing a part is refused"


@pytest.mark.parametrize("purpose", ["revocation", "suspension"])
def test_the_status_lists_are_credentials_digital_bazaars_verifier_accepts(node: Node, purpose: str):
    status_list = node.ok("GET", "certification", f"/status-lists/uni-saarland/{purpose}")
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert digital_bazaar_verifies(status_list) == {"verified": True, "errors": []}
    encoded = status_list["credentialSubject"]["encodedList"]
    middle = len(encoded) // 2
    status_list["credentialSubject"]["encodedList"] = (
        encoded[:middle] + ("A" if encoded[middle] != "A" else "B") + encoded[middle + 1 :]
    )
    assert not digital_bazaar_verifies(status_list)["verified"], "a tampered list is refused"
