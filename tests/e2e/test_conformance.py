"""The conformance kit as a partner runs it (`python -m conformance --node node.json`): it passes against this project's
node, and fails against a node whose assessment service is replaced by a stub that publishes a non-conforming
GradeRecorded (tests/e2e/broken_assessment.py), naming the checks that fail and why. With the description's `alliance`
section the kit acts as a partner node of the node (registry, alliance bus, its own DID document and key) and follows
the joint-course consent and endorsement exchanges with it.

Each test starts its node under a topic and database prefix of its own, with its own Kafka principals and an auditor
for the kit, so that no other test's events or dead letters reach the kit's report."""

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.journey import NODE_LMS, Node
from deploy.kafka_security import auditor_principal, lms_principal, read_credentials
from services.certification.signing_keys import create_key
from tests.alliance import alliance_key, did_of, publish, write_public_key
from tests.e2e.conftest import ISSUING_INSTITUTIONS, free_port, issuer_keys, running_node, wait_ready
from tests.stack import ROOT, Stack, kafka_security, with_kafka_principals

pytestmark = pytest.mark.e2e

# Generated requests per HTTP operation (on top of schemathesis's boundary cases): enough to find an undocumented
# answer, few enough for the suite.
API_EXAMPLES = "3"
BROKEN_ASSESSMENT = "tests.e2e.broken_assessment"
GRADE_RECORDED = "eu.microcredentials.assessment.grade.recorded.v1"
ENDORSEMENT_REQUESTED = "eu.microcredentials.alliance.endorsement.requested.v1"
ENDORSEMENT_SIGNED = "eu.microcredentials.alliance.endorsement.signed.v1"
# The node under test and the kit's partner node in the test's alliance registry; the kit's node hosts the University
# of Silesia (the test node holds no key of it: its keys are Saarland's and Sofia's, and Sofia is no member).
NODE_UNDER_TEST, KIT_NODE = "saarland", "conformance"
KIT_SOURCE = "urn:microcredentials:node:conformance"
PARTNER = {"id": "uni-silesia", "name": "University of Silesia in Katowice", "country": "PL"}
# Joint courses ask each partner's consent once the catalogue speaks the consent contract (issue #12 item 1).


@dataclasses.dataclass
class Alliance:
    """The test's alliance of two nodes: the node under test and the kit's; the registry, signed, and the bus."""

    registry: Path
    public_key: Path
    bus_prefix: str
    bus_credentials: Path
    kit_url: str
    kit_key: Path

    @property
    def follows(self) -> dict[str, str]:
        """What every service of the node under test is started with."""
        return {"ALLIANCE_REGISTRY_URL": str(self.registry), "ALLIANCE_PUBLIC_KEY_FILE": str(self.public_key),
                "ALLIANCE_REGISTRY_POLL_SECONDS": "1", "ENDORSEMENT_RETRY_SECONDS": "5"}

    def principal_file(self, node: str) -> Path:
        return self.bus_credentials / f"{self.bus_prefix}{node}.properties"

    def section(self) -> dict[str, Any]:
        """The node description's `alliance` section: the kit as node `conformance` of the registry."""
        return {
            "node": KIT_NODE, "event_source": KIT_SOURCE, "base_url": self.kit_url, "institution": PARTNER,
            "did": did_of(self.kit_url, PARTNER["id"]), "signing_key": str(self.kit_key),
            "node_under_test": NODE_UNDER_TEST,
            "bus": {"topic_prefix": self.bus_prefix, "principal": {"properties": str(self.principal_file(KIT_NODE))}},
        }


