"""Stacking across nodes, with the learner in control: a learner presents the micro-credentials they hold (of any
member's node) as parts of a programme of this node, and the programme credential is issued when its rule is met.

Presenting (`POST /programmes/{id}/presentations`, presentations.py): one or more OpenBadgeCredentials, or a W3C
VerifiablePresentation carrying them. Each part must be the presenting learner's own (domain.not_the_learners: the
ESI, else the e-mail address their identity provider attests, against the credential's subject), award a course the
programme stacks, and verify VALID here exactly as /verify says (a member's DID, its proof, its status list read from
its issuer's node, within its validity period). Every part is refused with the reason, naming it, before any is
kept. A VerifiablePresentation's own proof is not asked for: the parts name no holder key it could bind to, and the
learner is who their token says; what binds a part to them is its subject. The parts kept (`presented_parts`) count,
with this node's own credentials of the learner, wherever stacking decides (stacking.award_programmes); the same part
presented again changes nothing.

Relying: this node tells each part's issuer node that it relies on it (RelianceDeclared), so that node tells it when it
revokes the part (PartRevoked, reliances.py); told, this node reads the issuer's status list again at once, and
believes the list, not the message. Every part not revoked is also read again every PRESENTED_PARTS_RECHECK_SECONDS.
A part revoked at its node revokes the programme credentials standing on it, the reason naming the part.
"""

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from starlette.datastructures import State

from services.certification import claims, domain, issuing, reliances, stacking, status_publication, verification
from services.certification.domain import PartRefused
from services.certification.endorsements import Endorsing
from services.certification.issuing import Issuer
from services.certification.models import (
    Credential,
    Presentation,
    PresentedPart,
    PresentedPartPublic,
    Programme,
)
from services.certification.routes import public
from services.certification.settings import CertificationSettings
from services.certification.verify_page import judge, status_lists_of
from shared.alliance import AllianceRegistry, NotAMember
from shared.auth import Principal
from shared.consumer import Handler, Unprocessable
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent, Event, Topic
from shared.events.alliance import RelianceDeclared, PartRevoked
from shared.events.certification import CredentialPresented
from shared.events.catalogue import StackingRule
from shared.events.common import LearnerIdentity
from shared.failures import on_schedule

log = logging.getLogger(__name__)

# Who revokes a programme credential whose part was revoked at its node (CredentialRevoked's `changed_by`).
RECHECKED_BY = "certification (a part's status at its issuer)"
# Parts read again per transaction of the schedule.
RECHECK_BATCH = 100


class NoSuchProgramme(LookupError):
    """No programme of that id was approved at this node."""


class NotYours(PartRefused):
    """A part whose subject is another learner."""


