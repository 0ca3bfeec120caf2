"""Joint courses with consent at each partner's node (shared/events/alliance.py Consent* messages, through the
alliance gateways).

At the lead's node: when the lead's QA approves a course version naming co-awarding institutions that the registry says
other nodes host, the version waits for their consent (`awaiting-consent`) instead of being approved, and one
ConsentRequested per such institution goes to its node. It is approved (CourseApproved, so listed on the alliance bus
with all awarding bodies) when every one has consented; a decline sends it back to its designers with the partner's
reason; a repeated answer changes nothing. A request not answered is asked again every CONSENT_RETRY_SECONDS. A
withdrawal (from a version on) keeps those versions from opening new offerings; offerings open and credentials issued
stay. Institutions this node hosts itself consent through its own QA, as before.

At a partner's node: a request is kept as a consent case for its QA only if it comes from the node the registry says
hosts the lead, for an institution this node hosts (else it is dead-lettered with the reason). Four eyes: a course
designer or QA officer of the institution recommends, a different QA officer consents; a QA officer may decline (with a
reason) while it is undecided, and withdraw (with a reason) after consenting. Each decision is answered to the lead's
node, and consent and withdrawal are told inside the node (JointCourseConsented / JointCourseConsentWithdrawn) for
certification, which endorses only what its node consented to. A request asked again after it was decided gets the
same answer again (the first may have been lost).
"""

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from starlette.datastructures import State

from services.catalogue import domain, queries
from services.catalogue.access import CONSENT, RECOMMEND, Permission
from services.catalogue.models import Answer, CaseState, ConsentCase, Course, PartnerConsent, Status
from services.catalogue.settings import CatalogueSettings
from shared.alliance import AllianceRegistry
from shared.auth import Principal, require_role
from shared.consumer import Unprocessable
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent, Topic
from shared.events.alliance import (
    AddressedMessage,
    ConsentDeclined,
    ConsentGiven,
    ConsentRequested,
    ConsentWithdrawn,
)
from shared.events.catalogue import (
    CourseApproved,
    CourseRejected,
    JointCourseConsented,
    JointCourseConsentWithdrawn,
    MicroCredentialDescription,
)
from shared.failures import on_schedule

log = logging.getLogger(__name__)

# Requests asked again per transaction of the schedule.
RETRY_BATCH = 100


@dataclass(frozen=True)
class Consenting:
    """What the exchange needs besides a unit of work: the settings and the registry in use."""

    settings: CatalogueSettings
    registry: Callable[[], AllianceRegistry | None]

    def own_node(self, registry: AllianceRegistry | None) -> str | None:
        """This node's id in the registry (the node whose event source is NODE_URI), or None."""
        return registry.node_id_of(self.settings.node_uri) if registry is not None else None

    async def ask_again_on_schedule(self, state: State) -> None:
        """A `Service.background` task: ask again the partners that have not answered, every CONSENT_RETRY_SECONDS."""
        pause = self.settings.consent_retry_seconds / 2
        await on_schedule(self.settings, lambda: self.ask_again(state.unit_of_work), pause, "consent requests asked again")

    async def ask_again(self, unit_of_work: Callable[[], UnitOfWork]) -> int:
        """Ask again up to RETRY_BATCH partners whose last request is older than the retry interval; how many."""
        due = utcnow() - timedelta(seconds=self.settings.consent_retry_seconds)
        async with unit_of_work() as uow:
            rows = await uow.session.exec(
                select(PartnerConsent, Course)
                .join(Course, (Course.id == PartnerConsent.course_id) & (Course.version == PartnerConsent.version))
                .where(
                    PartnerConsent.answer == Answer.REQUESTED,
                    PartnerConsent.requested_at < due,
                    Course.status == Status.AWAITING_CONSENT,
                )
                .order_by(PartnerConsent.requested_at)
                .limit(RETRY_BATCH)
                .with_for_update(of=PartnerConsent, skip_locked=True)
            )
            found = rows.all()
            sender = self.own_node(self.registry())
            for request, course in found:
                request.requested_at, request.attempts = utcnow(), request.attempts + 1
                uow.session.add(request)
                if sender is not None:
                    _send(uow, _request(sender, request, course, await _previous(uow, course, request.institution)))
            await uow.commit()
        return len(found)


def _send(uow: UnitOfWork, message: AddressedMessage) -> None:
    """A message to a partner node: out through the alliance gateway."""
    uow.publish(message, topic=Topic.ALLIANCE_OUTGOING)


