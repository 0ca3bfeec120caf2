"""Messages addressed to one partner, and joint credentials endorsed where the keys live: two nodes on the real Kafka
and PostgreSQL, each with its own topic prefix, database, Kafka principals (its services' on the node's side, the
node's own on the alliance bus), certification service (served over HTTP at the node's base URL, where the other
node fetches its DID documents and status lists), catalogue (joint courses are approved only with each partner's
consent at its node) and gateway, following one signed registry. Node A (Saarbrücken)
hosts Saarland University, node B (Katowice) the University of Silesia; a third member's node (Koper) is in the
registry but never answers.

What a user would notice: a message A's services address to B reaches B's services once, however often it comes;
one under another node's name, or for another node, or naming another sender, is dead-lettered with the reason; a
joint credential of A and B carries B's endorsement, signed at B with B's key, which Digital Bazaar's verifier
accepts with the credential; the endorsement of the member that does not answer stays pending and is asked for again;
a duplicate request changes nothing; a node whose key directory holds another member's key does not start."""

import asyncio
import contextlib
import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.kafka_security import read_credentials
from services.alliance.app import create_service as create_gateway
from services.alliance.settings import AllianceSettings
from deploy.alliance_journey import consent_at
from deploy.journey import Node as JourneyNode
from services.catalogue.app import create_service as create_catalogue
from services.catalogue.settings import CatalogueSettings
from services.certification.app import create_service as create_certification
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import InstitutionProfile, create_key, save_profile
from services.certification.trust import ForeignKey
from services.certification.tests.test_domain import alliance_course
from shared.auth import Role
from shared.events import CloudEvent, Topic, dead_letter_topic
from shared.events.alliance import (
    AddressedMessage,
    ConsentGiven,
    EndorsementDeclined,
    EndorsementRequested,
    EndorsementSigned,
)
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import AwardingBody
from shared.events.certification import CredentialCompleted
from shared.events.common import LearnerIdentity
from shared.events.topics import addressed_topic
from shared.kafka import client_options
from tests.alliance import alliance_key, did_of, publish, three_nodes, write_public_key
from tests.integration.conftest import eventually, running, served
from tests.stack import free_port
from tests.integration.test_independent_verifier import node, verified_by_digital_bazaar  # noqa: F401 (node: fixture)
from tests.stack import Stack, header, kafka_security, produce, read_topic, with_kafka_principals

pytestmark = pytest.mark.integration

ALLIANCE_KEY = alliance_key()
NOW = datetime.now(UTC)
SAARLAND = AwardingBody(id="uni-saarland", name="Universität des Saarlandes", country="DE")
SILESIA = AwardingBody(id="uni-silesia", name="University of Silesia in Katowice", country="PL")
PRIMORSKA = AwardingBody(id="upr", name="Univerza na Primorskem", country="SI")
# Through two gateways and three consumers each way, on a busy machine.
WAIT = 90.0


def node_uri(node: str) -> str:
    return f"urn:microcredentials:node:{node}"


@dataclasses.dataclass
class Node:
    name: str
    stack: Stack
    follows: dict[str, Any]
    keys: Path

    def settings(self, settings_class: type, **overrides: Any) -> Any:
        return self.stack.settings(settings_class, node_uri=node_uri(self.name), **(self.follows | overrides))


def keys_of(folder: Path, *bodies: AwardingBody) -> Path:
    for body in bodies:
        assert body.id is not None
        create_key(folder, body.id)
        save_profile(folder, body.id, InstitutionProfile(body.name, body.country))
    return folder