def alliance_of(stack: Stack, own: Stack, folder: Path, node_url: str) -> Alliance:
    """A registry listing the node (at `node_url`, under its NODE_URI) hosting Saarland University and the kit's node
    hosting the University of Silesia, signed by the secretariat's key; the bus's topics and both nodes' principals
    under a prefix of the test's own (`python -m deploy.kafka_security alliance`), as deploy/alliance.sh makes them."""
    bus = dataclasses.replace(stack, topic_prefix=f"{own.topic_prefix}bus.")
    kit_url = f"http://127.0.0.1:{free_port()}"
    now = datetime.now(UTC)
    registry = {
        "alliance": {"id": "conformance", "name": "Conformance test alliance"},
        "serial": 1, "issued": (now - timedelta(minutes=5)).isoformat(), "expires": (now + timedelta(days=1)).isoformat(),
        "nodes": [
            {"id": NODE_UNDER_TEST, "base_url": node_url, "kafka_principal": f"User:{bus.topic_prefix}{NODE_UNDER_TEST}",
             "event_source": own.node_uri},
            {"id": KIT_NODE, "base_url": kit_url, "kafka_principal": f"User:{bus.topic_prefix}{KIT_NODE}",
             "event_source": KIT_SOURCE},
        ],
        "members": [
            {"institution": "uni-saarland", "legal_name": ISSUING_INSTITUTIONS["uni-saarland"][0], "country": "DE",
             "node": NODE_UNDER_TEST, "credential_dids": [did_of(node_url, "uni-saarland")]},
            {"institution": PARTNER["id"], "legal_name": PARTNER["name"], "country": PARTNER["country"],
             "node": KIT_NODE, "credential_dids": [did_of(kit_url, PARTNER["id"])]},
        ],
    }
    key = alliance_key()
    publish(folder / "alliance-registry.json", registry, key)
    alliance = Alliance(folder / "alliance-registry.json", write_public_key(folder / "alliance-public.json", key),
                        bus.topic_prefix, folder / "bus", kit_url, create_key(folder / "kit-keys", PARTNER["id"]))
    kafka_security(bus, "alliance", "--registry", str(alliance.registry), "--public-key", str(alliance.public_key),
                   "--dir", str(alliance.bus_credentials))
    return alliance


@contextlib.contextmanager
def gateway(own: Stack, alliance: Alliance, log_prefix: str) -> Iterator[None]:
    """The node's alliance gateway (`python -m services.alliance serve`): its only client of the alliance bus."""
    bus = read_credentials(alliance.principal_file(NODE_UNDER_TEST))
    port = free_port()
    env = os.environ | own.env() | own.kafka_env("alliance") | alliance.follows | {
        "HTTP_PORT": str(port), "ALLIANCE_NODE_ID": NODE_UNDER_TEST, "ALLIANCE_TOPIC_PREFIX": alliance.bus_prefix,
        "ALLIANCE_KAFKA_USERNAME": bus["kafka_username"], "ALLIANCE_KAFKA_PASSWORD": bus["kafka_password"],
    }
    log = ROOT / ".run" / "logs" / f"{log_prefix}-alliance.log"
    process = subprocess.Popen([sys.executable, "-m", "services.alliance", "serve"], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, str(log))
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def described_node(
    stack: Stack, folder: Path, name: str, replaced: Mapping[str, str] | None = None, partnered: bool = False
) -> Iterator[tuple[Node, Path]]:
    """A node of its own under `stack` (prefix `<session>.<name>.`), and the description its operator gives the kit;
    `partnered`: in an alliance with the kit's node, with its gateway, and the description's `alliance` section."""
    own = with_kafka_principals(
        dataclasses.replace(
            stack, topic_prefix=f"{stack.topic_prefix}{name}.", database_prefix=f"{stack.database_prefix}_{name}"
        )
    )
    assert own.kafka_credentials is not None
    kafka_security(own, "auditor", "add", "conformance", "--dir", str(own.kafka_credentials))
    # The registry names the node's base URL (its certification service's, where its DID documents are): known first.
    ports = {"certification": free_port()} if partnered else {}
    alliance = alliance_of(stack, own, folder, f"http://127.0.0.1:{ports['certification']}") if partnered else None
    with contextlib.ExitStack() as running:
        node = running.enter_context(running_node(
            own, issuer_keys(folder / "keys"), log_prefix=f"conformance-{name}", replaced=replaced, ports=ports,
            **(alliance.follows if alliance else {}),
        ))
        if alliance:
            running.enter_context(gateway(own, alliance, f"conformance-{name}"))
        institution = "uni-saarland"
        country_name, country = ISSUING_INSTITUTIONS[institution]
        description = {
            "source": own.node_uri,
            "services": node.urls,
            "kafka": {
                "topic_prefix": own.topic_prefix,
                "auditor": {"properties": f"kafka/{auditor_principal('conformance', own.topic_prefix)}.properties"},
                "lms": {"id": NODE_LMS.id, "properties": f"kafka/{lms_principal(NODE_LMS.id, own.topic_prefix)}.properties"},
            },
            "institution": {"id": institution, "name": country_name, "country": country},
            "tokens": {"signing_key": str(own.auth_private_key)},
        }
        if alliance:
            description["alliance"] = alliance.section()
        # Beside the credentials folder, so that the relative paths above are taken from it, as for a partner's file.
        path = own.kafka_credentials.parent / "node.json"
        path.write_text(json.dumps(description, indent=2))
        yield node, path