# --- at the lead's node ---


def course_approved(course: Course) -> CourseApproved:
    return CourseApproved(
        course_id=course.id,
        version=course.version,
        description=MicroCredentialDescription.model_validate(course.description),
        approved_by=course.reviewed_by,
        # When it became approved: the lead's QA's decision, or the last partner's consent.
        approved_at=course.updated_at,
    )


def _request(sender: str, asked: PartnerConsent, course: Course, previous: int | None) -> ConsentRequested:
    return ConsentRequested(
        sender=sender,
        recipient=asked.node,
        course_id=course.id,
        course_version=course.version,
        institution=asked.institution,
        lead_institution=course.lead,
        institutions=course.institutions,
        description=MicroCredentialDescription.model_validate(course.description),
        previous_version=previous,
    )


async def _previous(uow: UnitOfWork, course: Course, institution: str) -> int | None:
    """The newest earlier version of the course this institution consented to (its QA sees what changed since)."""
    return (
        await uow.session.exec(
            select(PartnerConsent.version)
            .where(
                PartnerConsent.course_id == course.id,
                PartnerConsent.institution == institution,
                PartnerConsent.version < course.version,
                PartnerConsent.answer == Answer.GIVEN,
            )
            .order_by(col(PartnerConsent.version).desc())
            .limit(1)
        )
    ).first()


async def approve(uow: UnitOfWork, course: Course, reviewer: Principal, consenting: Consenting) -> None:
    """The lead's QA approves a submitted version: approved at once, or, when partners hosted by other nodes co-award
    it, waiting for their consent (each asked at its node)."""
    registry = consenting.registry()
    if registry is None and consenting.settings.alliance_registry_url and len(course.institutions) > 1:
        # Which partners other nodes host is the registry's word: never approve a joint course without it.
        raise domain.TransitionRefused(
            f"course {course.id} version {course.version} is joint, and the alliance registry is not in use yet "
            "(ALLIANCE_REGISTRY_URL): whose consent it needs cannot be told; try again shortly"
        )
    sender = consenting.own_node(registry)
    partners = domain.partners_elsewhere(course.institutions, registry, sender)
    if not partners:
        domain.approve(course, reviewer.subject, reviewer.name)
        uow.publish(course_approved(course))
        return
    assert sender is not None
    domain.await_consent(course, reviewer.subject, reviewer.name)
    for institution, node in partners.items():
        asked = PartnerConsent(course_id=course.id, version=course.version, institution=institution, node=node)
        uow.session.add(asked)
        _send(uow, _request(sender, asked, course, await _previous(uow, course, institution)))


async def consents_of(uow: UnitOfWork, course_id: str, version: int | None = None) -> Sequence[PartnerConsent]:
    query = select(PartnerConsent).where(PartnerConsent.course_id == course_id)
    if version is not None:
        query = query.where(PartnerConsent.version == version)
    return (await uow.session.exec(query.order_by(PartnerConsent.version, PartnerConsent.institution))).all()


async def _answered(uow: UnitOfWork, event: ConsentGiven | ConsentDeclined) -> tuple[PartnerConsent, Course] | None:
    """The request an answer is about, locked with its course version; None when it was answered before (a repeated
    answer changes nothing). Unprocessable when this node never asked that node."""
    asked = await uow.session.get(
        PartnerConsent, (event.course_id, event.course_version, event.institution), with_for_update=True
    )
    if asked is None:
        raise Unprocessable(
            f"this node did not ask {event.institution} to consent to course {event.course_id} version "
            f"{event.course_version}"
        )
    if asked.node != event.sender:
        raise Unprocessable(
            f"the consent of {event.institution} came from node {event.sender}, but node {asked.node} was asked for it"
        )
    if asked.answer != Answer.REQUESTED:
        return None
    course = await queries.version(uow.session, Course, event.course_id, event.course_version, lock=True)
    return asked, course


async def consent_given(event: ConsentGiven, envelope: CloudEvent, uow: UnitOfWork) -> None:
    found = await _answered(uow, event)
    if found is None:
        return
    asked, course = found
    asked.answer, asked.answered_at = Answer.GIVEN, event.given_at
    uow.session.add(asked)
    if domain.consented_by_all(course, await consents_of(uow, course.id, course.version)):
        domain.approve_with_consent(course)
        uow.session.add(course)
        uow.publish(course_approved(course))


