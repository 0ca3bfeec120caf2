"""Joint credentials endorsed where the keys live: the exchange between the lead's node and each co-awarding
institution's node, through the alliance gateways (messages addressed to one partner, shared/events/alliance.py).

At the lead's node: a joint credential is issued and signed at once; for each co-awarding institution this node does
not host, an EndorsementRequested carrying the signed credential goes to the node the registry says hosts it, and
the credential is incomplete (`pending_endorsements`) until that node's EndorsementSigned arrives. Then the
endorsement is checked (an EndorsementCredential of this credential, by a DID the registry gives that institution,
whose proof verifies with the DID document from its node) and attached, and the lead signs the credential again so
that its proof covers it. A request not answered is asked again every ENDORSEMENT_RETRY_SECONDS; an endorsement that
arrives for an institution no longer pending changes nothing.

At a co-awarding node: the request is endorsed only if the institution is one this node hosts and holds the key of,
the institution consented at this node to that version of the lead's course (its QA, four eyes: the catalogue's
JointCourseConsented, kept in `consented_courses`) and had not withdrawn (JointCourseConsentWithdrawn) before the
credential was issued, and the lead's credential verifies at this node as /verify would say (VALID: the lead's DID
document and status list fetched from its node). The endorsement is signed once with this node's own key and kept;
the same request again gets the same endorsement. A refusal is answered with EndorsementDeclined and the reason.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from starlette.datastructures import State

from services.certification import claims, domain, status_publication, verification
from services.certification.models import ConsentedCourse, Credential, EndorsementRequest, GivenEndorsement
from services.certification.issuing import Issued, links, read
from services.certification.proof_checks import ProofChecker
from services.certification.resolver import MemberResolver
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import identity_of
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import sign
from services.certification.verify_page import judge
from shared.alliance import AllianceRegistry, NotAMember
from shared.consumer import Unprocessable
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent
from shared.events import Topic
from shared.events.alliance import AddressedMessage, EndorsementDeclined, EndorsementRequested, EndorsementSigned
from shared.events.catalogue import AwardingBody, JointCourseConsented, JointCourseConsentWithdrawn
from shared.events.certification import CredentialCompleted
from shared.events.common import LearnerIdentity
from shared.failures import on_schedule

log = logging.getLogger(__name__)

# Requests asked again per transaction of the schedule.
RETRY_BATCH = 100


@dataclass(frozen=True)
class Endorsing:
    """What the exchange needs besides a unit of work: the settings, the registry in use, and how credentials and
    endorsements of other members are checked (the same resolver and proof workers as /verify)."""

    settings: CertificationSettings
    registry: Callable[[], AllianceRegistry | None]
    checker: ProofChecker
    resolver: MemberResolver

    def own_node(self, registry: AllianceRegistry | None) -> str | None:
        """This node's id in the registry (the node whose event source is NODE_URI), or None."""
        return registry.node_id_of(self.settings.node_uri) if registry is not None else None

    async def ask_again_on_schedule(self, state: State) -> None:
        """A `Service.background` task: ask again for the endorsements still pending, every ENDORSEMENT_RETRY_SECONDS."""
        pause = self.settings.endorsement_retry_seconds / 2
        await on_schedule(self.settings, lambda: self.ask_again(state.unit_of_work), pause, "endorsement requests asked again")

    async def ask_again(self, unit_of_work: Callable[[], UnitOfWork]) -> int:
        """Ask again for up to RETRY_BATCH endorsements whose last request is older than the retry interval; how many."""
        due = utcnow() - timedelta(seconds=self.settings.endorsement_retry_seconds)
        async with unit_of_work() as uow:
            rows = await uow.session.exec(
                select(EndorsementRequest, Credential)
                .join(Credential, Credential.id == EndorsementRequest.credential_id)
                .where(
                    EndorsementRequest.endorsed_at.is_(None),
                    EndorsementRequest.requested_at < due,
                    Credential.revoked_at.is_(None),
                )
                .order_by(EndorsementRequest.requested_at)
                .limit(RETRY_BATCH)
                .with_for_update(of=EndorsementRequest, skip_locked=True)
            )
            found = rows.all()
            sender = self.own_node(self.registry())
            for request, credential in found:
                request.requested_at, request.attempts = utcnow(), request.attempts + 1
                uow.session.add(request)
                if sender is not None:
                    _send(uow, _request(sender, request.node, request.institution, credential))
            await uow.commit()
        return len(found)


def _send(uow: UnitOfWork, message: AddressedMessage) -> None:
    """A message to a partner node: out through the alliance gateway."""
    uow.publish(message, topic=Topic.ALLIANCE_OUTGOING)


def _request(sender: str, recipient: str, institution: str, credential: Credential) -> EndorsementRequested:
    return EndorsementRequested(
        sender=sender,
        recipient=recipient,
        credential_id=credential.id,
        institution=institution,
        lead_institution=credential.issuer_institution,
        course_id=credential.course_id,
        course_version=credential.course_version,
        credential=credential.verifiable_credential,
    )


# --- at the lead's node ---


