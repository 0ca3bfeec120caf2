"""The exchanges between nodes of issue #12, with the kit as a partner node of the node under test (conformance/
partner.py, the `alliance` section of the node description): a joint course naming the kit's institution is approved
only after the kit's node consents, and the joint credential is endorsed at the kit's node with its own key and
attached by the node under test. Judged by the published contract (the messages' schemas and topics) and by what the
node serves (the credential, checked by the independent verifier)."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from conformance import steps, types, verifier
from conformance.contract import EventContract
from conformance.kafka import Message
from conformance.people import Person
from conformance.run import Failed, Run
from shared.events import InvalidEvent, parse_envelope
from shared.events.alliance import ConsentGiven, EndorsementSigned

# Inside a node, what its services address to a partner travels on this topic: the types it carries (topics.json)
# are the addressed messages a node may send.
ADDRESSED = "mc.alliance.outgoing"
# A duplicate answer has no answer of its own: the kit gives the node this long to handle it, then looks again.
DUPLICATE_SETTLE_SECONDS = 5.0


def addressed_problems(message: Message, contract: EventContract, source: str, expected: dict[str, Any]) -> list[str]:
    """The rules one message the node addressed to the kit's node breaks: a structured CloudEvent of an addressed type,
    valid by its schema, under the node's name, with these data values (`sender`, `recipient`, ...); empty if none."""
    try:
        envelope = parse_envelope(message.value)
    except InvalidEvent as error:
        return [f"{error} (a structured-mode CloudEvent 1.0 is required)"]
    if envelope.type not in contract.topics.get(ADDRESSED, frozenset()):
        return [f"type {envelope.type!r} is not a message a node may address to a partner (shared/events/topics.json)"]
    problems = [f"{problem} (the type's JSON Schema)" for problem in contract.data_problems(envelope.type, envelope.data)]
    if envelope.source != source:
        problems.append(f"source {envelope.source!r} is not the node's {source!r}: a node sends under its own name")
    data = envelope.data if isinstance(envelope.data, dict) else {}
    for name, value in expected.items():
        if data.get(name) != value:
            problems.append(f"data.{name} is {data.get(name)!r}, not {value!r}")
    return problems


def _endorser(endorsement: Any) -> Any:
    issuer = endorsement.get("issuer") if isinstance(endorsement, dict) else None
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def attachment_problems(served: Any, did: str, institution: str, endorsement: dict[str, Any]) -> list[str]:
    """What is wrong with the credential the node serves once it has the kit's endorsement: it must carry that very
    endorsement once, still be signed, and (where the node says so) be complete with nothing pending."""
    if not isinstance(served, dict):
        return ["the node serves no JSON object for the credential"]
    credential = served.get("credential", served)
    if not isinstance(credential, dict) or "proof" not in credential:
        return ["the node serves no signed credential (no `proof`)"]
    problems = []
    attached = [e for e in credential.get("endorsement") or [] if _endorser(e) == did]
    if len(attached) != 1:
        problems.append(f"the credential carries {len(attached)} endorsements by {did}, not one")
    elif attached[0] != endorsement:
        problems.append(f"the endorsement by {did} the credential carries is not the one the kit signed and sent")
    if "complete" in served and served["complete"] is not True:
        problems.append(f"the node says the credential is not complete: complete = {served['complete']!r}")
    if institution in (served.get("pending_endorsements") or []):
        problems.append(f"the node still lists {institution} among its pending endorsements")
    return problems


async def _first_answer(run: Run, course_id: str) -> tuple[Message | None, Message | None]:
    """Whichever comes first, within the run's timeout: the node's ConsentRequested to the kit's node about the course,
    or its CourseApproved of it; (None, None) when neither."""
    partner = await run.partner()
    started = time.monotonic()
    while time.monotonic() - started < run.timeout:
        asked = partner.inbox.found(
            lambda m: m.field("type") == types.CONSENT_REQUESTED and m.field("data.course_id") == course_id
        )
        approved = run.events.found(
            lambda m: m.field("type") == types.COURSE_APPROVED and m.field("data.course_id") == course_id
        )
        if asked or approved:
            return (asked[0] if asked else None), (approved[0] if approved else None)
        await asyncio.sleep(0.2)
    return None, None