@pytest.fixture(scope="module")
async def alliance(stack: Stack, tmp_path_factory: pytest.TempPathFactory):
    # Each module that uses it gets an alliance of its own (topics, consumer groups, databases): one module's events
    # and rows must not reach the next one's services.
    run = uuid.uuid4().hex[:6]
    stack = dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}a{run}.",
                                database_prefix=f"{stack.database_prefix}_a{run}")
    folder = tmp_path_factory.mktemp("alliance-endorsements")
    ports = {name: free_port() for name in ("saarland", "silesia", "primorska")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    registry = folder / "alliance-registry.json"
    publish(registry, three_nodes(urls, stack.topic_prefix, issued=NOW - timedelta(minutes=5)), ALLIANCE_KEY)
    public_key = write_public_key(folder / "alliance-public.json", ALLIANCE_KEY)
    bus_credentials = folder / "bus"
    await asyncio.to_thread(
        kafka_security, stack, "alliance", "--registry", str(registry), "--public-key", str(public_key),
        "--dir", str(bus_credentials),
    )
    follows = dict(alliance_registry_url=str(registry), alliance_public_key_file=str(public_key),
                   alliance_registry_poll_seconds=0.2)
    nodes = {}
    for name, body in (("saarland", SAARLAND), ("silesia", SILESIA)):
        node_stack = await asyncio.to_thread(
            with_kafka_principals,
            dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}{name}.",
                                database_prefix=f"{stack.database_prefix}_{name}"),
        )
        nodes[name] = Node(name, node_stack, follows, keys_of(folder / f"{name}-keys", body))

    def certification(name: str, **overrides: Any) -> Any:
        return create_certification(nodes[name].settings(
            CertificationSettings,
            **dict(public_url=urls[name], issuer_keys_dir=str(nodes[name].keys), proof_processes=0,
                   endorsement_retry_seconds=1.0, status_list_cache_seconds=0) | overrides,
        ))

    def catalogue(name: str) -> Any:
        return create_catalogue(nodes[name].settings(CatalogueSettings, consent_retry_seconds=1.0))

    def gateway(name: str) -> Any:
        bus = read_credentials(bus_credentials / f"{stack.topic_prefix}{name}.properties")
        return create_gateway(nodes[name].settings(
            AllianceSettings, alliance_node_id=name, alliance_topic_prefix=stack.topic_prefix,
            alliance_kafka_username=bus["kafka_username"], alliance_kafka_password=bus["kafka_password"],
        ))

    async with contextlib.AsyncExitStack() as running_nodes:
        world = SimpleNamespace(stack=stack, urls=urls, nodes=nodes, folder=folder, certification=certification,
                                catalogues={}, journeys={})
        for name in ("saarland", "silesia"):
            setattr(world, name, await running_nodes.enter_async_context(served(certification(name), ports[name])))
            catalogue_port = free_port()
            world.catalogues[name] = await running_nodes.enter_async_context(served(catalogue(name), catalogue_port))
            # The node as deploy/alliance_journey.py drives it over HTTP (consent_at), its users' tokens signed with
            # the session's key.
            world.journeys[name] = JourneyNode(
                urls={"catalogue": f"http://127.0.0.1:{catalogue_port}"}, kafka=stack.kafka, maildir=folder / "mail",
                auth_key=stack.auth_private_key, timeout=WAIT,
            )
            await running_nodes.enter_async_context(running(gateway(name)))
        yield world


def declined(sender: str, recipient: str, credential_id: str | None = None) -> EndorsementDeclined:
    return EndorsementDeclined(sender=sender, recipient=recipient, credential_id=credential_id or uuid.uuid4().hex,
                               institution="uni-silesia", reason="a test message")


async def arrived(stack: Stack, topic: str, key: str, count: int = 1) -> list:
    records = await read_topic(stack, topic, until=lambda rs: sum(r.key == key.encode() for r in rs) >= count,
                               timeout=WAIT)
    return [record for record in records if record.key == key.encode()]


async def dead_letters(stack: Stack, key: str, count: int = 1) -> list[str]:
    """The reasons of a node's gateway's dead letters (on the node's own cluster) for messages with this key."""
    return [header(record, "x-dead-letter-reason") or "" for record in await arrived(stack, dead_letter_topic("alliance"), key, count)]


