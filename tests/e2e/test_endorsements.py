"""A joint credential endorsed where the keys live, between two nodes as separate processes: each node a catalogue, a
certification service and an alliance gateway (`python -m services.<name> serve`), with its own database, topic prefix and Kafka
principals, the gateways on the alliance bus as their nodes' principals, following one signed registry. The joint course is approved at A once B's
people consented at B (deploy/alliance_journey.py consent_at, over HTTP); A's joint credential of A and B gets B's endorsement, signed at B with B's key (A holds none of B's); Digital Bazaar's verifier
with the standard contexts accepts both, fetching A's and B's DID documents from their nodes; a duplicate request
changes nothing. (The same exchange in one process, with its refusals: tests/integration/test_alliance_endorsements.py.)"""

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest

from deploy.journey import Node as JourneyNode
from deploy.kafka_security import read_credentials
from shared.events import CloudEvent, Topic
from shared.events.alliance import EndorsementRequested, EndorsementSigned
from tests.alliance import alliance_key, did_of, publish, three_nodes, write_public_key
from tests.e2e.conftest import free_port, wait_ready
from tests.integration.conftest import eventually
from tests.integration.test_alliance_endorsements import (
    SAARLAND,
    SILESIA,
    WAIT,
    Node,
    arrived,
    committed_past,
    course_approved_at_a,
    credential_of,
    keys_of,
    node_uri,
    passed_at_a,
)
from tests.integration.test_independent_verifier import node, verified_by_digital_bazaar  # noqa: F401 (node: fixture)
from tests.stack import ROOT, Stack, kafka_security, produce, with_kafka_principals

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_nodes(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("endorsements")
    key = alliance_key()
    urls = {name: f"http://127.0.0.1:{free_port()}" for name in ("saarland", "silesia", "primorska")}
    registry = folder / "alliance-registry.json"
    publish(registry, three_nodes(urls, stack.topic_prefix, issued=datetime.now(UTC) - timedelta(minutes=5)), key)
    public_key = write_public_key(folder / "alliance-public.json", key)
    kafka_security(stack, "alliance", "--registry", str(registry), "--public-key", str(public_key), "--dir", str(folder / "bus"))
    follows = {"ALLIANCE_REGISTRY_URL": str(registry), "ALLIANCE_PUBLIC_KEY_FILE": str(public_key),
               "ALLIANCE_REGISTRY_POLL_SECONDS": "1"}
    processes: list[subprocess.Popen] = []
    nodes = {}
    catalogues: dict[str, str] = {}
    try:
        for name, body in (("saarland", SAARLAND), ("silesia", SILESIA)):
            node_stack = with_kafka_principals(dataclasses.replace(
                stack, topic_prefix=f"{stack.topic_prefix}{name}.", database_prefix=f"{stack.database_prefix}_{name}"
            ))
            nodes[name] = Node(name, node_stack, {}, keys_of(folder / f"{name}-keys", body))
            own = os.environ | node_stack.env() | follows | {"NODE_URI": node_uri(name)}
            bus = read_credentials(folder / "bus" / f"{stack.topic_prefix}{name}.properties")
            gateway_url = f"http://127.0.0.1:{free_port()}"
            catalogues[name] = f"http://127.0.0.1:{free_port()}"
            for service, url, env in (
                ("catalogue", catalogues[name], node_stack.kafka_env("catalogue") | {"CONSENT_RETRY_SECONDS": "2"}),
                ("certification", urls[name], node_stack.kafka_env("certification") | {
                    "PUBLIC_URL": urls[name], "ISSUER_KEYS_DIR": str(nodes[name].keys),
                    "ENDORSEMENT_RETRY_SECONDS": "2", "STATUS_LIST_CACHE_SECONDS": "1", "PROOF_PROCESSES": "1",
                }),
                ("alliance", gateway_url, node_stack.kafka_env("alliance") | {
                    "ALLIANCE_NODE_ID": name, "ALLIANCE_TOPIC_PREFIX": stack.topic_prefix,
                    "ALLIANCE_KAFKA_USERNAME": bus["kafka_username"], "ALLIANCE_KAFKA_PASSWORD": bus["kafka_password"],
                }),
            ):
                log = ROOT / ".run" / "logs" / f"e2e-endorsements-{name}-{service}.log"
                log.parent.mkdir(parents=True, exist_ok=True)
                process = subprocess.Popen(
                    [sys.executable, "-m", f"services.{service}", "serve"], cwd=ROOT,
                    env=own | env | {"HTTP_PORT": url.rsplit(":", 1)[1]}, stdout=log.open("w"), stderr=subprocess.STDOUT,
                )
                processes.append(process)
                wait_ready(url, process, str(log))
        journeys = {
            name: JourneyNode(urls={"catalogue": url}, kafka=stack.kafka, maildir=folder / "mail",
                              auth_key=stack.auth_private_key, timeout=WAIT)
            for name, url in catalogues.items()
        }
        yield SimpleNamespace(urls=urls, nodes=nodes, catalogues=catalogues, journeys=journeys, stack=stack)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def test_as_joint_credential_carries_bs_endorsement_signed_at_b_and_digital_bazaar_accepts_both(two_nodes, node):
    async with contextlib.AsyncExitStack() as clients:
        a_client = await clients.enter_async_context(httpx.AsyncClient(base_url=two_nodes.urls["saarland"], timeout=60))
        catalogues = {
            name: await clients.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            for name, url in two_nodes.catalogues.items()
        }
        alliance = SimpleNamespace(nodes=two_nodes.nodes, saarland=a_client, catalogues=catalogues,
                                   journeys=two_nodes.journeys, stack=two_nodes.stack)
        course_id = await course_approved_at_a(alliance, SAARLAND, SILESIA)
        who = await passed_at_a(alliance, course_id)
        credential = await credential_of(alliance, who, complete=True)
        vc = credential["credential"]
        b_did = did_of(two_nodes.urls["silesia"], "uni-silesia")
        [endorsement] = vc["endorsement"]
        assert (endorsement["issuer"]["id"], endorsement["credentialSubject"]["id"]) == (b_did, vc["id"])
        assert [path.name for path in two_nodes.nodes["saarland"].keys.glob("*.pem")] == ["uni-saarland.pem"]

        code, report = await asyncio.to_thread(verified_by_digital_bazaar, node, vc)
        assert (code, report["verified"]) == (0, True), report
        assert [(e["issuer"], e["verified"]) for e in report["endorsements"]] == [(b_did, True)]

        # A duplicate request: B answers with the very same endorsement, and A's credential stays as it was.
        a = two_nodes.nodes["saarland"].stack
        request = EndorsementRequested(sender="saarland", recipient="silesia", credential_id=credential["id"],
                                       institution="uni-silesia", lead_institution="uni-saarland",
                                       course_id=course_id, course_version=1, credential=vc)
        await produce(a, Topic.ALLIANCE_OUTGOING, CloudEvent.wrap(request, source=node_uri("saarland")).to_bytes(), request.key)
        answers = await arrived(a, Topic.ALLIANCE_INCOMING, request.key, count=2)
        signed = [EndorsementSigned.model_validate(CloudEvent.model_validate_json(r.value).data) for r in answers]
        assert signed[0].endorsement == signed[1].endorsement == endorsement
        await eventually(lambda: committed_past(a, "mc-certification", answers[-1]), timeout=WAIT)
        assert (await credential_of(alliance, who))["credential"] == vc

