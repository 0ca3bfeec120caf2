"""Our credentials verify in an independent, widely used verifier: Digital Bazaar's @digitalbazaar/vc with the
eddsa-rdfc-2022 cryptosuite (jsonld.js + rdf-canonize), run by `tools/vc-verifier/verify.mjs`, offline.

Signed in Python (pyld), verified in Node; and the reverse, so that the two canonicalizations are checked against
each other rather than each against itself. From a clean clone the harness is installed with `npm ci` first.
"""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.certification.tests.test_vc import (
    CREDENTIAL_ID,
    GOLDEN_PROOF_VALUE,
    ISSUED_AT,
    SAARLAND_KEY,
    SOFIA,
    joint_credential,
    sample_record,
    signed_credential,
    tamper_grade,
    tamper_learner_name,
    tamper_one_byte_of_proof_value,
)
from services.certification.vc import keys
from services.certification.vc.credential import IssuerProfile, open_badge_credential
from services.certification.vc.proof import sign, verify

pytestmark = pytest.mark.integration

HARNESS = Path(__file__).resolve().parents[2] / "tools" / "vc-verifier"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.fail("Node.js (20 or later) is needed to run the independent verifier")
    if not (HARNESS / "node_modules" / "@digitalbazaar" / "vc").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install the independent verifier (npm ci --prefix tools/vc-verifier)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HARNESS, check=True, timeout=600)
    return executable


def run(node: str, script: str, document: Any, *arguments: str) -> tuple[int, dict[str, Any]]:
    completed = subprocess.run(
        [node, str(HARNESS / script), *arguments],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.stdout.strip(), completed.stderr
    return completed.returncode, json.loads(completed.stdout.strip().splitlines()[-1])


def verified_by_digital_bazaar(node: str, credential: dict[str, Any], *arguments: str) -> tuple[int, dict[str, Any]]:
    return run(node, "verify.mjs", credential, *arguments)


def test_a_credential_signed_in_python_is_accepted(node: str) -> None:
    credential = signed_credential()
    assert credential["proof"]["proofValue"] == GOLDEN_PROOF_VALUE
    assert verified_by_digital_bazaar(node, credential) == (0, {"verified": True, "errors": []})


@pytest.mark.parametrize("tamper", [tamper_grade, tamper_learner_name, tamper_one_byte_of_proof_value])
def test_a_tampered_copy_is_rejected(node: str, tamper) -> None:
    credential = signed_credential()
    tamper(credential)
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert report["errors"], "the verifier says why"


def test_text_that_trips_canonicalizers_up_still_verifies(node: str) -> None:
    record = sample_record(
        title='Ethik der KI – "Grundlagen" \\ Teil 1',
        learning_outcomes=[
            "tab\there",
            "new\nline and\r\ncarriage return",
            "emoji 🎓, ä ö ü ß, Ελληνικά, кирилица",
            "page\x0cbreak",
        ],
        workload_ects=2.5,
        workload_hours=62.5,
        grade_achieved="sehr gut (1,3)",
    )
    credential = sign(
        open_badge_credential(
            record,
            "https://credentials.uni-saarland.example/c/ä-1",
            IssuerProfile(id=keys.did_key(SAARLAND_KEY.public_key()), name="Universität des Saarlandes", country="DE"),
            ISSUED_AT,
            status={
                "id": "https://credentials.uni-saarland.example/status/1#94567",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": "94567",
                "statusListCredential": "https://credentials.uni-saarland.example/status/1",
            },
        ),
        SAARLAND_KEY,
        keys.did_key_verification_method(SAARLAND_KEY.public_key()),
        created=ISSUED_AT,
    )
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (0, True), report
    assert report["status"] == "not checked (offline verifier)"


def test_a_joint_credentials_endorsements_are_verified_too(node: str) -> None:
    code, report = verified_by_digital_bazaar(node, joint_credential())
    assert (code, report["verified"]) == (0, True), report
    [endorsement] = report["endorsements"]
    assert (endorsement["issuer"], endorsement["verified"]) == (SOFIA.id, True)


def test_a_joint_credential_with_a_tampered_endorsement_is_rejected(node: str) -> None:
    credential = joint_credential()
    credential["endorsement"][0]["credentialSubject"]["endorsementComment"] = (
        "Sofia University does not know this course."
    )
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    [endorsement] = report["endorsements"]
    assert endorsement["verified"] is False


def test_an_endorsement_of_another_credential_is_rejected(node: str) -> None:
    from services.certification.tests.test_vc import sofia_endorsement

    credential = joint_credential([sofia_endorsement(endorsed="urn:uuid:00000000-0000-4000-8000-000000000000")])
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert any("not this credential" in error for error in report["endorsements"][0]["errors"])


def test_a_did_web_credential_verifies_with_the_nodes_published_did_document(node: str, tmp_path: Path) -> None:
    domain = "certification.uni-saarland.example"
    document = keys.did_web_document(domain, SAARLAND_KEY.public_key())
    (tmp_path / "did.json").write_text(json.dumps(document))
    credential = sign(
        open_badge_credential(
            sample_record(), CREDENTIAL_ID, IssuerProfile(id=document["id"], name="Saarland University"), ISSUED_AT
        ),
        SAARLAND_KEY,
        keys.did_web_verification_method(domain),
        created=ISSUED_AT,
    )
    assert verified_by_digital_bazaar(node, credential, "--did-document", str(tmp_path / "did.json"))[0] == 0
    code, report = verified_by_digital_bazaar(node, credential)
    assert code == 1 and "never uses the network" in report["errors"][0]


def test_a_credential_signed_by_digital_bazaars_libraries_verifies_in_python(node: str) -> None:
    unsigned = open_badge_credential(
        sample_record(), CREDENTIAL_ID, IssuerProfile(id="did:key:placeholder", name="Saarland University"), ISSUED_AT
    )
    code, signed = run(node, "issue.mjs", unsigned)
    assert code == 0, signed
    assert signed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    result = verify(signed, keys.KeyResolver())
    assert result.verified, result.problems
    tamper_grade(signed)
    assert not verify(signed, keys.KeyResolver()).verified


def test_the_bundled_contexts_are_the_published_ones(node: str) -> None:
    code, report = run(node, "check-contexts.mjs", {})
    assert (code, report["mismatches"]) == (0, [])
    assert len(report["checked"]) == 2