def conformance(description: Path, *options: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`python -m conformance --node <file> --json`: its exit code, its results by check, and all it printed."""
    command = [sys.executable, "-m", "conformance", "--node", str(description), "--api-examples", API_EXAMPLES, "--json"]
    finished = subprocess.run([*command, *options], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = finished.stdout + finished.stderr
    try:
        report = json.loads(finished.stdout)
    except ValueError:
        pytest.fail(f"the kit printed no JSON report (exit {finished.returncode}):\n{output}")
    return finished.returncode, {result["name"]: result for result in report["results"]}, output


def test_the_kit_passes_against_the_projects_node(stack: Stack, tmp_path: Path):
    with described_node(stack, tmp_path, "conforming") as (_, description):
        code, results, output = conformance(description)
    statuses = {name: result["status"] for name, result in results.items()}
    # Without the `alliance` section the kit cannot act as the node's partner: it says so rather than passing them.
    between_nodes = {"joint-course-consent", "endorsement-exchange"}
    assert statuses == {name: "not applicable" if name in between_nodes else "pass" for name in statuses}, output
    assert all("no `alliance` section" in results[name]["reasons"][0] for name in between_nodes), output
    assert code == 0, output
    assert {"kafka-access", "journey", "duplicate-grade", "dead-letter", "credential", "status-lists", "did-documents",
            "http-apis", "published-events", "no-stray-dead-letters"} <= set(statuses)
    # The report shows what was sent and what came back: here, the grade the LMS sent and the event it led to.
    journey = results["journey"]["exchanges"]
    assert any(e["sent"].startswith("Kafka: produce onto") and "stored at" in e["received"] for e in journey), output
    assert any(GRADE_RECORDED in e["received"] for e in journey), output


def test_the_kit_fails_against_a_node_that_publishes_a_non_conforming_event(stack: Stack, tmp_path: Path):
    with described_node(stack, tmp_path, "broken", replaced={"assessment": BROKEN_ASSESSMENT}) as (_, description):
        # Short waits: the broken node never publishes some of what the checks wait for.
        code, results, output = conformance(description, "--timeout", "20")
    assert code == 1, output
    # The flaw itself: which event, where, and the rule of the published contract it breaks.
    published = results["published-events"]
    assert published["status"] == "fail", output
    # Only the stub's events are faulted (the four real services' conform), each one for lacking `passed`.
    reasons = published["reasons"]
    assert reasons and all(GRADE_RECORDED in r and "mc.assessment.grades[" in r for r in reasons), output
    assert any("data: 'passed' is a required property (the type's JSON Schema)" in r for r in reasons), output
    # What a learner would notice: no passing grade recorded, hence no credential to check.
    assert results["journey"]["status"] == "fail", output
    assert any(f"published no {GRADE_RECORDED}" in reason for reason in results["journey"]["reasons"]), output
    assert results["credential"]["status"] == "skipped", output
    # The stub drops a message that is not JSON instead of putting it aside with the reason.
    assert results["dead-letter"]["status"] == "fail", output
    assert any("was not put on any dead-letter topic" in r for r in results["dead-letter"]["reasons"]), output


EXCHANGES = ("joint-course-consent", "endorsement-exchange", "published-events", "no-stray-dead-letters")


def test_the_kit_as_a_partner_node_follows_the_consent_and_endorsement_exchanges_with_the_projects_node(
    stack: Stack, tmp_path: Path
):
    with described_node(stack, tmp_path, "partnered", partnered=True) as (_, description):
        code, results, output = conformance(description, *(f"--check={name}" for name in EXCHANGES))
    # The joint credential: the node asked the kit's node with a credential that verifies, attached the endorsement
    # the kit signed with its own key (complete, and Digital Bazaar's verifier accepts both), and a duplicate answer
    # changed nothing; everything it published meanwhile conforms, and it dead-lettered nothing.
    for name in ("endorsement-exchange", "published-events", "no-stray-dead-letters"):
        assert results[name]["status"] == "pass", output
    exchanges = results["endorsement-exchange"]["exchanges"]
    assert any(ENDORSEMENT_REQUESTED in e["received"] and "alliance.saarland.to.conformance" in e["received"]
               for e in exchanges), output
    assert sum(ENDORSEMENT_SIGNED in e["sent"] for e in exchanges) == 3, "the answer, and twice again"
    # The joint course waited for the kit's node to consent, and was approved once it had.
    assert results["joint-course-consent"]["status"] == "pass" and code == 0, output
