"""Certification on the real Kafka and PostgreSQL: a pass becomes a signed credential that Digital Bazaar's verifier
accepts; registrars revoke and suspend it through Bitstring Status Lists; amended grades revoke or replace it; joint
courses carry the partners' endorsements; anyone can verify it."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.certification import issuing, reliances
from services.certification.app import create_service
from services.certification.handlers import event_handlers
from services.certification.issuing import Issuer
from services.certification.models import Credential, Share
from services.certification.settings import CertificationSettings
from services.certification.signing import CredentialSigner
from services.certification.status_lists import decode, get_bit
from services.certification.tests.test_domain import alliance_course
from services.certification.tests.test_signing import SOFIA, keys_dir  # noqa: F401 (keys_dir is a fixture)
from services.certification.vc import keys
from services.certification.vc.endorsement import verify_joint
from services.certification.workers import WorkerProcesses
from shared.auth import Role
from shared.db import UnitOfWork, create_engine, create_sessionmaker
from shared.events import CloudEvent, Topic, dead_letter_topic, parse_data
from shared.events.alliance import PartRevoked, RelianceDeclared
from shared.events.assessment import GradeAmended, GradeRecorded
from shared.events.catalogue import (
    AwardingBody,
    CourseApproved,
    ProgrammeApproved,
    StackingRule,
)
from shared.events.common import LearnerIdentity
from tests.integration.conftest import eventually, running
from shared.kafka import client_options
from tests.integration.test_independent_verifier import (  # noqa: F401 (node is a fixture)
    node,
    serving,
    verified_by_digital_bazaar,
)
from tests.stack import NODE_URI, cloud_event, free_port, header, produce, read_topic

pytestmark = pytest.mark.integration

PORT = free_port()
# Where this node says it is: Digital Bazaar's verifier fetches its DID documents and status lists from there.
PUBLIC_URL = f"http://127.0.0.1:{PORT}"
HOST = f"127.0.0.1%3A{PORT}"
SAARLAND = AwardingBody(id="uni-saarland", name="Saarland University", country="DE", url="https://www.uni-saarland.de")
TRIER = AwardingBody(id="uni-trier", name="Trier University", country="DE")


@pytest.fixture(scope="module")
async def client(stack, keys_dir):
    settings = stack.settings(CertificationSettings, issuer_keys_dir=str(keys_dir), public_url=PUBLIC_URL)
    async with running(create_service(settings)) as client:
        yield client


async def approved_course(stack, *bodies: AwardingBody) -> str:
    course_id = f"course-{uuid.uuid4().hex[:8]}"
    description = alliance_course().model_copy(update={"awarding_bodies": list(bodies)})
    event = CourseApproved(
        course_id=course_id, version=1, description=description, approved_by="qa@uni", approved_at=datetime.now(UTC)
    )
    # Courses and grades are different topics: the test waits until the course is handled before sending a grade.
    await produce_and_wait_until_handled(stack, Topic.COURSES, CloudEvent.wrap(event, source=NODE_URI))
    return course_id


async def produce_and_wait_until_handled(stack, topic: Topic, envelope: CloudEvent) -> None:
    """Produce an event and wait until certification's consumer group has committed past it (it was handled)."""
    producer = AIOKafkaProducer(**client_options(stack.harness()), acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            f"{stack.topic_prefix}{topic}", envelope.to_bytes(), key=envelope.subject.encode()
        )
    finally:
        await producer.stop()
    partition = TopicPartition(sent.topic, sent.partition)
    admin = AIOKafkaAdminClient(**client_options(stack.harness()))
    await admin.start()
    try:

        async def handled() -> bool:
            committed = await admin.list_consumer_group_offsets(f"{stack.topic_prefix}mc-certification")
            return partition in committed and committed[partition].offset > sent.offset

        await eventually(handled)
    finally:
        await admin.close()


def learner() -> LearnerIdentity:
    learner_id = f"learner-{uuid.uuid4().hex[:8]}"
    return LearnerIdentity(learner_id=learner_id, name="Jana Nováková", email=f"{learner_id}@example.eu")


