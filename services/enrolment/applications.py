"""Applying to an offering: applications that arrive together are decided together, under one lock of the offering.

Every application to an offering takes the offering's row lock, so applications to one offering take turns; what
limits their rate is how long each holds the lock (its round trips to PostgreSQL and its commit), not CPU. So the
applications waiting for an offering in this process are decided in one transaction (`Applications`): the offering
locked once, its places counted once, each application decided by `domain.apply` in the order they arrived, with the
places the ones before it took, and all of them written and committed at once, with one event each and one
availability event for the offering. Nothing about an application changes but how many share its transaction.

If the transaction fails as a whole (a unique constraint, the last line of defence, caught a learner applying at the
same moment in another process), each of its applications is tried again alone, so that only the one in conflict is
refused.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import func, literal
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import State

from services.enrolment import domain, learners
from services.enrolment.models import (
    Application,
    ApplicationCreate,
    ApplicationStatus,
    CourseVersion,
    HeldCredential,
    Learner,
    Offering,
)
from shared.auth import Principal
from shared.db import UnitOfWork, utcnow
from shared.events import Event

log = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=Event)

ACTIVE = (ApplicationStatus.ENROLLED, ApplicationStatus.WAITLISTED)
# The same applications (ACTIVE) in the words of the unique index on (offering, learner), with the status written
# into the statement: only then does PostgreSQL know the index covers them. With ACTIVE as parameters, it read every
# application of the offering and compared each with the batch's learners (bench/bench_cohort.py: 7-12 ms a batch
# at 10,000 learners, growing with the offering).
LIVE = col(Application.status) != literal(ApplicationStatus.WITHDRAWN.value, literal_execute=True)
# Applications decided in one transaction at most; the rest wait for the next.
PER_TRANSACTION = 100
# Before deciding, the applications whose requests are being read join for as long as more keep coming, every
# GATHER_STEP_SECONDS, for GATHER_SECONDS at most. Without it a cohort's applications split into a large transaction
# and a small one in turn (those that arrived while the large one ran, then the rest): each with the same round trips
# under the lock, the small one interleaved with reading the others' requests.
GATHER_STEP_SECONDS = 0.001
GATHER_SECONDS = 0.02


class ChangedMeanwhile(Exception):
    """A constraint caught a conflicting write of another transaction (a 409: apply again)."""


@dataclass
class Request:
    """One learner's application as it waits for its turn."""

    principal: Principal
    body: ApplicationCreate
    alliance: learners.Alliance
    answer: asyncio.Future[Application] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Applications:
    """The applications waiting in this process, per offering, and one task per offering deciding them in turns."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]) -> None:
        self._unit_of_work = unit_of_work
        self._waiting: dict[str, list[Request]] = {}
        self._deciding: dict[str, asyncio.Task[None]] = {}

    async def apply(self, principal: Principal, body: ApplicationCreate, alliance: learners.Alliance) -> Application:
        """The learner's new application (enrolled or waitlisted), or domain.Refused / ChangedMeanwhile."""
        request = Request(principal, body, alliance)
        self._waiting.setdefault(body.offering_id, []).append(request)
        if body.offering_id not in self._deciding:
            self._deciding[body.offering_id] = asyncio.create_task(
                self._decide(body.offering_id), name=f"applications-{body.offering_id}"
            )
        return await request.answer

    async def close(self) -> None:
        for task in list(self._deciding.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _decide(self, offering_id: str) -> None:
        waiting: list[Request] = []
        try:
            while await self._gathered(offering_id) and (waiting := self._waiting.pop(offering_id, [])):
                if len(waiting) > PER_TRANSACTION:
                    self._waiting[offering_id] = waiting[PER_TRANSACTION:] + self._waiting.get(offering_id, [])
                    waiting = waiting[:PER_TRANSACTION]
                await self._decide_together(offering_id, waiting)
        finally:
            del self._deciding[offering_id]
            for request in [*waiting, *self._waiting.pop(offering_id, [])]:  # Unanswered only when cancelled.
                if not request.answer.done():
                    request.answer.cancel()

    async def _gathered(self, offering_id: str) -> bool:
        """Waits while more applications to the offering keep arriving (see GATHER_SECONDS); whether any wait."""
        loop = asyncio.get_running_loop()
        until = loop.time() + GATHER_SECONDS
        seen = -1
        while seen != (count := len(self._waiting.get(offering_id, ()))) and count < PER_TRANSACTION and loop.time() < until:
            seen = count
            await asyncio.sleep(GATHER_STEP_SECONDS)
        return bool(self._waiting.get(offering_id))

    async def _decide_together(self, offering_id: str, requests: list[Request]) -> None:
        try:
            outcomes = await apply_all(self._unit_of_work(), offering_id, requests)
        except Exception as error:
            if len(requests) > 1:
                log.info("%d applications to %s tried again one by one: %r", len(requests), offering_id, error)
                for request in requests:
                    await self._decide_together(offering_id, [request])
                return
            outcomes = [ChangedMeanwhile() if isinstance(error, IntegrityError) else error]
        for request, outcome in zip(requests, outcomes, strict=True):
            if request.answer.done():  # The client went away.
                continue
            if isinstance(outcome, BaseException):
                request.answer.set_exception(outcome)
            else:
                request.answer.set_result(outcome)


async def apply_all(
    uow: UnitOfWork, offering_id: str, requests: list[Request]
) -> list[Application | domain.Refused]:
    """Decide the applications to one offering in one transaction, in order: each one's application, or why it was
    refused. Raises (writing nothing) when the transaction fails."""
    async with uow:
        session = uow.session
        subjects = {request.principal.subject for request in requests}
        people = {
            learner.id: learner
            for learner in await session.exec(select(Learner).where(col(Learner.id).in_(subjects)))
        }
        held: dict[str, set[str]] = {subject: set() for subject in subjects}
        for learner_id, course_id in await session.exec(
            select(HeldCredential.learner_id, HeldCredential.course_id).where(col(HeldCredential.learner_id).in_(subjects))
        ):
            held[learner_id].add(course_id)
        offering = await session.get(Offering, offering_id, with_for_update=True)
        if offering is None:
            return [domain.NotFound(f"no offering {offering_id}")] * len(requests)
        current = await places(session, offering)
        existing = {
            application.learner_id: application
            for application in await session.exec(
                select(Application).where(
                    Application.offering_id == offering_id,
                    col(Application.learner_id).in_(subjects),
                    LIVE,
                )
            )
        }
        course = await session.get(CourseVersion, (offering.course_id, offering.course_version))
        outcomes: list[Application | domain.Refused] = []
        for request in requests:
            learner = None
            try:
                learner = domain.registered(people.get(request.principal.subject), request.principal.subject)
                learners.follow_token(learner, request.principal, request.alliance)
                application = domain.apply(
                    application_id=str(uuid.uuid4()),
                    learner=learner,
                    offering=offering,
                    course=course,
                    held_course_ids=held[learner.id],
                    declared_qualification=request.body.declared_qualification,
                    existing=existing.get(learner.id),
                    places=current,
                    now=utcnow(),
                )
            except domain.Refused as refusal:
                if learner is not None:
                    await session.refresh(learner)  # A refusal writes nothing, not even what the token changed.
                outcomes.append(refusal)
                continue
            session.add(application)
            existing[learner.id] = application
            current = domain.taken(current, application)
            uow.publish(about(learner, domain.placed(application, offering, learner)))
            outcomes.append(application)
        if any(isinstance(outcome, Application) for outcome in outcomes):
            uow.publish(domain.availability(offering, len(current.taken_seats), current.waitlisted))
        await uow.commit()
    return outcomes


# --- queries under the offering's lock (applying, withdrawing) ---


async def locked_offering(session: AsyncSession, offering_id: str) -> Offering:
    """The offering, its row locked until the transaction ends: applications to one offering take turns."""
    return domain.found(await session.get(Offering, offering_id, with_for_update=True), f"offering {offering_id}")


async def places(session: AsyncSession, offering: Offering) -> domain.Places:
    """Counted in PostgreSQL: the seats themselves are read only when a withdrawal left gaps among them."""
    enrolled, highest, waitlisted = (
        await session.exec(
            select(
                func.count().filter(Application.status == ApplicationStatus.ENROLLED),
                func.coalesce(func.max(Application.seat), 0),
                func.count().filter(Application.status == ApplicationStatus.WAITLISTED),
            ).where(Application.offering_id == offering.offering_id, col(Application.status).in_(ACTIVE))
        )
    ).one()
    free: frozenset[int] = frozenset()
    if highest != enrolled:
        seats = await session.exec(
            select(Application.seat).where(
                Application.offering_id == offering.offering_id, Application.status == ApplicationStatus.ENROLLED
            )
        )
        free = frozenset(range(1, highest + 1)) - set(seats.all())
    return domain.Places(capacity=offering.capacity, taken_seats=domain.Seats(highest, free), waitlisted=waitlisted)


async def held_course_ids(session: AsyncSession, learner_id: str) -> set[str]:
    return set(
        (await session.exec(select(HeldCredential.course_id).where(HeldCredential.learner_id == learner_id))).all()
    )


def about(learner: Learner, event: EventT) -> EventT:
    """The event with everything the learner's identity holds here, their preferred language included."""
    identity = event.learner.model_copy(update={"preferred_language": learner.preferred_language})
    return event.model_copy(update={"learner": identity})


async def serve(state: State) -> None:
    """The background task that keeps the service's `Applications` (state.applications) for as long as it runs."""
    state.applications = Applications(state.unit_of_work)
    try:
        await asyncio.Event().wait()
    finally:
        await state.applications.close()