@dataclass(frozen=True)
class PresentedParts:
    """What presenting and re-checking parts need: issuing (for the programme credential) and the alliance (the
    registry, and the same resolver and proof workers as /verify)."""

    issuer: Issuer
    alliance: Endorsing

    @property
    def settings(self) -> CertificationSettings:
        return self.issuer.settings

    async def present(
        self, uow: UnitOfWork, principal: Principal, programme_id: str, body: Any
    ) -> bool:
        """Take the parts the learner presents for the programme (raises PartRefused, NotYours, NoSuchProgramme);
        whether a programme credential was issued now (in the unit of work)."""
        documents = domain.presented_credentials(body)  # What is not a presentation is refused before anything else.
        programme = await _programme(uow, programme_id)
        rule = StackingRule.model_validate(programme.rule)

        def stacked(which: str, document: Mapping[str, Any], course: tuple[str, int] | None) -> None:
            if course is None or course[0] not in rule.course_ids:
                raise PartRefused(
                    f"{which} awards {claims.achievement_id(document)!r}, not a course programme {programme.title!r} "
                    f"stacks (its courses: {', '.join(rule.course_ids)})"
                )

        await self.take(uow, principal, documents, stacked, programme_id)
        before = await _programme_credential(uow, principal.subject, programme_id)
        await stacking.award_programmes(uow, self.issuer, principal.subject, [programme])
        after = await _programme_credential(uow, principal.subject, programme_id)
        return before is None and after is not None

    async def take(
        self,
        uow: UnitOfWork,
        principal: Principal,
        body: Any,
        course_check: Callable[[str, Mapping[str, Any], tuple[str, int] | None], None] = lambda *_: None,
        programme_id: str | None = None,
    ) -> list[PresentedPart]:
        """Check every part the learner presents (theirs, of a course `course_check` lets through, VALID here), then
        keep those new here: each counts for them at this node (CredentialPresented) and its issuer's node is told
        that this node relies on it (RelianceDeclared). Raises PartRefused or NotYours, keeping nothing."""
        documents = domain.presented_credentials(body)
        if not principal.email:
            raise NotYours("your token attests no e-mail address: the parts' subjects cannot be matched to you")
        learner = LearnerIdentity(
            learner_id=principal.subject, name=principal.name or principal.subject, email=principal.email,
            home_institution=principal.institution, esi=principal.esi,
        )
        registry = self.alliance.registry()
        parts = [
            await self._checked(uow, number, document, learner, principal, course_check, registry)
            for number, document in enumerate(documents, start=1)
        ]
        own_node = self.alliance.own_node(registry)
        for part in parts:
            inserted = await uow.session.execute(
                insert(PresentedPart).values(**part.model_dump()).on_conflict_do_nothing().returning(PresentedPart.node)
            )
            if inserted.first() is None:
                continue  # Presented before: nothing changes.
            uow.publish(CredentialPresented(
                credential_id=part.credential_id, learner_id=part.learner_id, course_id=part.course_id,
                course_version=part.course_version, issuer_did=part.issuer, presented_at=part.presented_at,
            ))
            if part.node is not None and own_node is not None:
                uow.publish(
                    RelianceDeclared(sender=own_node, recipient=part.node, credential_id=part.credential_id,
                                 institution=part.institution or "", programme_id=programme_id),
                    topic=Topic.ALLIANCE_OUTGOING,
                )
        return parts

    async def _checked(
        self,
        uow: UnitOfWork,
        number: int,
        document: Mapping[str, Any],
        learner: LearnerIdentity,
        principal: Principal,
        course_check: Callable[[str, Mapping[str, Any], tuple[str, int] | None], None],
        registry: AllianceRegistry | None,
    ) -> PresentedPart:
        """The part as kept, once it is the learner's, of a course `course_check` lets through, and VALID here."""
        which = f"part {number} ({document['id']})"
        if mismatch := domain.not_the_learners(document, principal.email, principal.esi):
            raise NotYours(
                f"{which} is not yours: {mismatch} (a part counts for the learner its subject names: the same "
                "European Student Identifier, else the same e-mail address as your token's)"
            )
        course = domain.awarded_course(document)
        course_check(which, document, course)
        if course is None:
            raise PartRefused(f"{which} awards {claims.achievement_id(document)!r}, not a course of this platform")
        ects = claims.credits(document)
        if ects is None:
            raise PartRefused(f"{which} states no ECTS credits (creditsEarned)")

        async def own_status_list(url: str) -> dict[str, Any] | None:
            return await status_publication.own_status_list(uow, self.settings, url)

        said = await judge(document, self.settings, registry, self.alliance.checker, self.alliance.resolver, own_status_list)
        if said.outcome is not verification.Outcome.VALID:
            raise PartRefused(f"{which} is not valid here ({said.outcome}): {said.summary}")
        issuer = str(claims.issuer_id(document))
        institution, node = _issuer_of(issuer, registry, self.alliance.own_node(registry))
        now = utcnow()
        issued_on = claims.issued_on(document)
        record = domain.part_record(document, learner, now.date() if issued_on is None else date.fromisoformat(issued_on), ects)
        return PresentedPart(
            learner_id=learner.learner_id, credential_id=str(document["id"]), course_id=course[0],
            course_version=course[1], issuer=issuer, institution=institution, node=node,
            record=record.model_dump(mode="json"), credential=dict(document), presented_at=now, checked_at=now,
        )

    # --- re-checks ---

    async def recheck_on_schedule(self, state: State) -> None:
        """A `Service.background` task: read the status of the parts not revoked again, each every
        PRESENTED_PARTS_RECHECK_SECONDS."""

        async def more() -> bool:
            return await self.recheck(state.unit_of_work) == RECHECK_BATCH

        pause = max(min(self.settings.presented_parts_recheck_seconds / 4, 60.0), 0.5)
        await on_schedule(self.settings, more, pause, "presented parts re-checked")

    async def recheck(self, unit_of_work: Callable[[], UnitOfWork]) -> int:
        """Read again the status of up to RECHECK_BATCH parts checked longest ago; how many were read."""
        due = utcnow() - timedelta(seconds=self.settings.presented_parts_recheck_seconds)
        async with unit_of_work() as uow:
            rows = await uow.session.exec(
                select(PresentedPart)
                .where(PresentedPart.revoked_at.is_(None), PresentedPart.checked_at < due)
                .order_by(PresentedPart.checked_at)
                .limit(RECHECK_BATCH)
                .with_for_update(skip_locked=True)
            )
            parts = rows.all()
            for part in parts:
                await self.read_status(uow, part, fresh=False)
            await uow.commit()
        return len(parts)

    async def read_status(self, uow: UnitOfWork, part: PresentedPart, *, fresh: bool) -> bool:
        """Read the part's status at its issuer; when revoked, revoke the programme credentials standing on it. Whether
        it is revoked (False also when the list could not be read: the next check tries again)."""

        async def own_status_list(url: str) -> dict[str, Any] | None:
            return await status_publication.own_status_list(uow, self.settings, url)

        source = status_lists_of(part.credential, self.alliance.registry(), self.alliance.resolver, own_status_list,
                                 fresh=fresh)
        status = await verification.check_status(part.credential, source)
        part.checked_at = utcnow()
        uow.session.add(part)
        if status.problems:
            log.warning("presented part %s: %s", part.credential_id, "; ".join(status.problems))
        if not status.revoked:
            return False
        await part_revoked(uow, self.settings, part)
        return True