def recorded(who: LearnerIdentity, course_id: str, grade: str = "1.7", passed: bool = True) -> CloudEvent:
    event = GradeRecorded(
        grade_id=str(uuid.uuid4()),
        enrolment_id=str(uuid.uuid4()),
        course_id=course_id,
        course_version=1,
        learner_id=who.learner_id,
        learner=who,
        grade=grade,
        passed=passed,
        assessed_on=date.today(),
        submission_id=str(uuid.uuid4()),
    )
    return CloudEvent.wrap(event, source=NODE_URI)


async def grade(stack, envelope: CloudEvent) -> None:
    await produce(stack, Topic.GRADES, envelope.to_bytes(), key=envelope.data["learner_id"])


def own(stack, who: LearnerIdentity) -> dict[str, str]:
    """The learner's own bearer token: what their wallet app sends."""
    return stack.bearer(who.learner_id, Role.LEARNER, name=who.name, email=who.email)


async def credentials_of(client, stack, who: LearnerIdentity, count: int = 1) -> list[dict]:
    async def probe():
        found = (await client.get("/credentials", headers=own(stack, who))).json()
        return found if len(found) >= count else None

    return await eventually(probe)


async def issued(client, stack, *bodies: AwardingBody) -> tuple[LearnerIdentity, dict]:
    who, course_id = learner(), await approved_course(stack, *bodies)
    await grade(stack, recorded(who, course_id))
    [credential] = await credentials_of(client, stack, who)
    return who, credential


async def verified_by_digital_bazaar_from_the_node(client, node: str, vc: dict) -> tuple[int, dict]:
    """Digital Bazaar's verifier, fetching the DID documents and status lists it needs over HTTP from PUBLIC_URL,
    where they are served as this (in-process) service answers them."""
    issuers = [vc["issuer"]["id"], *(endorsement["issuer"]["id"] for endorsement in vc.get("endorsement", []))]
    paths = [did.removeprefix(f"did:web:{HOST}").replace(":", "/") + "/did.json" for did in issuers]
    entries = vc.get("credentialStatus", [])
    paths += [entry["statusListCredential"].removeprefix(PUBLIC_URL) for entry in [entries] if entry]
    documents = {path: (await client.get(path)).json() for path in paths}
    with serving(documents, port=PORT):
        return await asyncio.to_thread(verified_by_digital_bazaar, node, vc)