async def ask_for_endorsements(uow: UnitOfWork, endorsing: Endorsing | None, issued: Issued) -> None:
    """Ask each co-awarding institution's node for its endorsement of a credential just issued (its signed document
    is stored before the transaction commits; the requests are written after it). Institutions no node can be asked
    for (no registry, not a member) stay pending, and the log says why."""
    if endorsing is None or not issued.pending_endorsements or issued.programme:
        return
    # The requests refer to the credential's row and carry its signed document: both are there once read (awarding
    # left the row for the commit).
    credential = (await read(uow, select(Credential).where(Credential.id == issued.id))).one()
    registry = endorsing.registry()
    sender = endorsing.own_node(registry)
    requests = []
    for institution in credential.pending_endorsements:
        try:
            node = domain.endorsement_node(registry, institution, sender)
        except (NotAMember, ValueError) as why:
            log.warning("credential %s: the endorsement of %s cannot be asked for: %s", credential.id, institution, why)
            continue
        request = EndorsementRequest(credential_id=credential.id, institution=institution, node=node, requested_at=utcnow())
        uow.session.add(request)
        requests.append(request)
    if not requests or sender is None:
        return

    async def send() -> None:
        for request in requests:
            _send(uow, _request(sender, request.node, request.institution, credential))

    uow.before_commit(send)


async def endorsement_signed(
    event: EndorsementSigned, envelope: CloudEvent, uow: UnitOfWork, *, endorsing: Endorsing
) -> None:
    credential = await uow.session.get(Credential, event.credential_id, with_for_update=True)
    if credential is None:
        raise Unprocessable(f"credential {event.credential_id} was not issued by this node")
    if event.institution not in credential.pending_endorsements:
        return  # Attached already (a repeated answer), or never asked of it: nothing changes.
    registry = endorsing.registry()
    if registry is None:
        raise Unprocessable("no alliance registry is in use: the endorser cannot be checked")
    try:
        member = registry.member(event.institution)
    except NotAMember as unknown:
        raise Unprocessable(str(unknown)) from None
    if member.node != event.sender:
        raise Unprocessable(
            f"the endorsement of {event.institution} came from node {event.sender}, but node {member.node} hosts it"
        )
    document = credential.verifiable_credential
    if problem := domain.received_endorsement_refusal(event.endorsement, document["id"], member.credential_dids):
        raise Unprocessable(f"the endorsement of {event.institution} is not attached: {problem}")
    documents, unresolved = await endorsing.resolver.did_documents([str(claims.issuer_id(event.endorsement))], registry)
    proofs = await endorsing.checker.check(event.endorsement, documents)
    if not proofs.verified:
        raise Unprocessable(
            f"the endorsement of {event.institution} does not verify: {'; '.join([*unresolved, *proofs.problems])}"
        )
    _attach(endorsing.settings, credential, event.endorsement)
    credential.pending_endorsements = [pending for pending in credential.pending_endorsements if pending != event.institution]
    uow.session.add(credential)
    request = await uow.session.get(EndorsementRequest, (credential.id, event.institution), with_for_update=True)
    if request is not None:
        request.endorsed_at, request.declined_reason = utcnow(), None
        uow.session.add(request)
    if not credential.pending_endorsements:
        _announce_complete(uow, endorsing.settings, credential, registry)


def _announce_complete(
    uow: UnitOfWork, settings: CertificationSettings, credential: Credential, registry: AllianceRegistry
) -> None:
    """Every co-awarding institution's endorsement is attached: the learner is told (notifications) that the copy they
    hold is now complete."""
    names = []
    for endorsement in credential.verifiable_credential.get("endorsement", []):
        did = str(claims.issuer_id(endorsement))
        try:
            names.append(registry.member_by_did(did).legal_name)
        except NotAMember:  # Attached under an earlier registry that still listed it: named by its DID.
            names.append(did)
    urls = links(settings, credential.id)
    uow.publish(
        CredentialCompleted(
            credential_id=credential.id,
            learner_id=credential.learner_id,
            learner=LearnerIdentity.model_validate(credential.record["identification_of_the_learner"]),
            course_id=credential.course_id,
            course_version=credential.course_version,
            title=credential.record["title"],
            awarding_bodies=credential.record["awarding_bodies"],
            endorsed_by=names,
            completed_at=utcnow(),
            credential_url=urls.credential_url,
            download_url=urls.download_url,
            verify_url=urls.verify_url,
        )
    )


def _attach(settings: CertificationSettings, credential: Credential, endorsement: dict[str, Any]) -> None:
    """The credential with the endorsement added, signed again by the lead (its proof covers its endorsements)."""
    identity = identity_of(settings)
    unsigned = {name: value for name, value in credential.verifiable_credential.items() if name != "proof"}
    joint = with_endorsements(unsigned, [endorsement])
    lead = credential.issuer_institution
    credential.verifiable_credential = sign(
        joint, identity.private_key(lead), identity.verification_method(lead), created=utcnow()
    )


