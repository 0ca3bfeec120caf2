"""A credential issued by the running node (A) is checked at another node of the alliance (B: a certification service
of its own, a separate process with its own database, following a signed registry that lists both): B's verify page,
in Chromium, says valid and names A's university as a member of the alliance; A's registrar revokes; B says revoked
once its kept status list has expired; a key outside the registry is not valid at B."""

import dataclasses
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from deploy.journey import REGISTRAR, Node, sample_course
from services.certification.signing_keys import InstitutionProfile, create_key, save_profile
from services.certification.tests.test_verification import forged_credential
from tests.alliance import alliance_key, publish, registry_data, write_public_key
from tests.e2e.conftest import free_port, wait_ready
from tests.e2e.test_verification import shown_on_the_verify_page
from tests.integration.test_metrics import sample
from tests.stack import ROOT, Stack, with_kafka_principals

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node_b(node: Node, stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    folder = tmp_path_factory.mktemp("alliance")
    key = alliance_key()
    url = f"http://127.0.0.1:{free_port()}"
    registry = folder / "alliance-registry.json"
    # Node A (the running node) hosts uni-saarland: its certification service is where its DIDs and lists are.
    publish(registry, registry_data(issued=datetime.now(UTC), saarland=node.urls["certification"], silesia=url), key)
    create_key(folder / "keys", "uni-silesia")
    save_profile(folder / "keys", "uni-silesia", InstitutionProfile("University of Silesia in Katowice", "PL"))
    b_stack = with_kafka_principals(
        dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}b.", database_prefix=f"{stack.database_prefix}_b")
    )
    env = os.environ | b_stack.env() | b_stack.kafka_env("certification") | {
        "HTTP_PORT": url.rsplit(":", 1)[1], "PUBLIC_URL": url, "ISSUER_KEYS_DIR": str(folder / "keys"),
        "ALLIANCE_REGISTRY_URL": str(registry),
        "ALLIANCE_PUBLIC_KEY_FILE": str(write_public_key(folder / "alliance-public.json", key)),
        "STATUS_LIST_CACHE_SECONDS": "1",
    }
    log = ROOT / ".run" / "logs" / "e2e-certification-b.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "services.certification", "serve"], cwd=ROOT, env=env, stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(url, process, str(log))
        b = Node(urls={"certification": url}, kafka=stack.kafka, maildir=stack.maildir, auth_key=stack.auth_private_key)
        b.wait_for("node B to take the registry", lambda: _serial(url) == 1 or None)
        yield b
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _serial(url: str) -> float:
    return sample(httpx.get(f"{url}/metrics").text, "mc_alliance_registry_serial")


def test_another_node_says_valid_naming_the_member_and_revoked_once_its_node_revoked_it(node: Node, node_b: Node):
    offering = node.opened_offering(node.approved_course(sample_course(f"Alliance Course {uuid.uuid4().hex[:4]}")))
    learner = node.registered_learner("Lena Weber")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(offering["course_id"], learner.subject, grade="1.3", passed=True)
    credential = node.wait_for_credential(learner.subject)
    vc = credential["credential"]

    page = shown_on_the_verify_page(node_b, vc, "verify-member-at-another-node.png", paste=True)
    assert (page["outcome"], page["class"], page["heading"]) == ("valid", "verdict valid", "Valid")
    assert "VALID — Universität des Saarlandes, a member of Transform4Europe, issued this credential to Lena Weber" in (
        page["text"]
    )
    assert "Universität des Saarlandes (DE), a member of Transform4Europe" in page["text"]

    node.ok("POST", "certification", f"/credentials/{credential['id']}/revoke", by=REGISTRAR,
            json={"reason": "the examination board annulled the exam"})

    def revoked_at_b() -> dict | None:
        verdict = node_b.ok("POST", "certification", "/verify", json=vc)
        return verdict if verdict["outcome"] == "revoked" else None

    verdict = node_b.wait_for("node B to see the revocation", revoked_at_b)
    assert verdict["summary"].startswith("REVOKED — Universität des Saarlandes, a member of Transform4Europe")
    page = shown_on_the_verify_page(node_b, vc, "verify-member-revoked-at-another-node.png")
    assert (page["outcome"], page["heading"]) == ("revoked", "Revoked")


def test_a_key_outside_the_registry_is_not_valid_at_the_other_node(node_b: Node):
    verdict = node_b.ok("POST", "certification", "/verify", json=forged_credential("Universität des Saarlandes"))
    assert (verdict["outcome"], verdict["valid"]) == ("unknown-issuer", False)