async def joint_course_consent(run: Run) -> None:
    """A joint course naming a partner node's institution is approved only after that node consents (ConsentRequested, then ConsentGiven)"""
    partner = await run.partner()
    kit, lead = partner.alliance, run.description.institution
    course = await steps.proposed_course(run, kit.institution)
    course_id = course["id"]
    request, approval = await _first_answer(run, course_id)
    waited = (
        f"Kafka: wait for {types.CONSENT_REQUESTED} about course {course_id} on {partner.inbox_topic}, "
        f"or {types.COURSE_APPROVED} of it"
    )
    if request is None and approval is None:
        run.record(waited, f"neither within {run.timeout:.0f} s")
        raise Failed(f"the node neither asked node {kit.node} to consent to joint course {course_id} nor approved it "
                     f"within {run.timeout:.0f} s")
    if request is None:
        assert approval is not None
        run.record(waited, f"{approval.where}: {approval.text}")
        run.fail(
            f"the node approved joint course {course_id}, co-awarded by {kit.institution.id} (hosted by node "
            f"{kit.node}), without asking that node's consent: no {types.CONSENT_REQUESTED} came to "
            f"{partner.inbox_topic} before its {types.COURSE_APPROVED} ({approval.where})"
        )
    else:
        run.record(waited, f"{request.where}: {request.text}")
        problems = addressed_problems(request, run.contract, run.description.source, {
            "sender": kit.node_under_test, "recipient": kit.node, "institution": kit.institution.id,
            "course_id": course_id, "lead_institution": lead.id,
        })
        if kit.institution.id not in (request.field("data.institutions") or []):
            problems.append(f"data.institutions does not name {kit.institution.id}")
        if problems:
            raise Failed(f"the node's {types.CONSENT_REQUESTED} at {request.where}: {'; '.join(problems)}")
        if approval is not None:
            run.fail(f"the node approved joint course {course_id} ({approval.where}) before node {kit.node} answered "
                     f"its request for consent")
        else:
            shown = await run.ok("GET", "catalogue", f"/courses/{course_id}", by=run.people.staff("course-designer"))
            if shown.get("status") == "approved":
                run.fail(f"the catalogue shows joint course {course_id} approved before node {kit.node} consented")
        await run.answer(ConsentGiven(
            sender=kit.node, recipient=kit.node_under_test, course_id=course_id,
            course_version=request.field("data.course_version"), institution=kit.institution.id,
            given_at=datetime.now(UTC),
        ))
        if approval is None:
            await run.event(types.COURSE_APPROVED, course_id=course_id)
    await steps.ready_for_grading(run, course_id)
    run.facts["joint_course"] = course


async def _served(run: Run, url: str, learner: Person, quiet: bool = False) -> dict[str, Any]:
    response = await run.fetch(url, by=learner, quiet=quiet)
    if response.status_code != 200:
        raise Failed(f"the credential at {url} answered {response.status_code} to its learner")
    try:
        document = response.json()
    except ValueError as error:
        raise Failed(f"the credential at {url} is not JSON") from error
    if not isinstance(document, dict):
        raise Failed(f"the credential at {url} is not a JSON object")
    return document