async def part_revoked(uow: UnitOfWork, settings: CertificationSettings, part: PresentedPart) -> None:
    """The part was revoked at its node: so are the programme credentials of its learner standing on it."""
    part.revoked_at = utcnow()
    uow.session.add(part)
    standing = select(Credential).where(
        Credential.programme.is_(True), Credential.revoked_at.is_(None), Credential.learner_id == part.learner_id,
        Credential.parts.contains([part.credential_id]),
    )
    for programme in (await issuing.read(uow, standing.with_for_update())).all():
        bodies = part.record.get("awarding_bodies") or [{}]
        because = (
            f"its part {part.record.get('title')} ({part.credential_id}), issued by "
            f"{bodies[0].get('name', part.issuer)}, was revoked by its issuer"
        )
        log.info("revoking programme credential %s: %s", programme.id, because)
        # As any revocation: the nodes relying on the programme credential are told too.
        await issuing.revoke(uow, settings, programme, because, RECHECKED_BY)


async def part_revoked_at_its_node(
    event: PartRevoked, envelope: CloudEvent, uow: UnitOfWork, *, parts: PresentedParts
) -> None:
    """The issuer's node says a part this node relies on was revoked: read its status list again now."""
    rows = await uow.session.exec(
        select(PresentedPart)
        .where(PresentedPart.credential_id == event.credential_id, PresentedPart.revoked_at.is_(None))
        .with_for_update()
    )
    for part in rows.all():
        if part.node != event.sender:
            raise Unprocessable(
                f"node {event.sender} says {event.credential_id} was revoked, but its issuer's node is {part.node}"
            )
        if not await parts.read_status(uow, part, fresh=True):
            log.warning("node %s says %s was revoked, but its status list does not say so (yet): not believed; "
                        "the schedule reads it again", event.sender, event.credential_id)


# --- what a learner's presentation stands at ---


async def presentation(uow: UnitOfWork, settings: CertificationSettings, learner_id: str, programme: Programme) -> Presentation:
    rule = StackingRule.model_validate(programme.rule)
    rows = await uow.session.exec(
        select(PresentedPart)
        .where(PresentedPart.learner_id == learner_id, PresentedPart.course_id.in_(rule.course_ids))
        .order_by(PresentedPart.presented_at)
    )
    credential = await _programme_credential(uow, learner_id, programme.programme_id)
    return Presentation(
        programme_id=programme.programme_id,
        rule=programme.rule,
        parts=[public_part(part) for part in rows.all()],
        complete=credential is not None,
        credential=public(credential, settings) if credential is not None else None,
    )


async def presentation_of(uow: UnitOfWork, settings: CertificationSettings, learner_id: str, programme_id: str) -> Presentation:
    return await presentation(uow, settings, learner_id, await _programme(uow, programme_id))


def public_part(part: PresentedPart) -> PresentedPartPublic:
    return PresentedPartPublic(
        credential_id=part.credential_id, course_id=part.course_id, title=part.record["title"],
        ects=part.record["workload_ects"], issuer=part.issuer, institution=part.institution, node=part.node,
        status="revoked" if part.revoked_at is not None else "valid",
    )


async def _programme(uow: UnitOfWork, programme_id: str) -> Programme:
    query = select(Programme).where(Programme.programme_id == programme_id).order_by(Programme.version.desc())
    programme = (await uow.session.exec(query.limit(1))).first()
    if programme is None:
        raise NoSuchProgramme(f"no approved programme {programme_id} at this node")
    return programme


async def _programme_credential(uow: UnitOfWork, learner_id: str, programme_id: str) -> Credential | None:
    query = select(Credential).where(
        Credential.learner_id == learner_id, Credential.course_id == programme_id,
        Credential.programme.is_(True), Credential.revoked_at.is_(None),
    )
    return (await issuing.read(uow, query.limit(1))).first()  # One just awarded too.


def _issuer_of(issuer: str, registry: AllianceRegistry | None, own_node: str | None) -> tuple[str | None, str | None]:
    """The issuer's institution and node in the registry (node None: this node's own, or no registry)."""
    if registry is None:
        return None, None
    try:
        member = registry.member_by_did(issuer)
    except NotAMember:
        return None, None
    return member.institution, None if member.node == own_node else member.node


def event_handlers(parts: PresentedParts) -> dict[type[Event], Handler]:
    """The addressed messages of stacking across nodes: at the issuer's node, a node relying on its credential; at the
    stacking node, the issuer's node saying it revoked a part."""
    return {
        RelianceDeclared: functools.partial(reliances.part_relied_on, public_url=parts.settings.public_url),
        PartRevoked: functools.partial(part_revoked_at_its_node, parts=parts),
    }