async def endorsement_declined(
    event: EndorsementDeclined, envelope: CloudEvent, uow: UnitOfWork, *, endorsing: Endorsing
) -> None:
    request = await uow.session.get(EndorsementRequest, (event.credential_id, event.institution), with_for_update=True)
    if request is None or request.endorsed_at is not None or request.node != event.sender:
        return  # Not asked of that node, or endorsed meanwhile: nothing changes.
    request.declined_reason = event.reason
    uow.session.add(request)
    log.warning("node %s declined to endorse credential %s for %s: %s", event.sender, event.credential_id,
                event.institution, event.reason)


# --- at a co-awarding institution's node ---


async def course_consented(event: JointCourseConsented, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """An institution of this node consented (at this node's catalogue) to co-award a version of a lead's course."""
    await uow.session.execute(
        insert(ConsentedCourse)
        .values(lead_node=event.lead_node, course_id=event.course_id, version=event.version,
                institution=event.institution, institutions=event.institutions, consented_at=event.consented_at)
        .on_conflict_do_nothing()
    )


async def consent_withdrawn(event: JointCourseConsentWithdrawn, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """It withdrew from that version on: credentials issued from then on are not endorsed; the first withdrawal
    counts."""
    await uow.session.execute(
        update(ConsentedCourse)
        .where(
            ConsentedCourse.lead_node == event.lead_node,
            ConsentedCourse.course_id == event.course_id,
            ConsentedCourse.institution == event.institution,
            ConsentedCourse.version >= event.version,
            ConsentedCourse.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=event.withdrawn_at, withdrawal_reason=event.reason)
    )


async def endorsement_requested(
    event: EndorsementRequested, envelope: CloudEvent, uow: UnitOfWork, *, endorsing: Endorsing
) -> None:
    given = await uow.session.get(GivenEndorsement, (event.credential_id, event.institution))
    if given is not None:  # Asked again (our answer may have been lost): the same endorsement, never a second one.
        _send(uow, _signed(event, given.endorsement))
        return
    registry = endorsing.registry()
    own_node = endorsing.own_node(registry)
    if registry is None or own_node is None:
        raise Unprocessable("this node is not a node of the alliance registry in use: it endorses nothing")
    if (problem := await _refusal(event, uow, endorsing, registry, own_node)) is not None:
        log.warning("not endorsing credential %s of node %s for %s: %s", event.credential_id, event.sender,
                    event.institution, problem)
        _send(uow, _declined(event, problem))
        return
    identity = identity_of(endorsing.settings)
    member = registry.member(event.institution)
    lead = registry.member(event.lead_institution)
    body = AwardingBody(id=member.institution, name=member.legal_name, country=member.country)
    endorsement = endorsement_credential(
        str(event.credential["id"]),
        identity.profile(body),
        f"{member.legal_name} co-awards this micro-credential with {lead.legal_name}.",
        private_key=identity.private_key(member.institution),
        verification_method=identity.verification_method(member.institution),
    )
    inserted = await uow.session.execute(
        insert(GivenEndorsement)
        .values(credential_id=event.credential_id, institution=event.institution, lead_node=event.sender,
                endorsement=endorsement, signed_at=utcnow())
        .on_conflict_do_nothing()
        .returning(GivenEndorsement.credential_id)
    )
    if inserted.first() is None:  # Another instance signed it meanwhile: answer with that one.
        given = await uow.session.get(GivenEndorsement, (event.credential_id, event.institution), populate_existing=True)
        assert given is not None
        endorsement = given.endorsement
    _send(uow, _signed(event, endorsement))


async def _refusal(
    event: EndorsementRequested, uow: UnitOfWork, endorsing: Endorsing, registry: AllianceRegistry, own_node: str
) -> str | None:
    identity = identity_of(endorsing.settings)
    consented = await uow.session.get(
        ConsentedCourse, (event.sender, event.course_id, event.course_version, event.institution)
    )
    if problem := domain.endorsement_refusal(
        registry=registry,
        own_node=own_node,
        sender=event.sender,
        institution=event.institution,
        own_did=identity.did(event.institution) if identity.holds(event.institution) else None,
        lead_institution=event.lead_institution,
        credential=event.credential,
        course_id=event.course_id,
        course_version=event.course_version,
        consented_institutions=consented.institutions if consented else None,
        withdrawn_at=consented.withdrawn_at if consented else None,
    ):
        return problem

    async def own_status_list(url: str) -> dict[str, Any] | None:
        return await status_publication.own_status_list(uow, endorsing.settings, url)

    verdict = await judge(event.credential, endorsing.settings, registry, endorsing.checker, endorsing.resolver, own_status_list)
    if verdict.outcome != verification.Outcome.VALID:
        return f"the credential does not verify here ({verdict.outcome}): {verdict.summary}"
    return None


def _signed(event: EndorsementRequested, endorsement: dict[str, Any]) -> EndorsementSigned:
    return EndorsementSigned(
        sender=event.recipient, recipient=event.sender, credential_id=event.credential_id,
        institution=event.institution, endorsement=endorsement,
    )


def _declined(event: EndorsementRequested, reason: str) -> EndorsementDeclined:
    return EndorsementDeclined(
        sender=event.recipient, recipient=event.sender, credential_id=event.credential_id,
        institution=event.institution, reason=reason[:1000],
    )