async def test_a_message_a_service_addresses_to_a_partner_reaches_the_partners_services_once(alliance):
    a, b = alliance.nodes["saarland"].stack, alliance.nodes["silesia"].stack
    message = declined("saarland", "silesia")
    await produce(a, Topic.ALLIANCE_OUTGOING, CloudEvent.wrap(message, source=node_uri("saarland")).to_bytes(), message.key)
    [record] = await arrived(b, Topic.ALLIANCE_INCOMING, message.key)
    delivered = CloudEvent.model_validate_json(record.value)
    assert (delivered.type, delivered.source) == (message.type, node_uri("silesia")), "re-published by B's gateway"
    assert EndorsementDeclined.model_validate(delivered.data) == message

    # The same event twice on the bus (a producer's retry): taken in once. A second message, after it, shows when the
    # duplicate has been handled.
    again, after = declined("saarland", "silesia"), declined("saarland", "silesia")
    twice = CloudEvent.wrap(again, source=node_uri("saarland")).to_bytes()
    for value, key in ((twice, again.key), (twice, again.key), (CloudEvent.wrap(after, source=node_uri("saarland")).to_bytes(), after.key)):
        await produce(alliance.stack, addressed_topic("saarland", "silesia"), value, key)
    await arrived(b, Topic.ALLIANCE_INCOMING, after.key)
    assert len(await arrived(b, Topic.ALLIANCE_INCOMING, again.key)) == 1


async def test_an_addressed_message_under_another_name_or_for_another_node_is_dead_lettered_with_the_reason(alliance):
    """A's topic to B can be written only by A's principal (the broker's ACLs); here the cluster's administrator puts
    there what a compromised or mistaken A might."""
    a, b = alliance.nodes["saarland"].stack, alliance.nodes["silesia"].stack
    topic = addressed_topic("saarland", "silesia")
    forged, elsewhere, impostor = declined("saarland", "silesia"), declined("saarland", "primorska"), declined("primorska", "silesia")
    for message, source in ((forged, node_uri("silesia")), (elsewhere, node_uri("saarland")), (impostor, node_uri("saarland"))):
        await produce(alliance.stack, topic, CloudEvent.wrap(message, source=source).to_bytes(), message.key)
    [claimed] = await dead_letters(b, forged.key)
    assert f"on topic {topic} claims the source '{node_uri('silesia')}'; only the node saarland" in claimed
    [misdirected] = await dead_letters(b, elsewhere.key)
    assert "is addressed to 'primorska', not to this node ('silesia')" in misdirected
    [posing] = await dead_letters(b, impostor.key)
    assert "names 'primorska' as its sender, but it came from node 'saarland'" in posing

    # A's own services cannot send as another node either: A's gateway refuses it before it leaves.
    posed = declined("silesia", "saarland")
    await produce(a, Topic.ALLIANCE_OUTGOING, CloudEvent.wrap(posed, source=node_uri("saarland")).to_bytes(), posed.key)
    [refused] = await dead_letters(a, posed.key)
    assert "names 'silesia' as its sender, but this node is 'saarland'" in refused


# --- joint credentials ---


def staff(alliance, node: str, role: Role, institution: str, who: str = "") -> dict[str, str]:
    return alliance.nodes[node].stack.bearer(f"{who or role.value}@{institution}", role, institution=institution)


async def course_submitted_at_a(alliance, *bodies: AwardingBody, title: str = "") -> dict[str, Any]:
    """A course of the bodies (Saarland University leading), designed and submitted at A's catalogue over HTTP."""
    description = alliance_course().model_copy(
        update={"awarding_bodies": list(bodies), "title": title or f"Just Transition {uuid.uuid4().hex[:4]}"}
    )
    client = alliance.catalogues["saarland"]
    designer = staff(alliance, "saarland", Role.COURSE_DESIGNER, "uni-saarland")
    response = await client.post("/courses", json={"description": description.model_dump(mode="json")}, headers=designer)
    assert response.status_code == 201, response.text
    course = response.json()
    submitted = await client.post(f"/courses/{course['id']}/submit", headers=designer)
    assert submitted.status_code == 200, submitted.text
    return submitted.json()