async def test_a_pass_becomes_a_signed_credential_that_digital_bazaars_verifier_accepts(client, stack, node):
    who, listed = await issued(client, stack, SAARLAND)
    credential = (await client.get(f"/credentials/{listed['id']}")).json()
    assert credential["signed"] is True and credential["status"] == "valid"
    assert credential["record"]["identification_of_the_learner"]["name"] == "Jana Nováková"
    vc = credential["credential"]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["credentialSubject"]["achievement"]["achievementType"] == "MicroCredential"
    assert vc["issuer"]["id"] == f"did:web:{HOST}:institutions:uni-saarland"
    assert vc["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert vc["credentialStatus"]["statusPurpose"] == "revocation"

    download = await client.get(f"/credentials/{listed['id']}/credential.json")
    assert download.json() == vc and "attachment" in download.headers["content-disposition"]
    did_document = (await client.get("/institutions/uni-saarland/did.json")).json()
    assert did_document["id"] == vc["issuer"]["id"]
    assert (await client.get("/.well-known/did.json")).json()["id"] == f"did:web:{HOST}"

    code, report = await verified_by_digital_bazaar_from_the_node(client, node, vc)
    assert (code, report["verified"], report["status"]) == (0, True, {"revocation": "not revoked"}), report
    tampered = json.loads(json.dumps(vc))
    tampered["credentialSubject"]["result"][0]["value"] = "1.0"
    code, report = await verified_by_digital_bazaar_from_the_node(client, node, tampered)
    assert (code, report["verified"]) == (1, False)

    verdict = (await client.post("/verify", json=vc)).json()
    assert (verdict["outcome"], verdict["valid"]) == ("valid", True)
    assert verdict["summary"].startswith(
        "VALID — Universität des Saarlandes issued this credential to Jana Nováková for “Ethics of AI” "
        f"on {date.today()}"
    ), "the name the node states for its institution, not the one in the document"
    assert (await client.post("/verify", json=tampered)).json()["outcome"] == "tampered"
    page = await client.get("/verify", params={"id": listed["id"]})
    assert page.status_code == 200 and "VALID — Universität des Saarlandes issued this credential" in page.text

    mine = who.learner_id.encode()
    records = await read_topic(stack, Topic.CREDENTIALS, until=lambda rs: any(r.key == mine for r in rs))
    [event] = [cloud_event(r)["data"] for r in records if r.key == who.learner_id.encode()]
    assert event["credential_id"] == listed["id"] and event["issuer_did"] == vc["issuer"]["id"]


async def test_a_grade_delivered_twice_issues_one_credential(client, stack):
    who, course_id = learner(), await approved_course(stack, SAARLAND)
    envelope = recorded(who, course_id)
    await grade(stack, envelope)
    await grade(stack, envelope)
    await grade(stack, recorded(who, course_id))  # The LMS submits the same pass again: a new grade, same course.
    later_course = await approved_course(stack, SAARLAND)
    await grade(stack, recorded(who, later_course))  # Same learner, same partition: handled after the three above.
    credentials = await credentials_of(client, stack, who, count=2)
    assert sorted(c["course_id"] for c in credentials) == sorted([course_id, later_course])


async def test_a_pass_submitted_twice_in_one_batch_issues_one_credential(client, stack):
    who, course_id = learner(), await approved_course(stack, SAARLAND)
    later_course = await approved_course(stack, SAARLAND)
    # One produce request: the consumer fetches them together and handles them in one transaction.
    producer = AIOKafkaProducer(**client_options(stack.harness()), acks="all", linger_ms=50)
    await producer.start()
    try:
        sent = [
            await producer.send(f"{stack.topic_prefix}{Topic.GRADES}", envelope.to_bytes(), key=who.learner_id.encode())
            for envelope in (recorded(who, course_id), recorded(who, course_id), recorded(who, later_course))
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    credentials = await credentials_of(client, stack, who, count=2)
    assert sorted(c["course_id"] for c in credentials) == sorted([course_id, later_course])


async def test_a_revoked_credential_is_said_to_be_revoked_and_its_status_list_bit_is_set(client, stack, node):
    who, credential = await issued(client, stack, SAARLAND)
    path = f"/credentials/{credential['id']}"
    reason = {"reason": "academic misconduct established by the examination board"}
    sofia_registrar = stack.bearer("registrar@uni-sofia", Role.REGISTRAR, institution="uni-sofia")
    assert (await client.post(f"{path}/revoke", json=reason, headers=sofia_registrar)).status_code == 403
    learner_token = stack.bearer(who.learner_id, Role.LEARNER, institution="uni-saarland")
    assert (await client.post(f"{path}/revoke", json=reason, headers=learner_token)).status_code == 403
    assert (await client.post(f"{path}/revoke", json=reason)).status_code == 401

    registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    revoked = await client.post(f"{path}/revoke", json=reason, headers=registrar)
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["revocation_reason"]) == ("revoked", reason["reason"])
    assert (await client.post(f"{path}/suspend", json=reason, headers=registrar)).status_code == 409

    verdict = (await client.post("/verify", json=credential["credential"])).json()
    assert verdict["outcome"] == "revoked" and verdict["summary"].startswith("REVOKED — Universität des Saarlandes")
    revocation = credential["credential"]["credentialStatus"]
    status_list = (await client.get("/status-lists/uni-saarland/revocation")).json()
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    bits = decode(status_list["credentialSubject"]["encodedList"])
    assert len(bits) >= 16 * 1024 and get_bit(bits, int(revocation["statusListIndex"])) is True
    suspension_list = (await client.get("/status-lists/uni-saarland/suspension")).json()
    suspended_bits = decode(suspension_list["credentialSubject"]["encodedList"])
    assert get_bit(suspended_bits, int(revocation["statusListIndex"])) is False
    code, report = await verified_by_digital_bazaar_from_the_node(client, node, credential["credential"])
    assert (code, report["status"]) == (1, {"revocation": "revoked"}), report

    records = await read_topic(
        stack, Topic.CREDENTIALS, until=lambda rs: sum(r.key == who.learner_id.encode() for r in rs) >= 2
    )
    events = [cloud_event(r) for r in records if r.key == who.learner_id.encode()]
    assert events[-1]["type"] == "eu.microcredentials.certification.credential.revoked.v1"
    assert events[-1]["data"]["reason"] == reason["reason"]
    assert events[-1]["data"]["changed_by"] == "registrar@uni-saarland"


async def test_a_node_declaring_its_reliance_while_the_credential_is_being_revoked_is_told(client, stack, keys_dir):
    """Another node relies on the credential (a learner presented it there) just as a registrar revokes it here: the
    two transactions overlap, and the relying node must still be told (else only its hourly re-check finds out)."""
    who, credential = await issued(client, stack, SAARLAND)
    settings = stack.settings(CertificationSettings, issuer_keys_dir=str(keys_dir), public_url=PUBLIC_URL)
    credential_url = f"{PUBLIC_URL}/credentials/{credential['id']}"
    reliance = RelianceDeclared(sender="silesia", recipient="saarland", credential_id=credential_url,
                                institution="uni-saarland", programme_id="programme-just-transitions")
    engine = create_engine(settings)
    sessions = create_sessionmaker(engine)

    async def relied_on() -> None:
        async with UnitOfWork(sessions, NODE_URI) as uow:
            await reliances.part_relied_on(reliance, CloudEvent.wrap(reliance, source="urn:test"), uow,
                                           public_url=PUBLIC_URL)
            await uow.commit()

    async def waiting_for_a_lock() -> bool:
        async with engine.connect() as connection:
            waiting = await connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ))
            return waiting.scalar_one() > 0

    try:
        async with UnitOfWork(sessions, NODE_URI) as revoking:
            held = await revoking.session.get(Credential, credential["id"], with_for_update=True)
            await issuing.revoke(revoking, settings, held, "the exam was annulled", "registrar@uni-saarland")
            declaring = asyncio.create_task(relied_on())
            await eventually(waiting_for_a_lock)
            await revoking.commit()
        await declaring
    finally:
        await engine.dispose()

    records = await read_topic(stack, Topic.ALLIANCE_OUTGOING, until=lambda rs: any(
        cloud_event(r)["type"] == PartRevoked.type and cloud_event(r)["data"]["credential_id"] == credential_url
        for r in rs
    ))
    [told] = [cloud_event(r)["data"] for r in records if cloud_event(r)["type"] == PartRevoked.type
              and cloud_event(r)["data"]["credential_id"] == credential_url]
    assert (told["sender"], told["recipient"], told["institution"]) == ("saarland", "silesia", "uni-saarland")


