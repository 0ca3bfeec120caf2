"""Learners: registering, keeping each record to what the learner's identity provider attests, and who reads it.

A learner's name, email, home institution and category come from their token; the record follows the token on each
of their requests that uses it (registering, applying, withdrawing, reading their record), so a new name or a new
affiliation reaches the next event about them. What the learner chooses (preferred language, an ESI when the token
carries none) comes from the request.

A learner of another member brings their home institution's token (shared.auth: a learner here, known as
`<institution>:<sub>`); whether an institution is in the alliance, which makes its students and staff alliance
students and staff, is the registry's answer (`Alliance`).
"""

from dataclasses import dataclass

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.enrolment import domain
from services.enrolment.models import Application, Learner, LearnerCreate, LearnerPublic, Offering
from services.enrolment.settings import EnrolmentSettings
from shared.alliance import AllianceRegistry
from shared.auth import Principal, Role, require_learner_or_staff, require_role
from shared.db import UnitOfWork, utcnow
from shared.events.common import LearnerIdentity

# Who reads a learner's record besides the learner: registrars of the institutions they applied to, and the node
# administrator.
READERS = (Role.REGISTRAR, Role.NODE_ADMIN)
# Built once (building the statement cost more than executing it); on the table, not the ORM entity, whose insert
# went through the ORM's bulk persistence (~7 % of a registration's CPU).
LEARNERS = Learner.__table__  # type: ignore[attr-defined]
REGISTER = insert(LEARNERS).on_conflict_do_nothing().returning(LEARNERS.c.id)
REGISTERED = select(LEARNERS.c.id).where(LEARNERS.c.id == bindparam("id"))


@dataclass(frozen=True)
class Alliance:
    """Who belongs to the alliance, as this node knows it now: the registry in use when the node follows one
    (a member it drops is not one from the next reload), ALLIANCE_INSTITUTIONS on a node without a registry (or
    before its first one is loaded)."""

    settings: EnrolmentSettings
    registry: AllianceRegistry | None = None

    def is_member(self, institution: str | None) -> bool:
        """Whether an institution belongs to the alliance: the one place that asks."""
        if institution is None:
            return False
        if self.registry is not None:
            return self.registry.is_member(institution)
        return institution in self.settings.alliance_institutions


def identity(principal: Principal, alliance: Alliance) -> LearnerIdentity:
    return domain.attested(principal, alliance.is_member(principal.institution))


async def register(uow: UnitOfWork, principal: Principal, body: LearnerCreate, alliance: Alliance) -> LearnerPublic:
    """The learner's record, from their token and their choices; Conflict when they or their email are registered.

    One statement, a transaction of its own (registering publishes no event): the unique id and email decide, and
    only a refusal reads which of them it was."""
    require_role(principal, Role.LEARNER)
    attested = identity(principal, alliance)
    row = {
        "id": principal.subject,
        **attested.model_dump(include={"name", "email", "home_institution", "category"}),
        # The token's ESI wins over one the learner typed.
        "esi": attested.esi or body.esi,
        "preferred_language": body.preferred_language,
        "registered_at": utcnow(),
    }
    if not await uow.alone(REGISTER, row):
        if await uow.alone(REGISTERED, {"id": principal.subject}):
            raise domain.Conflict(f"{principal.subject} is registered already")
        raise domain.Conflict(f"another learner is registered with {attested.email}")
    # Every value was validated on its way in (the token's claims as a LearnerIdentity, the body as a LearnerCreate).
    # A new learner holds no credential yet: given, not left to the default factory, whose inspection by
    # model_construct cost ~90 µs a registration.
    return LearnerPublic.model_construct(**row, held_course_ids=[])


def follow_token(learner: Learner, principal: Principal, alliance: Alliance) -> None:
    """When the learner themself asks, their record takes what their token attests now (written on commit)."""
    if principal.has(Role.LEARNER) and principal.subject == learner.id:
        domain.attest(learner, identity(principal, alliance))


async def current(session: AsyncSession, principal: Principal, alliance: Alliance) -> Learner:
    """The calling learner's record, brought up to what their token attests now; Conflict when not registered."""
    learner = domain.registered(await session.get(Learner, principal.subject), principal.subject)
    follow_token(learner, principal, alliance)
    return learner


async def check_reader(session: AsyncSession, principal: Principal, learner_id: str) -> None:
    """403 unless the learner themself, a registrar of an institution whose offering they applied to, or the node
    administrator asks."""
    applied_to = await session.exec(
        select(Offering.institution)
        .join(Application, col(Application.offering_id) == col(Offering.offering_id))
        .where(Application.learner_id == learner_id)
        .distinct()
    )
    require_learner_or_staff(principal, learner_id, set(applied_to.all()), READERS, "the record")
