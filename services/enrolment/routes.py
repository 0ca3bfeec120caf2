"""HTTP routes of the enrolment service: learners register and apply to offerings; registrars follow and record fees.

Each write is one transaction: read, let `domain` decide, write the state and its events (outbox), commit. A refusal
raises before anything is written. Everything that changes an offering's places first locks the offering's row, so
concurrent applications and withdrawals on one offering take turns (applications that arrive together share one
turn: services/enrolment/applications.py).
"""

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response, status
from sqlalchemy import and_, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from services.enrolment import domain, learners
from services.enrolment.applications import (
    Applications,
    ChangedMeanwhile,
    about,
    held_course_ids,
    locked_offering,
    places,
)
from services.enrolment.models import (
    Application,
    ApplicationCreate,
    ApplicationPublic,
    ApplicationStatus,
    CourseVersion,
    FeeUpdate,
    Learner,
    LearnerCreate,
    LearnerPublic,
    Offering,
    OfferingPublic,
)
from shared.alliance import registry_in_use
from shared.auth import (
    CurrentPrincipal,
    Role,
    reader_scope,
    require_institution,
    require_learner_or_staff,
    require_role,
)
from shared.db import UnitOfWork, utcnow
from shared.http import UnitOfWorkDep

router = APIRouter()

REFUSAL_STATUS = {
    domain.NotFound: status.HTTP_404_NOT_FOUND,
    domain.Conflict: status.HTTP_409_CONFLICT,
    domain.Forbidden: status.HTTP_403_FORBIDDEN,
}


async def applications_of(request: Request) -> Applications:
    return request.app.state.applications


async def alliance_of(request: Request) -> learners.Alliance:
    """Who belongs to the alliance as the node knows it now (async: no thread for a dependency that does no I/O)."""
    return learners.Alliance(request.app.state.settings, registry_in_use(request.app.state))


AllianceDep = Annotated[learners.Alliance, Depends(alliance_of)]


@contextlib.contextmanager
def refusals_as_http() -> Iterator[None]:
    try:
        yield
    except domain.Refused as refusal:
        raise HTTPException(REFUSAL_STATUS[type(refusal)], str(refusal)) from refusal


async def commit(uow: UnitOfWork, conflict: str) -> None:
    """Commit; a unique constraint that still fires (the last line of defence behind the locks) is a 409."""
    try:
        await uow.commit()
    except IntegrityError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, conflict) from error


# --- learners ---


@router.post("/learners", status_code=status.HTTP_201_CREATED, tags=["learners"])
async def register_learner(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    alliance: AllianceDep,
    body: Annotated[LearnerCreate | None, Body()] = None,
) -> LearnerPublic:
    """A learner registers themself: their learner id is their token's subject; their name, email, home institution
    and category (from the `affiliation` and `institution` claims) are what the token attests. The body, if any,
    holds what the learner chooses."""
    with refusals_as_http():
        return await learners.register(uow, principal, body or LearnerCreate(), alliance)


@router.get("/learners/{learner_id}", tags=["learners"])
async def get_learner(
    learner_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, alliance: AllianceDep
) -> LearnerPublic:
    """The learner themself (their record brought up to their token), a registrar of an institution they applied
    to, or the node administrator."""
    async with uow:
        await learners.check_reader(uow.session, principal, learner_id)
        with refusals_as_http():
            learner = domain.found(await uow.session.get(Learner, learner_id), f"learner {learner_id}")
            learners.follow_token(learner, principal, alliance)
        held = await held_course_ids(uow.session, learner_id)
        await commit(uow, f"another learner is registered with {learner.email}")
    return LearnerPublic.model_validate(learner, from_attributes=True, update={"held_course_ids": sorted(held)})


