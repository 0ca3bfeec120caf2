"""What a learner finally holds and what an employer checks: signed, verifiable, revocable, stackable credentials."""

import json
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from deploy.journey import ASSESSOR, DESIGNER, QA_OFFICER, Node, Person, sample_course
from tests.stack import ROOT, Stack, wait_until_all_consumed

pytestmark = pytest.mark.e2e

VERIFIER = ROOT / "tools" / "vc-verifier" / "verify.mjs"
SOFIA_DESIGNER = Person("maria.ivanova@uni-sofia.bg", "Dr. Maria Ivanova", "course-designer", "uni-sofia")


def digital_bazaar_verifies(node: Node, credential: dict, institutions: tuple[str, ...] = ("uni-saarland",)) -> dict:
    """Digital Bazaar's verifier, offline, given the issuing universities' did:web documents as the node serves them."""
    with tempfile.TemporaryDirectory() as folder:
        arguments = []
        for institution in institutions:
            path = Path(folder, f"{institution}.json")
            path.write_text(json.dumps(node.ok("GET", "certification", f"/institutions/{institution}/did.json")))
            arguments += ["--did-document", str(path)]
        run = subprocess.run(
            ["node", str(VERIFIER), *arguments], input=json.dumps(credential), capture_output=True, text=True, timeout=60
        )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (run.returncode == 0) == result["verified"]
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
        assert digital_bazaar_verifies(node, credential["credential"])["verified"], name
    wait_until_all_consumed(node, stack)
    for name, learner in cohort.items():
        passed = name in ("Ana", "Ben", "Cleo")
        assert len(node.credentials(learner.subject)) == (1 if passed else 0), name
        assert len(node.emails_to(learner.email, about="issued")) == (1 if passed else 0), name

    tampered = node.credentials(cohort["Ana"].subject)[0]["credential"]
    tampered["credentialSubject"]["result"] = [{"type": ["Result"], "value": "1.0 (with honours)"}]
    assert not digital_bazaar_verifies(node, tampered)["verified"], "a tampered copy is refused"
    verdict = node.ok("POST", "certification", "/verify", json=tampered)
    assert verdict["outcome"] == "tampered" and not verdict["valid"]


def test_an_amended_grade_revokes_the_credential_and_the_verify_page_says_so(node: Node):
    offering = node.opened_offering(node.approved_course(sample_course(f"Amended Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Jan Novak")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="3.7", passed=True)
    credential = node.wait_for_credential(learner.subject)
    assert node.ok("POST", "certification", "/verify", json=credential["credential"])["outcome"] == "valid"

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
    assert vc["proof"]["verificationMethod"].startswith(vc["issuer"]["id"]), "the lead university signs"
    assert "uni-saarland" in vc["issuer"]["id"]
    [endorsement] = vc["endorsement"]
    assert "uni-sofia" in endorsement["issuer"]["id"] and credential["pending_endorsements"] == []
    result = digital_bazaar_verifies(node, vc, ("uni-saarland", "uni-sofia"))
    assert result["verified"] and all(e["verified"] for e in result["endorsements"])
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
    assert digital_bazaar_verifies(node, programme_credential["credential"])["verified"]