async def consent_declined(event: ConsentDeclined, envelope: CloudEvent, uow: UnitOfWork) -> None:
    found = await _answered(uow, event)
    if found is None:
        return
    asked, course = found
    asked.answer, asked.answered_at, asked.reason = Answer.DECLINED, utcnow(), event.reason
    uow.session.add(asked)
    _send_back(uow, course, event.institution, event.reason)


def _send_back(uow: UnitOfWork, course: Course, institution: str, reason: str) -> None:
    if course.status != Status.AWAITING_CONSENT:
        return
    domain.declined_by_partner(course, institution, reason)
    uow.session.add(course)
    assert course.rejection_reasons is not None
    uow.publish(CourseRejected(course_id=course.id, version=course.version, rejected_by=institution,
                               reasons=course.rejection_reasons))


async def consent_withdrawn(event: ConsentWithdrawn, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """The partner no longer takes part from this version on: those versions open no new offerings, and one still
    waiting for consent goes back to its designers."""
    found = (
        await uow.session.exec(
            select(PartnerConsent)
            .where(
                PartnerConsent.course_id == event.course_id,
                PartnerConsent.institution == event.institution,
                PartnerConsent.version >= event.course_version,
                col(PartnerConsent.answer).in_([Answer.REQUESTED, Answer.GIVEN]),
            )
            .with_for_update()
        )
    ).all()
    for asked in found:
        if asked.node != event.sender:
            raise Unprocessable(
                f"the withdrawal of {event.institution} came from node {event.sender}, but node {asked.node} was asked"
            )
        asked.answer, asked.answered_at, asked.reason = Answer.WITHDRAWN, event.withdrawn_at, event.reason
        uow.session.add(asked)
        course = await queries.version(uow.session, Course, asked.course_id, asked.version, lock=True)
        _send_back(uow, course, event.institution, event.reason)


async def withdrawn_from(uow: UnitOfWork, course: Course) -> Sequence[PartnerConsent]:
    """The partners that withdrew from a version (it opens no new offerings)."""
    return [asked for asked in await consents_of(uow, course.id, course.version) if asked.answer == Answer.WITHDRAWN]


# --- at a partner's node ---


async def consent_requested(
    event: ConsentRequested, envelope: CloudEvent, uow: UnitOfWork, *, consenting: Consenting
) -> None:
    registry = consenting.registry()
    own_node = consenting.own_node(registry)
    if problem := domain.request_refusal(
        registry, own_node, event.sender, event.lead_institution, event.institution, event.institutions
    ):
        raise Unprocessable(f"no consent case for course {event.course_id} version {event.course_version}: {problem}")
    inserted = await uow.session.execute(
        insert(ConsentCase)
        .values(
            id=str(uuid.uuid4()), node=event.recipient, lead_node=event.sender, lead_institution=event.lead_institution,
            course_id=event.course_id, version=event.course_version, institution=event.institution,
            institutions=event.institutions, description=event.description.model_dump(mode="json"),
            previous_version=event.previous_version, state=CaseState.RECEIVED, received_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(ConsentCase.id)
    )
    if inserted.first() is not None:
        return
    # Asked again: the lead may not have had our answer. The same answer again; an undecided case waits.
    case = (
        await uow.session.exec(
            select(ConsentCase).where(
                ConsentCase.lead_node == event.sender, ConsentCase.course_id == event.course_id,
                ConsentCase.version == event.course_version, ConsentCase.institution == event.institution,
            )
        )
    ).one()
    if (answer := _answer(case)) is not None:
        _send(uow, answer)


def _answer(case: ConsentCase) -> AddressedMessage | None:
    """What this node answers the lead for a case once decided; None while it is undecided."""
    about = dict(sender=case.node, recipient=case.lead_node, course_id=case.course_id, course_version=case.version,
                 institution=case.institution)
    if case.state == CaseState.CONSENTED:
        assert case.decided_at is not None
        return ConsentGiven(**about, given_at=case.decided_at)
    if case.state == CaseState.DECLINED:
        assert case.reason is not None
        return ConsentDeclined(**about, reason=case.reason)
    if case.state == CaseState.WITHDRAWN:
        assert case.reason is not None and case.withdrawn_at is not None
        return ConsentWithdrawn(**about, reason=case.reason, withdrawn_at=case.withdrawn_at)
    return None


async def case_of(uow: UnitOfWork, case_id: str, lock: bool = False) -> ConsentCase:
    case = await uow.session.get(ConsentCase, case_id, with_for_update=lock)
    if case is None:
        raise LookupError(f"no consent case {case_id}")
    return case


async def previous_case(uow: UnitOfWork, case: ConsentCase) -> ConsentCase | None:
    """The case of the version this institution consented to before, which the lead says this one revises."""
    if case.previous_version is None:
        return None
    return (
        await uow.session.exec(
            select(ConsentCase).where(
                ConsentCase.lead_node == case.lead_node, ConsentCase.course_id == case.course_id,
                ConsentCase.version == case.previous_version, ConsentCase.institution == case.institution,
            )
        )
    ).first()


async def _case_to_decide(uow: UnitOfWork, case_id: str, person: Principal, permission: Permission) -> ConsentCase:
    """The case, locked, once `person` may act on it for its institution (inside the caller's `async with uow`)."""
    case = await case_of(uow, case_id, lock=True)
    permission.check(person, [case.institution], f"course {case.course_id} version {case.version}")
    return case


async def recommend(uow: UnitOfWork, case_id: str, person: Principal) -> ConsentCase:
    """The first pair of eyes (nothing is sent yet)."""
    require_role(person, *RECOMMEND.roles)  # before the case is looked up: no role, no answer about it
    async with uow:
        case = await _case_to_decide(uow, case_id, person, RECOMMEND)
        domain.recommend(case, person.subject, person.name)
        uow.session.add(case)
        await uow.commit()
    return case


async def give(uow: UnitOfWork, case_id: str, person: Principal) -> ConsentCase:
    """The second pair of eyes: consented, answered to the lead, and told to this node's certification."""
    require_role(person, *CONSENT.roles)  # before the case is looked up: no role, no answer about it
    async with uow:
        case = await _case_to_decide(uow, case_id, person, CONSENT)
        domain.consent(case, person.subject, person.name)
        uow.session.add(case)
        _decided(uow, case)
        assert case.decided_at is not None
        uow.publish(JointCourseConsented(
            course_id=case.course_id, version=case.version, lead_node=case.lead_node, institution=case.institution,
            institutions=case.institutions, consented_at=case.decided_at,
        ))
        await uow.commit()
    return case


async def decline(uow: UnitOfWork, case_id: str, person: Principal, reason: str) -> ConsentCase:
    require_role(person, *CONSENT.roles)  # before the case is looked up: no role, no answer about it
    async with uow:
        case = await _case_to_decide(uow, case_id, person, CONSENT)
        domain.decline(case, person.subject, reason, person.name)
        uow.session.add(case)
        _decided(uow, case)
        await uow.commit()
    return case


async def withdraw(uow: UnitOfWork, case_id: str, person: Principal, reason: str) -> ConsentCase:
    """No longer taking part from this version on: later versions consented to are withdrawn with it."""
    require_role(person, *CONSENT.roles)  # before the case is looked up: no role, no answer about it
    async with uow:
        case = await _case_to_decide(uow, case_id, person, CONSENT)
        domain.withdraw(case, person.subject, reason, person.name)
        uow.session.add(case)
        later = (
            await uow.session.exec(
                select(ConsentCase)
                .where(
                    ConsentCase.lead_node == case.lead_node, ConsentCase.course_id == case.course_id,
                    ConsentCase.institution == case.institution, ConsentCase.version > case.version,
                    ConsentCase.state == CaseState.CONSENTED,
                )
                .with_for_update()
            )
        ).all()
        for each in later:
            domain.withdraw(each, person.subject, reason, person.name)
            uow.session.add(each)
        _decided(uow, case)
        assert case.withdrawn_at is not None
        uow.publish(JointCourseConsentWithdrawn(
            course_id=case.course_id, version=case.version, lead_node=case.lead_node, institution=case.institution,
            reason=reason, withdrawn_at=case.withdrawn_at,
        ))
        await uow.commit()
    return case


def _decided(uow: UnitOfWork, case: ConsentCase) -> None:
    answer = _answer(case)
    assert answer is not None
    _send(uow, answer)


async def cases(
    uow: UnitOfWork, state: CaseState | None, institution: str | None, course_id: str | None
) -> Sequence[ConsentCase]:
    query = select(ConsentCase)
    if state is not None:
        query = query.where(ConsentCase.state == state)
    if institution is not None:
        query = query.where(ConsentCase.institution == institution)
    if course_id is not None:
        query = query.where(ConsentCase.course_id == course_id)
    async with uow:
        return (await uow.session.exec(query.order_by(ConsentCase.received_at))).all()
