"""Our credentials verify in an independent, widely used verifier that knows only the standard contexts: Digital
Bazaar's @digitalbazaar/vc with the eddsa-rdfc-2022 cryptosuite (jsonld.js + rdf-canonize) and
@digitalbazaar/vc-bitstring-status-list, run by `tools/vc-verifier/verify.mjs`. It holds the W3C VC 2.0, Open Badges
3.0, Data Integrity and Multikey contexts from their npm packages and fetches nothing but a did:web issuer's DID
document and the status list a credential names: here from a small HTTP server on this machine, as a node serves them.

Signed in Python (pyld), verified in Node; and the reverse, so that the two canonicalizations are checked against
each other rather than each against itself. From a clean clone the harness is installed with `npm ci` first.
"""

import json
import random
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification import status_lists
from services.certification.status_lists import StatusPurpose
from services.certification.tests.test_canonical import random_record, text
from services.certification.tests.test_vc import (
    CREDENTIAL_ID,
    GOLDEN_PROOF_VALUE,
    ISSUED_AT,
    SAARLAND_KEY,
    SOFIA_KEY,
    joint_credential,
    programme_credential,
    sample_record,
    signed_credential,
    sofia_endorsement,
    tamper_grade,
    tamper_learner_name,
    tamper_one_byte_of_proof_value,
)
from services.certification.vc import keys
from services.certification.vc.credential import IssuerProfile, open_badge_credential_json
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import canonicalize_fast, sign, verify

pytestmark = pytest.mark.integration

HARNESS = Path(__file__).resolve().parents[2] / "tools" / "vc-verifier"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.fail("Node.js (20 or later) is needed to run the independent verifier")
    installed = HARNESS / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (HARNESS / "package-lock.json").stat().st_mtime:
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


class Documents(ThreadingHTTPServer):
    """A node's public documents (DID documents, status lists) served over HTTP on 127.0.0.1: path -> JSON."""

    documents: dict[str, Any]
    requested: list[str]
    # path -> Content-Type, where it is not application/json
    media_types: dict[str, str]

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.domain}"


