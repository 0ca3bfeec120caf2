"""Stacking: when a learner holds the micro-credentials a programme requires, the programme credential is issued,
listing its parts (as Open Badges `evidence`, each the URL of a part's credential).

Checked when a programme is approved (for learners who already hold parts), whenever a credential is issued, and
when a learner presents parts. The parts are the learner's credentials issued by this node and those they presented
of other members' nodes (or of this one), verified here when presented (presented_parts.py); a course held both ways
counts this node's own credential.
"""

import logging

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.certification import domain, issuing
from services.certification.issuing import Issued, Issuer
from services.certification.domain import NotIssuable
from services.certification.models import Credential, MicroCredentialRecord, PresentedPart, Programme
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent
from shared.events.catalogue import AwardingBody, ProgrammeApproved, StackingRule
from shared.events.common import LearnerIdentity

log = logging.getLogger(__name__)


def _latest(programmes: list[Programme]) -> list[Programme]:
    latest: dict[str, Programme] = {}
    for programme in programmes:
        if programme.programme_id not in latest or programme.version > latest[programme.programme_id].version:
            latest[programme.programme_id] = programme
    return list(latest.values())


async def _live(uow: UnitOfWork, learner_id: str, programme: bool) -> list[Credential]:
    query = select(Credential).where(
        Credential.learner_id == learner_id, Credential.revoked_at.is_(None), Credential.programme.is_(programme)
    )
    return list((await issuing.read(uow, query.order_by(Credential.issued_at))).all())


async def _presented(uow: UnitOfWork, learner_id: str) -> list[PresentedPart]:
    query = select(PresentedPart).where(PresentedPart.learner_id == learner_id, PresentedPart.revoked_at.is_(None))
    return list((await uow.session.exec(query.order_by(PresentedPart.presented_at))).all())


async def award_programmes(
    uow: UnitOfWork, issuer: Issuer, learner_id: str, programmes: list[Programme]
) -> None:
    # The learner's credentials of this transaction count too (issuing.read).
    held = {credential.course_id: credential for credential in await _live(uow, learner_id, programme=False)}
    presented = {part.course_id: part for part in await _presented(uow, learner_id) if part.course_id not in held}
    awarded = {credential.course_id for credential in await _live(uow, learner_id, programme=True)}
    records = {course: held_as.record for course, held_as in (presented | held).items()}
    for programme in programmes:
        if programme.programme_id in awarded:
            continue
        rule = StackingRule.model_validate(programme.rule)
        courses = domain.stacked_courses(rule, {course: record["workload_ects"] for course, record in records.items()})
        if courses is None:
            continue
        parts = [held[course] for course in courses if course in held]
        record = domain.programme_record(
            programme.title,
            [AwardingBody.model_validate(body) for body in programme.awarding_bodies],
            [MicroCredentialRecord.model_validate(records[course]) for course in courses],
            utcnow(),
        )
        stack = issuing.Award(
            learner=LearnerIdentity.model_validate(record.identification_of_the_learner),
            course_id=programme.programme_id,
            course_version=programme.version,
            record=record,
            description=programme.description,
            programme=True,
            parts=parts,
            presented=[presented[course] for course in courses if course not in held],
        )
        try:
            await issuing.award(uow, issuer, stack)
        except NotIssuable as error:
            # The parts stay issued; the programme credential waits (e.g. for the lead institution's key).
            log.warning("programme %s not issued to %s: %s", programme.programme_id, learner_id, error)


async def after_issue(uow: UnitOfWork, issuer: Issuer, issued: Issued) -> None:
    """A new credential may complete programmes that count its course."""
    key = ("programmes counting", issued.course_id)
    if key not in uow.cache:  # A batch of one course's grades asks once (programme_approved forgets the answers).
        query = select(Programme).where(Programme.rule["course_ids"].contains([issued.course_id]))
        uow.cache[key] = _latest(list((await uow.session.exec(query)).all()))
    programmes = uow.cache[key]
    if programmes:
        await award_programmes(uow, issuer, issued.learner_id, programmes)


async def programme_approved(
    event: ProgrammeApproved, envelope: CloudEvent, uow: UnitOfWork, *, issuer: Issuer
) -> None:
    await uow.session.execute(
        insert(Programme)
        .values(
            programme_id=event.programme_id,
            version=event.version,
            title=event.title,
            description=event.description,
            awarding_bodies=[body.model_dump(mode="json") for body in event.awarding_bodies],
            rule=event.rule.model_dump(mode="json"),
        )
        .on_conflict_do_nothing()
    )
    for course_id in event.rule.course_ids:
        uow.cache.pop(("programmes counting", course_id), None)
    programme = await uow.session.get(Programme, (event.programme_id, event.version))
    assert programme is not None
    # Holders by this transaction's credentials too (issuing.read).
    holders = select(Credential.learner_id).where(
        Credential.course_id.in_(event.rule.course_ids), Credential.revoked_at.is_(None)
    )
    for learner_id in sorted(set((await issuing.read(uow, holders.distinct())).all())):
        await award_programmes(uow, issuer, learner_id, _latest([programme]))