async def test_a_suspended_credential_is_not_valid_until_reinstated(client, stack):
    who, credential = await issued(client, stack, SAARLAND)
    path = f"/credentials/{credential['id']}"
    registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    body = {"reason": "fee not paid"}
    assert (await client.post(f"{path}/unsuspend", json=body, headers=registrar)).status_code == 409
    assert (await client.post(f"{path}/suspend", json=body, headers=registrar)).json()["status"] == "suspended"
    assert (await client.post("/verify", json=credential["credential"])).json()["outcome"] == "suspended"
    reinstated = await client.post(f"{path}/unsuspend", json={"reason": "fee paid"}, headers=registrar)
    assert reinstated.json()["status"] == "valid"
    assert (await client.post("/verify", json=credential["credential"])).json()["outcome"] == "valid"


async def test_a_joint_credential_carries_the_partners_endorsement_and_names_the_one_pending(client, stack, node):
    _, listed = await issued(client, stack, SAARLAND, SOFIA, TRIER)
    credential = (await client.get(f"/credentials/{listed['id']}")).json()
    vc = credential["credential"]
    [endorsement] = vc["endorsement"]
    assert endorsement["issuer"]["id"] == f"did:web:{HOST}:institutions:uni-sofia"
    assert endorsement["credentialSubject"]["id"] == vc["id"]
    assert credential["pending_endorsements"] == ["uni-trier"]

    documents = [(await client.get(f"/institutions/{code}/did.json")).json() for code in ("uni-saarland", "uni-sofia")]
    result = verify_joint(vc, keys.KeyResolver(documents), required_endorsers=[endorsement["issuer"]["id"]])
    assert result.verified, result.problems
    code, report = await verified_by_digital_bazaar_from_the_node(client, node, vc)
    assert (code, [e["verified"] for e in report["endorsements"]]) == (0, [True]), report
    verdict = (await client.post("/verify", json=vc)).json()
    assert verdict["valid"] and verdict["endorsed_by"] == ["Sofia University St. Kliment Ohridski"]