class _Handler(BaseHTTPRequestHandler):
    server: Documents

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requested.append(self.path)
        document = self.server.documents.get(self.path)
        body = json.dumps(document).encode() if document is not None else b"{}"
        self.send_response(200 if document is not None else 404)
        self.send_header("Content-Type", self.server.media_types.get(self.path, "application/json"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(documents: dict[str, Any] | None = None, port: int = 0) -> Iterator[Documents]:
    server = Documents(("127.0.0.1", port), _Handler)
    server.documents, server.requested, server.media_types = dict(documents or {}), [], {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web() -> Iterator[Documents]:
    with serving() as server:
        yield server


class Institution:
    """A university whose node (the `web` server) publishes its did:web document and its revocation list."""

    def __init__(self, web: Documents, code: str, name: str, country: str, key: Ed25519PrivateKey) -> None:
        self.web, self.code, self.key = web, code, key
        document = keys.did_web_document(web.domain, key.public_key(), path=f"institutions/{code}")
        web.documents[f"/institutions/{code}/did.json"] = document
        self.did = document["id"]
        self.method = f"{self.did}#key-1"
        self.profile = IssuerProfile(id=self.did, name=name, country=country)
        self.publish_revocations()

    def status(self, index: int) -> dict[str, Any]:
        return status_lists.status_entry(self.web.url, self.code, index, StatusPurpose.REVOCATION)

    def publish_revocations(self, *revoked: int) -> None:
        url = status_lists.list_url(self.web.url, self.code, StatusPurpose.REVOCATION)
        bits = status_lists.bitstring(status_lists.MINIMUM_LENGTH, revoked)
        unsigned = status_lists.status_list_credential(
            url, self.did, StatusPurpose.REVOCATION, bits, "2025-07-01T10:30:00Z"
        )
        self.web.documents[f"/status-lists/{self.code}/revocation"] = sign(
            unsigned, self.key, self.method, created=ISSUED_AT
        )

    def issue(self, index: int = 94567, endorsers: tuple["Institution", ...] = (), **record: Any) -> dict[str, Any]:
        unsigned = json.loads(open_badge_credential_json(
            sample_record(**record), CREDENTIAL_ID, self.profile, ISSUED_AT, self.status(index), salt="c0ffee"
        ))
        endorsements = [
            endorsement_credential(
                CREDENTIAL_ID,
                partner.profile,
                f"{partner.profile.name} co-awards this micro-credential.",
                private_key=partner.key,
                verification_method=partner.method,
                issued_at=ISSUED_AT,
            )
            for partner in endorsers
        ]
        return sign(with_endorsements(unsigned, endorsements), self.key, self.method, created=ISSUED_AT)


@pytest.fixture
def saarland(web: Documents) -> Institution:
    return Institution(web, "uni-saarland", "Saarland University", "DE", SAARLAND_KEY)


@pytest.fixture
def sofia(web: Documents) -> Institution:
    return Institution(web, "uni-sofia", "Sofia University", "BG", SOFIA_KEY)


# Signed in Python, checked by Digital Bazaar's verifier.


def test_a_credential_signed_in_python_is_accepted(node: str) -> None:
    credential = signed_credential()
    assert credential["proof"][0]["proofValue"] == GOLDEN_PROOF_VALUE
    assert verified_by_digital_bazaar(node, credential) == (0, {"verified": True, "errors": []})


@pytest.mark.parametrize("tamper", [tamper_grade, tamper_learner_name, tamper_one_byte_of_proof_value])
def test_a_tampered_copy_is_rejected(node: str, tamper) -> None:
    credential = signed_credential()
    tamper(credential)
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert report["errors"], "the verifier says why"


def test_a_did_web_credential_verifies_with_the_did_document_its_node_serves(node: str, web, saarland) -> None:
    credential = saarland.issue()
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report) == (0, {"verified": True, "errors": [], "status": {"revocation": "not revoked"}})
    assert "/institutions/uni-saarland/did.json" in web.requested
    assert web.requested.count("/status-lists/uni-saarland/revocation") == 1

    del web.documents["/institutions/uni-saarland/did.json"]
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert any("did.json answered 404" in error for error in report["errors"]), report


def test_a_revoked_credential_is_reported_revoked(node: str, saarland) -> None:
    credential = saarland.issue(index=94567)
    saarland.publish_revocations(94567)
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"], report["status"]) == (1, False, {"revocation": "revoked"})
    assert report["errors"] == [
        f"revoked: its bit is set in {saarland.web.url}/status-lists/uni-saarland/revocation (index 94567)"
    ]
    saarland.publish_revocations(94566)
    assert verified_by_digital_bazaar(node, credential)[1]["status"] == {"revocation": "not revoked"}


def test_a_status_list_signed_by_someone_else_is_not_believed(node: str, web, saarland, sofia) -> None:
    credential = saarland.issue()
    web.documents["/status-lists/uni-saarland/revocation"] = web.documents["/status-lists/uni-sofia/revocation"]
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert "status" not in report and report["errors"], report


def test_text_that_trips_canonicalizers_up_still_verifies(node: str, saarland) -> None:
    credential = saarland.issue(
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
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (0, True), report


def test_a_joint_credentials_endorsements_are_verified_too(node: str, web, saarland, sofia) -> None:
    code, report = verified_by_digital_bazaar(node, saarland.issue(endorsers=(sofia,)))
    assert (code, report["verified"]) == (0, True), report
    [endorsement] = report["endorsements"]
    assert (endorsement["issuer"], endorsement["verified"]) == (sofia.did, True)
    assert "/institutions/uni-sofia/did.json" in web.requested


def test_a_joint_credential_with_a_tampered_endorsement_is_rejected(node: str, saarland, sofia) -> None:
    credential = saarland.issue(endorsers=(sofia,))
    credential["endorsement"][0]["credentialSubject"]["endorsementComment"] = (
        "Sofia University does not know this course."
    )
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    [endorsement] = report["endorsements"]
    assert endorsement["verified"] is False


def test_an_endorsement_of_another_credential_is_rejected(node: str) -> None:
    credential = joint_credential([sofia_endorsement(endorsed="urn:uuid:00000000-0000-4000-8000-000000000000")])
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert any("not this credential" in error for error in report["endorsements"][0]["errors"])


@pytest.mark.parametrize("seed", range(4))
def test_randomized_credentials_are_accepted(node: str, saarland, sofia, seed: int) -> None:
    # Unicode of every script, quotes, backslashes, tabs and line breaks, numbers such as 2.5 and 3, up to 30
    # learning outcomes and 5 awarding bodies: the bytes the fast canonicalization path signs are jsonld.js's too.
    rng = random.Random(seed)
    credential_id = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    unsigned = json.loads(open_badge_credential_json(
        random_record(rng), credential_id, saarland.profile, ISSUED_AT, saarland.status(rng.randrange(131072))
    ))
    endorsements = [
        endorsement_credential(
            credential_id, sofia.profile, text(rng, 50), private_key=sofia.key, verification_method=sofia.method,
            issued_at=ISSUED_AT,
        )
        for _ in range(seed % 2)
    ]
    unsigned = with_endorsements(unsigned, endorsements)
    assert canonicalize_fast(unsigned) is not None
    code, report = verified_by_digital_bazaar(node, sign(unsigned, saarland.key, saarland.method, created=ISSUED_AT))
    assert (code, report["verified"]) == (0, True), report


def every_kind_issued_by(saarland: Institution, sofia: Institution) -> dict[str, dict[str, Any]]:
    joint = saarland.issue(endorsers=(sofia,))
    return {
        "single": saarland.issue(),
        "joint": joint,
        "endorsement": joint["endorsement"][0],
        "programme": programme_credential(saarland.profile, saarland.key, saarland.method, saarland.status(4711)),
        "status list": saarland.web.documents["/status-lists/uni-saarland/revocation"],
    }


@pytest.mark.parametrize("kind", ["single", "joint", "endorsement", "programme", "status list"])
def test_every_kind_of_credential_verifies_with_the_standard_contexts_alone(node: str, saarland, sofia, kind) -> None:
    code, report = verified_by_digital_bazaar(node, every_kind_issued_by(saarland, sofia)[kind])
    assert (code, report["verified"]) == (0, True), report


def test_a_context_that_is_not_standard_is_refused_not_fetched(node: str, web) -> None:
    credential = signed_credential()
    web.documents["/context.jsonld"] = {"@context": {"honours": "urn:example:honours"}}
    credential["@context"] = [*credential["@context"], f"{web.url}/context.jsonld"]
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert any("is not a standard context" in error for error in report["errors"]), report
    assert web.requested == [], "nothing was fetched"


def test_plain_http_is_used_for_this_machine_only(node: str) -> None:
    credential = signed_credential(
        status=status_lists.status_entry("http://node.example", "uni-saarland", 7, StatusPurpose.REVOCATION)
    )
    code, report = verified_by_digital_bazaar(node, credential)
    assert (code, report["verified"]) == (1, False)
    assert any("only https URLs" in error for error in report["errors"]), report


# Signed by Digital Bazaar's libraries, checked in Python.


def test_a_credential_signed_by_digital_bazaars_libraries_verifies_in_python(node: str) -> None:
    unsigned = json.loads(open_badge_credential_json(
        sample_record(), CREDENTIAL_ID, IssuerProfile(id="did:key:placeholder", name="Saarland University"), ISSUED_AT
    ))
    code, signed = run(node, "issue.mjs", unsigned)
    assert code == 0, signed
    [proof] = signed["proof"] if isinstance(signed["proof"], list) else [signed["proof"]]
    assert proof["cryptosuite"] == "eddsa-rdfc-2022"
    result = verify(signed, keys.KeyResolver())
    assert result.verified, result.problems
    tamper_grade(signed)
    assert not verify(signed, keys.KeyResolver()).verified


def test_the_contexts_python_signs_with_are_the_published_ones(node: str) -> None:
    code, report = run(node, "check-contexts.mjs", {})
    assert (code, report["mismatches"]) == (0, [])
    assert len(report["checked"]) == 2
