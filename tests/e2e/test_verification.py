"""What an employer is told on the running node's verify page and API: a credential forged with a did:key in a
university's name is not valid; the node's own credential is, under the name the node states for its university."""

import json
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from deploy.journey import Node, sample_course
from services.certification.tests.test_vc import sample_record
from services.certification.tests.test_verification import forged_credential
from shared.events.common import LearnerIdentity
from tests.stack import ROOT

pytestmark = pytest.mark.e2e

SCREENSHOTS = ROOT / ".run" / "screenshots"


def shown_on_the_verify_page(node: Node, credential: dict, screenshot: str, paste: bool = False) -> dict:
    """The verify page in Chromium after uploading (or pasting) the credential: outcome, heading, class, text."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "credential.json")
        path.write_text(json.dumps(credential))
        run = subprocess.run(
            ["node", str(ROOT / "tools" / "browser" / "verify-page.mjs"), f"{node.urls['certification']}/verify",
             str(path), "--screenshot", str(SCREENSHOTS / screenshot), *(["--paste"] if paste else [])],
            capture_output=True, text=True, timeout=120,
        )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_did_key_credential_claiming_saarland_university_is_not_valid_on_the_page_or_the_api(node: Node):
    mallory = LearnerIdentity(learner_id="mallory", name="Mallory Forged", email="mallory@example.org")
    forged = forged_credential("Saarland University", sample_record(identification_of_the_learner=mallory))

    verdict = node.ok("POST", "certification", "/verify", json=forged)
    assert (verdict["outcome"], verdict["valid"]) == ("unknown-issuer", False)
    assert "It claims to come from “Saarland University”; that name is not confirmed." in verdict["summary"]
    assert not verdict["summary"].startswith("VALID")

    page = shown_on_the_verify_page(node, forged, "verify-forged.png")
    assert (page["outcome"], page["class"]) == ("unknown-issuer", "verdict unconfirmed")
    assert page["heading"] == "Not confirmed: the issuer is not a university this node knows"
    assert "Claims to be issued by\n“Saarland University” (not confirmed)" in page["text"]
    assert "VALID —" not in page["text"]


def test_the_nodes_own_credential_is_valid_on_the_page_under_the_name_the_node_states(node: Node):
    offering = node.opened_offering(node.approved_course(sample_course(f"Verified Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Lena Weber")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.3", passed=True)
    credential = node.wait_for_credential(learner.subject)["credential"]

    page = shown_on_the_verify_page(node, credential, "verify-valid.png", paste=True)
    assert (page["outcome"], page["class"], page["heading"]) == ("valid", "verdict valid", "Valid")
    assert "VALID — Saarland University issued this credential to Lena Weber" in page["text"]
    assert "Saarland University (DE), a university this node knows" in page["text"]