async def approved_by_as_qa(alliance, course_id: str) -> dict[str, Any]:
    response = await alliance.catalogues["saarland"].post(
        f"/courses/{course_id}/approve", headers=staff(alliance, "saarland", Role.QA_OFFICER, "uni-saarland")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def status_at_a(alliance, course_id: str, status: str, version: int = 1) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        course = (await alliance.catalogues["saarland"].get(f"/courses/{course_id}/versions/{version}")).json()
        return course if course["status"] == status else None

    return await eventually(probe, timeout=WAIT)


async def known_to_as_certification(alliance, course_id: str) -> None:
    """A's certification has taken in the course's approval before a grade comes (on another topic)."""
    a = alliance.nodes["saarland"].stack
    records = await arrived(a, Topic.COURSES, course_id, count=2)  # submitted, approved
    await eventually(lambda: committed_past(a, "mc-certification", records[-1]), timeout=WAIT)


async def course_approved_at_a(alliance, *bodies: AwardingBody) -> str:
    """A course approved as the alliance does it: A's QA approves; for a joint course, Silesia's people consent at B
    (through HTTP, as deploy/alliance_journey.py's consent_at does), and Primorska's node, which never answers
    otherwise, consents on the bus (the test writes its answer as that node's gateway would). A course of A's alone
    is approved by A's QA."""
    course = await course_submitted_at_a(alliance, *bodies)
    course_id = course["id"]
    joint = SILESIA in bodies or PRIMORSKA in bodies
    assert (await approved_by_as_qa(alliance, course_id))["status"] == ("awaiting-consent" if joint else "approved")
    if SILESIA in bodies:
        await asyncio.to_thread(consent_at, alliance.journeys["silesia"], course_id)
    if PRIMORSKA in bodies:
        await answered_by_primorska(alliance, ConsentGiven(
            sender="primorska", recipient="saarland", course_id=course_id, course_version=1, institution="upr",
            given_at=datetime.now(UTC),
        ))
    await status_at_a(alliance, course_id, "approved")
    await known_to_as_certification(alliance, course_id)
    return course_id


async def answered_by_primorska(alliance, answer: AddressedMessage) -> None:
    await produce(alliance.stack, addressed_topic("primorska", "saarland"),
                  CloudEvent.wrap(answer, source=node_uri("primorska")).to_bytes(), answer.key)


async def passed_at_a(alliance, course_id: str) -> LearnerIdentity:
    learner_id = f"learner-{uuid.uuid4().hex[:8]}"
    who = LearnerIdentity(learner_id=learner_id, name="Zofia Kowalska", email=f"{learner_id}@us.edu.pl")
    event = GradeRecorded(grade_id=str(uuid.uuid4()), enrolment_id=str(uuid.uuid4()), course_id=course_id,
                          course_version=1, learner_id=learner_id, learner=who, grade="1.3", passed=True,
                          assessed_on=date.today(), submission_id=str(uuid.uuid4()))
    a = alliance.nodes["saarland"].stack
    await produce(a, Topic.GRADES, CloudEvent.wrap(event, source=node_uri("saarland")).to_bytes(), learner_id)
    return who


async def credential_of(alliance, who: LearnerIdentity, **expected: Any) -> dict[str, Any]:
    a, client = alliance.nodes["saarland"].stack, alliance.saarland
    headers = a.bearer(who.learner_id, Role.LEARNER, name=who.name, email=who.email)

    async def probe() -> dict[str, Any] | None:
        listed = (await client.get("/credentials", headers=headers)).json()
        if not listed:
            return None
        credential = (await client.get(f"/credentials/{listed[0]['id']}", headers=headers)).json()
        return credential if all(credential[name] == value for name, value in expected.items()) else None

    return await eventually(probe, timeout=WAIT)


async def committed_past(stack: Stack, group: str, record) -> bool:
    admin = AIOKafkaAdminClient(**client_options(stack.harness()))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{stack.topic_prefix}{group}")
    finally:
        await admin.close()
    partition = TopicPartition(record.topic, record.partition)
    return partition in committed and committed[partition].offset > record.offset


async def test_a_joint_credential_of_a_and_b_carries_bs_endorsement_signed_at_b(alliance, node):
    course_id = await course_approved_at_a(alliance, SAARLAND, SILESIA)
    who = await passed_at_a(alliance, course_id)
    credential = await credential_of(alliance, who, complete=True)
    vc = credential["credential"]
    assert credential["pending_endorsements"] == [] and credential["endorsement_requests"] == []
    [endorsement] = vc["endorsement"]
    b_did = did_of(alliance.urls["silesia"], "uni-silesia")
    assert (endorsement["issuer"]["id"], endorsement["credentialSubject"]["id"]) == (b_did, vc["id"])
    assert [proof["verificationMethod"] for proof in endorsement["proof"]] == [f"{b_did}#key-1"]
    assert vc["issuer"]["id"] == did_of(alliance.urls["saarland"], "uni-saarland")
    # Signed at B: A's node holds no key of B's university (its DID document is served by B alone).
    assert sorted(path.name for path in alliance.nodes["saarland"].keys.glob("*.pem")) == ["uni-saarland.pem"]

    # Digital Bazaar's verifier, with the standard contexts only, fetching A's and B's DID documents from their nodes.
    code, report = await asyncio.to_thread(verified_by_digital_bazaar, node, vc)
    assert (code, report["verified"]) == (0, True), report
    assert [(e["issuer"], e["verified"]) for e in report["endorsements"]] == [(b_did, True)]
    # And every node's /verify: A's and B's.
    for client in (alliance.saarland, alliance.silesia):
        verdict = (await client.post("/verify", json=vc)).json()
        assert verdict["valid"] and verdict["endorsed_by"] == ["University of Silesia in Katowice"], verdict
    # A tells the learner (notifications emails them) that the credential is complete: issued, then completed.
    told = [CloudEvent.model_validate_json(record.value) for record in await arrived(
        alliance.nodes["saarland"].stack, Topic.CREDENTIALS, who.learner_id, count=2)]
    assert [event.type.split(".")[-2] for event in told] == ["issued", "completed"]
    completed = CredentialCompleted.model_validate(told[1].data)
    assert (completed.credential_id, completed.endorsed_by) == (credential["id"], ["University of Silesia in Katowice"])

    # The same request again (A's retry after a lost answer, say): B answers with the same endorsement, and A's
    # credential does not change.
    a = alliance.nodes["saarland"].stack
    request = EndorsementRequested(sender="saarland", recipient="silesia", credential_id=credential["id"],
                                   institution="uni-silesia", lead_institution="uni-saarland", course_id=course_id,
                                   course_version=1, credential=vc)
    await produce(a, Topic.ALLIANCE_OUTGOING, CloudEvent.wrap(request, source=node_uri("saarland")).to_bytes(), request.key)
    answers = await arrived(a, Topic.ALLIANCE_INCOMING, request.key, count=2)
    signed = [EndorsementSigned.model_validate(CloudEvent.model_validate_json(r.value).data) for r in answers]
    assert signed[0].endorsement == signed[1].endorsement == endorsement, "signed once at B"
    await eventually(lambda: committed_past(a, "mc-certification", answers[-1]), timeout=WAIT)
    assert (await credential_of(alliance, who))["credential"] == vc


async def test_an_endorsement_a_member_does_not_give_stays_pending_and_is_asked_for_again(alliance):
    course_id = await course_approved_at_a(alliance, SAARLAND, SILESIA, PRIMORSKA)
    who = await passed_at_a(alliance, course_id)
    credential = await credential_of(alliance, who, pending_endorsements=["upr"])
    assert credential["complete"] is False
    [endorsement] = credential["credential"]["endorsement"]
    assert endorsement["issuer"]["id"] == did_of(alliance.urls["silesia"], "uni-silesia")

    async def asked_again() -> dict[str, Any] | None:
        current = await credential_of(alliance, who)
        [request] = current["endorsement_requests"]
        return request if request["attempts"] >= 3 else None

    request = await eventually(asked_again, timeout=WAIT)
    assert (request["institution"], request["node"]) == ("upr", "primorska")
    # The verify page of the credential (its QR code) says which endorsement is awaited.
    page = (await alliance.saarland.get("/verify", params={"id": credential["id"]})).text
    assert "not complete yet: the endorsement of\nUniverza na Primorskem is still awaited from its own node" in page


async def test_a_node_whose_key_directory_holds_another_members_key_does_not_start(alliance):
    keys = keys_of(alliance.folder / "taken-keys", SILESIA, SAARLAND)
    service = alliance.certification("silesia", issuer_keys_dir=str(keys))
    with pytest.raises(ForeignKey) as refused:
        async with running(service):
            pass
    assert "holds the signing key of another member of the alliance: uni-saarland (Universität des Saarlandes)" in str(
        refused.value
    )
    assert "hosted by node saarland" in str(refused.value)