# --- applications ---


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    tags=["applications"],
    responses={
        status.HTTP_202_ACCEPTED: {"model": ApplicationPublic, "description": "Full: waitlisted, with the position"},
        status.HTTP_403_FORBIDDEN: {"description": "Not in the offering's target group, or missing prerequisites"},
        status.HTTP_404_NOT_FOUND: {"description": "No such offering"},
        status.HTTP_409_CONFLICT: {"description": "Not registered, course retired, registration closed, applied already"},
    },
)
async def apply(
    body: ApplicationCreate,
    principal: CurrentPrincipal,
    response: Response,
    alliance: AllianceDep,
    applying: Annotated[Applications, Depends(applications_of)],
) -> ApplicationPublic:
    """Apply to an offering: 201 with a place (and the fee), or 202 on the waitlist (with the position). The
    learner's category is what their token attests now."""
    require_role(principal, Role.LEARNER)
    with refusals_as_http():
        try:
            application = await applying.apply(principal, body, alliance)
        except ChangedMeanwhile as error:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"offering {body.offering_id} changed at the same moment; apply again"
            ) from error
    if application.status == ApplicationStatus.WAITLISTED:
        response.status_code = status.HTTP_202_ACCEPTED
    return public(application)


@router.post("/applications/{application_id}/withdraw", tags=["applications"])
async def withdraw(
    application_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, alliance: AllianceDep
) -> ApplicationPublic:
    """The learner, or a registrar of the offering's institution, withdraws; the first in line takes a freed place."""
    async with uow:
        session = uow.session
        with refusals_as_http():
            seen = domain.found(await session.get(Application, application_id), f"application {application_id}")
            offering = await locked_offering(session, seen.offering_id)
            # Again under the lock: a withdrawal or promotion that held it before us may have changed the application.
            application = await session.get(Application, application_id, populate_existing=True)
            assert application is not None  # Applications are never deleted.
            require_learner_or_staff(
                principal, application.learner_id, {offering.institution}, (Role.REGISTRAR,), f"application {application.id}"
            )
            learner = domain.found(await session.get(Learner, application.learner_id), f"learner {application.learner_id}")
            learners.follow_token(learner, principal, alliance)
            waitlist = await session.exec(
                select(Application)
                .where(Application.offering_id == offering.offering_id, Application.status == ApplicationStatus.WAITLISTED)
                .order_by(col(Application.position))
            )
            taken = (await places(session, offering)).taken_seats
            withdrawal = domain.withdraw(application, offering, taken, list(waitlist.all()), utcnow())
        affected = [application, *withdrawal.promoted]
        people = {
            learner.id: learner
            for learner in await session.exec(select(Learner).where(col(Learner.id).in_([a.learner_id for a in affected])))
        }
        learner = people[application.learner_id]
        uow.publish(about(learner, domain.withdrawn(application, offering, learner, withdrawal.was_enrolled)))
        for promoted in withdrawal.promoted:
            uow.publish(about(people[promoted.learner_id], domain.placed(promoted, offering, people[promoted.learner_id])))
        uow.publish(domain.availability(offering, withdrawal.enrolled, withdrawal.waitlisted))
        await commit(uow, f"offering {offering.offering_id} changed at the same moment; withdraw again")
    return public(application)


@router.post("/applications/{application_id}/fee", tags=["applications"])
async def record_fee(
    application_id: str, body: FeeUpdate, principal: CurrentPrincipal, uow: UnitOfWorkDep
) -> ApplicationPublic:
    """A registrar of the offering's institution records that the fee was paid, or waives it."""
    require_role(principal, Role.REGISTRAR)
    async with uow:
        session = uow.session
        with refusals_as_http():
            application = domain.found(
                await session.get(Application, application_id, with_for_update=True), f"application {application_id}"
            )
            offering = await session.get(Offering, application.offering_id)
            assert offering is not None  # A foreign key.
            require_institution(principal, {offering.institution}, f"offering {offering.offering_id}")
            domain.record_fee(application, body.status, principal.subject)
        await uow.commit()
    return public(application)