async def test_without_the_lead_institutions_key_nothing_is_issued_and_the_grade_is_dead_lettered(client, stack):
    who, course_id = learner(), await approved_course(stack, TRIER, SAARLAND)
    await grade(stack, recorded(who, course_id))
    records = await read_topic(
        stack,
        dead_letter_topic("certification"),
        until=lambda rs: any(r.key == who.learner_id.encode() for r in rs),
    )
    [record] = [r for r in records if r.key == who.learner_id.encode()]
    assert "no signing key for the lead awarding institution uni-trier" in header(record, "x-dead-letter-reason")
    assert (await client.get("/credentials", headers=own(stack, who))).json() == []


def amended(envelope: CloudEvent, grade: str, passed: bool) -> CloudEvent:
    data = envelope.data
    event = GradeAmended(
        grade_id=data["grade_id"],
        course_id=data["course_id"],
        learner_id=data["learner_id"],
        learner=LearnerIdentity.model_validate(data["learner"]),
        previous_grade=data["grade"],
        previous_passed=data["passed"],
        grade=grade,
        passed=passed,
        reason="marking error found on review",
        amended_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(event, source=NODE_URI)


async def test_an_amended_grade_revokes_the_credential_or_replaces_it(client, stack):
    who, course_id = learner(), await approved_course(stack, SAARLAND)
    passed = recorded(who, course_id, grade="2.3")
    await grade(stack, passed)
    [first] = await credentials_of(client, stack, who)

    await grade(stack, amended(passed, "1.7", True))
    credentials = await credentials_of(client, stack, who, count=2)
    replacement = next(c for c in credentials if c["id"] != first["id"])
    assert replacement["replaces"] == first["id"] and replacement["record"]["grade_achieved"] == "1.7"
    old = (await client.get(f"/credentials/{first['id']}")).json()
    assert old["status"] == "revoked" and "from 2.3 to 1.7" in old["revocation_reason"]

    second = recorded(who, course_id, grade="1.7").model_copy(update={"data": passed.data | {"grade": "1.7"}})
    await grade(stack, amended(second, "5.0", False))

    async def revoked():
        return (await client.get(f"/credentials/{replacement['id']}")).json()["status"] == "revoked"

    await eventually(revoked)
    assert (await client.post("/verify", json=replacement["credential"])).json()["outcome"] == "revoked"
    records = await read_topic(
        stack, Topic.CREDENTIALS, until=lambda rs: sum(r.key == who.learner_id.encode() for r in rs) >= 4
    )
    types = [cloud_event(r)["type"].split(".")[-2] for r in records if r.key == who.learner_id.encode()]
    assert types == ["issued", "revoked", "issued", "revoked"]


async def handled_together(settings: CertificationSettings, *envelopes: CloudEvent) -> None:
    """The events handled as the consumer handles a batch: one after another in one transaction, committed once.
    (Through Kafka, a batch that fails is handled again one event at a time, which would hide a batch's failure.)"""
    handlers = event_handlers(Issuer(settings, CredentialSigner(WorkerProcesses(0))), None)
    engine = create_engine(settings)
    try:
        async with UnitOfWork(create_sessionmaker(engine), NODE_URI) as uow:
            uow.events = [parse_data(envelope) for envelope in envelopes]
            for event, envelope in zip(uow.events, envelopes, strict=True):
                await handlers[type(event)](event, envelope, uow)
            await uow.commit()
    finally:
        await engine.dispose()


async def test_a_pass_and_its_amendment_in_one_batch_issue_a_credential_then_its_signed_replacement(
    client, stack, keys_dir
):
    who, course_id = learner(), await approved_course(stack, SAARLAND)
    passed = recorded(who, course_id, grade="2.3")
    settings = stack.settings(CertificationSettings, issuer_keys_dir=str(keys_dir), public_url=PUBLIC_URL)
    # The amendment must find the credential the pass has just been issued in the same transaction.
    await handled_together(settings, passed, amended(passed, "1.7", True))
    credentials = await credentials_of(client, stack, who, count=2)
    [first] = [c for c in credentials if c["replaces"] is None]
    [replacement] = [c for c in credentials if c["replaces"] == first["id"]]
    assert first["status"] == "revoked" and replacement["status"] == "valid"
    assert first["record"]["grade_achieved"] == "2.3" and replacement["record"]["grade_achieved"] == "1.7"
    assert (await client.post("/verify", json=first["credential"])).json()["outcome"] == "revoked"
    verdict = (await client.post("/verify", json=replacement["credential"])).json()
    assert verdict["valid"], verdict


async def test_a_learner_sees_their_wallet_and_shares_a_credential_until_the_link_expires(client, stack):
    who, credential = await issued(client, stack, SAARLAND)
    mine = stack.bearer(who.learner_id, Role.LEARNER, name=who.name)
    assert [c["id"] for c in (await client.get("/wallet", headers=mine)).json()] == [credential["id"]]
    someone_else = stack.bearer("learner-other", Role.LEARNER)
    assert (await client.get("/wallet", headers=someone_else)).json() == []
    path = f"/credentials/{credential['id']}/share"
    assert (await client.post(path, json={"expires_in_days": 7}, headers=someone_else)).status_code == 403

    link = await client.post(path, json={"expires_in_days": 7}, headers=mine)
    assert link.status_code == 201, link.text
    url = link.json()["url"]
    assert url.startswith(f"{PUBLIC_URL}/shared/")
    shown = (await client.get(url.removeprefix(PUBLIC_URL))).json()
    assert shown["credential"] == credential["credential"] and shown["status"] == "valid"
    pdf = await client.get(shown["certificate_url"].removeprefix(PUBLIC_URL))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    # A week later (the link's expiry moved to now, in the service's database): the link no longer works.
    engine = create_engine(stack.settings(CertificationSettings))
    try:
        async with UnitOfWork(create_sessionmaker(engine), "urn:test") as uow:
            share = await uow.session.get(Share, url.rsplit("/", 1)[1])
            share.expires_at = datetime.now(UTC)
            uow.session.add(share)
            await uow.commit()
    finally:
        await engine.dispose()
    assert (await client.get(url.removeprefix(PUBLIC_URL))).status_code == 410


async def test_a_learner_takes_a_share_link_back_and_only_that_link_stops_working(client, stack):
    who, credential = await issued(client, stack, SAARLAND)
    mine = stack.bearer(who.learner_id, Role.LEARNER, name=who.name)
    path = f"/credentials/{credential['id']}/share"
    first = (await client.post(path, json={"expires_in_days": 30}, headers=mine)).json()["url"]
    second = (await client.post(path, json={"expires_in_days": 7}, headers=mine)).json()["url"]
    links = (await client.get(f"/credentials/{credential['id']}/shares", headers=mine)).json()
    assert [link["url"] for link in links] == [second, first], "newest first"
    assert all(link["active"] for link in links)
    someone_else = stack.bearer("learner-other", Role.LEARNER)
    token = first.rsplit("/", 1)[1]
    revoke = f"/credentials/{credential['id']}/shares/{token}/revoke"
    assert (await client.get(f"/credentials/{credential['id']}/shares", headers=someone_else)).status_code == 403
    assert (await client.post(revoke, headers=someone_else)).status_code == 403

    taken_back = await client.post(revoke, headers=mine)
    assert taken_back.status_code == 200 and taken_back.json()["active"] is False
    gone = await client.get(first.removeprefix(PUBLIC_URL))
    assert gone.status_code == 410 and "revoked" in gone.json()["detail"]
    assert (await client.get(second.removeprefix(PUBLIC_URL))).status_code == 200, "the other link still works"
    again = await client.post(revoke, headers=mine)
    assert again.status_code == 409 and "revoked already" in again.json()["detail"]
    listed = {link["url"]: link for link in (await client.get(f"/credentials/{credential['id']}/shares", headers=mine)).json()}
    assert listed[first]["revoked_at"] and not listed[first]["active"] and listed[second]["active"]


async def test_holding_every_course_of_a_programme_issues_the_programme_credential_listing_its_parts(
    client, stack, node
):
    who = learner()
    first, second = await approved_course(stack, SAARLAND), await approved_course(stack, SAARLAND)
    programme_id = f"programme-{uuid.uuid4().hex[:8]}"
    programme = ProgrammeApproved(
        programme_id=programme_id,
        version=1,
        title="Responsible AI Pathway",
        description="Two micro-credentials that together make a larger credential.",
        awarding_bodies=[SAARLAND, SOFIA],
        rule=StackingRule(kind="all-of", course_ids=[first, second]),
        approved_by="qa@uni-saarland",
        approved_at=datetime.now(UTC),
    )
    await grade(stack, recorded(who, first))
    await credentials_of(client, stack, who)
    approval = CloudEvent.wrap(programme, source=NODE_URI)
    await produce_and_wait_until_handled(stack, Topic.PROGRAMMES, approval)
    assert len((await client.get("/credentials", headers=own(stack, who))).json()) == 1, "one part only"

    await grade(stack, recorded(who, second))
    credentials = await credentials_of(client, stack, who, count=3)
    [stacked] = [c for c in credentials if c["programme"]]
    parts = sorted(c["id"] for c in credentials if not c["programme"])
    assert (stacked["course_id"], sorted(stacked["parts"])) == (programme_id, parts)
    vc = stacked["credential"]
    assert vc["credentialSubject"]["achievement"]["name"] == "Responsible AI Pathway"
    assert sorted(e["id"] for e in vc["evidence"]) == sorted(f"{PUBLIC_URL}/credentials/{part}" for part in parts)
    assert vc["credentialSubject"]["achievement"]["creditsAvailable"] == 10
    code, report = await verified_by_digital_bazaar_from_the_node(client, node, vc)
    assert code == 0, report
    assert (await client.post("/verify", json=vc)).json()["endorsed_by"] == ["Sofia University St. Kliment Ohridski"]

    # A part revoked: the programme credential that stands on it is revoked with it, and says why.
    registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    reason = {"reason": "the exam was found to be plagiarised"}
    assert (await client.post(f"/credentials/{parts[0]}/revoke", json=reason, headers=registrar)).status_code == 200
    programme_now = (await client.get(f"/credentials/{stacked['id']}")).json()
    assert programme_now["status"] == "revoked"
    assert parts[0] in programme_now["revocation_reason"] and "plagiarised" in programme_now["revocation_reason"]
    assert (await client.get(f"/credentials/{parts[1]}")).json()["status"] == "valid", "the other part stands"



async def test_a_learner_lists_only_their_own_credentials_and_nobody_lists_them_anonymously(client, stack) -> None:
    who, credential = await issued(client, stack, SAARLAND)
    someone_else = learner()

    assert (await client.get("/credentials")).status_code == 401
    assert (await client.get("/credentials", headers=own(stack, someone_else))).json() == []
    refused = await client.get("/credentials", params={"learner_id": who.learner_id}, headers=own(stack, someone_else))
    assert refused.status_code == 403 and "needs the learner concerned" in refused.json()["detail"]
    sofia_registrar = stack.bearer("registrar@uni-sofia", Role.REGISTRAR, institution="uni-sofia")
    assert (await client.get("/credentials", params={"learner_id": who.learner_id}, headers=sofia_registrar)).json() == []
    saarland_registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    listed = await client.get("/credentials", params={"learner_id": who.learner_id}, headers=saarland_registrar)
    assert [found["id"] for found in listed.json()] == [credential["id"]]