async def endorsement_exchange(run: Run) -> None:
    """A joint credential is endorsed at the partner's node: the node asks with its credential, attaches the partner's endorsement (complete, verifying), and a duplicate changes nothing"""
    partner = await run.partner()
    kit, lead = partner.alliance, run.description.institution
    course = run.needs("joint_course", "joint-course-consent")
    offering = await steps.opened_offering(run, course)
    learner = await steps.enrolled_learner(run, offering)
    await run.send_as_lms(learner.subject, steps.grade(run, offering, learner, "1.3"))
    issued = await run.event(types.CREDENTIAL_ISSUED, learner_id=learner.subject, course_id=course["id"])
    credential_id, url = issued.field("data.credential_id"), issued.field("data.credential_url")
    if not isinstance(url, str):
        raise Failed("the CredentialIssued event says nowhere where its credential can be fetched")

    # The node asks the kit's node, with its signed credential.
    request = await run.addressed(types.ENDORSEMENT_REQUESTED, credential_id=credential_id)
    problems = addressed_problems(request, run.contract, run.description.source, {
        "sender": kit.node_under_test, "recipient": kit.node, "institution": kit.institution.id,
        "lead_institution": lead.id, "course_id": course["id"],
    })
    if problems:
        raise Failed(f"the node's {types.ENDORSEMENT_REQUESTED} at {request.where}: {'; '.join(problems)}")
    credential = request.field("data.credential")
    outcome = await verifier.verify(credential)
    run.record(f"node tools/vc-verifier/verify.mjs < the credential in {request.where}", str(outcome))
    if not outcome.get("verified"):
        raise Failed(f"the credential the node asks node {kit.node} to endorse does not verify in Digital Bazaar's "
                     f"verifier (a partner declines it): {'; '.join(outcome.get('errors', []))}")

    # Until the kit answers, the node says the credential is incomplete.
    before = await _served(run, url, learner)
    if before.get("complete") is True:
        run.fail(f"the node serves the credential as complete before node {kit.node} endorsed it")

    # The kit's node endorses it with its own key; the node attaches the endorsement.
    endorsement = partner.endorsement(str(credential["id"]), lead.name)
    signed = EndorsementSigned(
        sender=kit.node, recipient=kit.node_under_test, credential_id=credential_id, institution=kit.institution.id,
        endorsement=endorsement,
    )
    envelope = await run.answer(signed)

    async def attached() -> dict[str, Any] | None:
        served = await _served(run, url, learner, quiet=True)
        document = served.get("credential", served)
        endorsements = document.get("endorsement") if isinstance(document, dict) else None
        return served if any(_endorser(e) == kit.did for e in endorsements or []) else None

    served = await run.until(f"the credential at {url} carries the endorsement by {kit.did}", attached)
    run.record(f"GET {url} as learner {learner.subject}", str(served))
    for problem in attachment_problems(served, kit.did, kit.institution.id, endorsement):
        run.fail(problem)
    endorsed = served.get("credential", served)
    outcome = await verifier.verify(endorsed)
    run.record(f"node tools/vc-verifier/verify.mjs < credential {endorsed.get('id')}", str(outcome))
    if not outcome.get("verified"):
        run.fail(f"Digital Bazaar's verifier refuses the endorsed credential: {'; '.join(outcome.get('errors', []))}")
    if (kit.did, True) not in [(e.get("issuer"), e.get("verified")) for e in outcome.get("endorsements", [])]:
        run.fail(f"Digital Bazaar's verifier does not accept the endorsement by {kit.did}: {outcome.get('endorsements')}")

    # The same answer again: redelivered (the same CloudEvent), and sent again (a new one). Nothing changes.
    await run.answer(signed, envelope)
    await run.answer(signed)
    settle = min(DUPLICATE_SETTLE_SECONDS, run.timeout)
    await asyncio.sleep(settle)
    after = await _served(run, url, learner)
    run.record(f"wait {settle:.0f} s for the node to handle the duplicates", "then fetched the credential again")
    if after.get("credential", after) != endorsed:
        run.fail("a duplicate EndorsementSigned changed the credential the node serves")
    completed = run.events.found(
        lambda m: m.field("type") == types.CREDENTIAL_COMPLETED and m.field("data.credential_id") == credential_id
    )
    if len(completed) > 1:
        run.fail(f"the node announced credential {credential_id} complete {len(completed)} times: "
                 f"{', '.join(m.where for m in completed)}")