@router.get("/applications", tags=["applications"])
async def list_applications(
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    offering_id: str | None = None,
    status_: Annotated[ApplicationStatus | None, Query(alias="status")] = None,
    learner_id: str | None = None,
) -> list[ApplicationPublic]:
    """A learner's own applications; a registrar's: those to their institution's offerings; the node
    administrator's: all."""
    scope = reader_scope(principal, learners.READERS, "applications", learner_id)
    query = select(Application).order_by(
        col(Application.offering_id), col(Application.status), col(Application.position), col(Application.applied_at)
    )
    query = query.join(Offering).where(
        scope.where(Application.learner_id, lambda institution: Offering.institution == institution)
    )
    for column, value in ((Application.offering_id, offering_id), (Application.status, status_), (Application.learner_id, learner_id)):
        if value is not None:
            query = query.where(column == value)
    async with uow:
        return [public(application) for application in await uow.session.exec(query)]


@router.get("/applications/{application_id}", tags=["applications"])
async def get_application(application_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> ApplicationPublic:
    async with uow:
        with refusals_as_http():
            application = domain.found(await uow.session.get(Application, application_id), f"application {application_id}")
        offering = await uow.session.get(Offering, application.offering_id)
        assert offering is not None
        require_learner_or_staff(
            principal, application.learner_id, {offering.institution}, learners.READERS, f"application {application.id}"
        )
    return public(application)


# --- offerings ---


@router.get("/offerings", tags=["offerings"])
async def list_offerings(
    uow: UnitOfWorkDep, course_id: str | None = None, institution: str | None = None
) -> list[OfferingPublic]:
    """The offerings this service knows from the catalogue, with their enrolled and waitlisted counts; `institution`
    narrows them to those one institution runs (a registrar's own)."""
    query = offerings_query().order_by(col(Offering.registration_opens_at), col(Offering.title))
    if course_id is not None:
        query = query.where(Offering.course_id == course_id)
    if institution is not None:
        query = query.where(Offering.institution == institution)
    async with uow:
        return [offering_public(*row) for row in await uow.session.exec(query)]


@router.get("/offerings/{offering_id}", tags=["offerings"])
async def get_offering(offering_id: str, uow: UnitOfWorkDep) -> OfferingPublic:
    async with uow:
        row = (await uow.session.exec(offerings_query().where(Offering.offering_id == offering_id))).first()
    with refusals_as_http():
        return offering_public(*domain.found(row, f"offering {offering_id}"))


# --- helpers ---


def public(application: Application) -> ApplicationPublic:
    return ApplicationPublic.model_validate(application, from_attributes=True)


def offerings_query() -> Select:
    counts = (
        select(
            Application.offering_id,
            func.count().filter(Application.status == ApplicationStatus.ENROLLED).label("enrolled"),
            func.count().filter(Application.status == ApplicationStatus.WAITLISTED).label("waitlisted"),
        )
        .group_by(col(Application.offering_id))
        .subquery()
    )
    return (
        select(Offering, CourseVersion, counts.c.enrolled, counts.c.waitlisted)
        .outerjoin(
            CourseVersion,
            and_(CourseVersion.course_id == Offering.course_id, CourseVersion.version == Offering.course_version),
        )
        .outerjoin(counts, counts.c.offering_id == Offering.offering_id)
    )


def offering_public(
    offering: Offering, course: CourseVersion | None, enrolled: int | None, waitlisted: int | None
) -> OfferingPublic:
    return OfferingPublic(
        id=offering.offering_id,
        **offering.model_dump(exclude={"offering_id", "opened_at"}),
        course_known=course is not None,
        course_retired=course is not None and course.retired_at is not None,
        prerequisite_course_ids=course.prerequisite_course_ids if course else [],
        accepts_declared_qualification=course.accepts_declared_qualification if course else False,
        target_groups=course.target_groups if course else [],
        enrolled=enrolled or 0,
        waitlisted=waitlisted or 0,
        places_left=domain.places_left(offering.capacity, enrolled or 0),
    )
