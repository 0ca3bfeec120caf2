"""HTTP routes of the catalogue: course designers create and submit, QA officers approve or reject."""

import contextlib
import uuid
from collections.abc import Callable, Iterator

from fastapi import APIRouter, HTTPException, status
from sqlmodel import select

from services.catalogue import domain
from services.catalogue.models import Course, CourseApprove, CourseCreate, CoursePublic, CourseReject, CourseStatus
from services.catalogue.settings import CatalogueSettings
from shared.db import UnitOfWork
from shared.events import Event
from shared.events.catalogue import CourseApproved, CourseRejected, CourseSubmitted, MicroCredentialDescription
from shared.http import UnitOfWorkDep


def policy_error(violations: list[domain.PolicyViolation]) -> HTTPException:
    # The same shape as FastAPI's own validation errors, so clients read both the same way.
    detail = [{"loc": ["body", *v.field.split(".")], "msg": v.rule, "type": "policy"} for v in violations]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


async def load(uow: UnitOfWork, course_id: str, *, for_update: bool = False) -> Course:
    course = await uow.session.get(Course, course_id, with_for_update=for_update)
    if course is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no course {course_id}")
    return course


def public(course: Course) -> CoursePublic:
    return CoursePublic.model_validate(course, from_attributes=True)


async def step(
    uow: UnitOfWork, course_id: str, rule: Callable[[Course], None], fact: Callable[[Course], Event]
) -> CoursePublic:
    """One step of the QA workflow: apply the rule to the locked course and publish the fact, in one transaction."""
    async with uow:
        course = await load(uow, course_id, for_update=True)
        with refusals():
            rule(course)
        uow.publish(fact(course))
        await uow.commit()
    return public(course)


def create_router(settings: CatalogueSettings) -> APIRouter:
    router = APIRouter(prefix="/courses", tags=["courses"])

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create_course(body: CourseCreate, uow: UnitOfWorkDep) -> CoursePublic:
        if violations := domain.policy_violations(body.description, settings):
            raise policy_error(violations)
        course = Course(
            id=str(uuid.uuid4()), description=body.description.model_dump(mode="json"), designed_by=body.designed_by
        )
        async with uow:
            uow.session.add(course)
            await uow.commit()
        return public(course)

    @router.get("")
    async def list_courses(uow: UnitOfWorkDep, status: CourseStatus | None = None) -> list[CoursePublic]:
        query = select(Course).order_by(Course.created_at)
        if status is not None:
            query = query.where(Course.status == status)
        async with uow:
            return [public(course) for course in (await uow.session.exec(query)).all()]

    @router.get("/{course_id}")
    async def get_course(course_id: str, uow: UnitOfWorkDep) -> CoursePublic:
        async with uow:
            return public(await load(uow, course_id))

    @router.post("/{course_id}/submit")
    async def submit_course(course_id: str, uow: UnitOfWorkDep) -> CoursePublic:
        return await step(
            uow,
            course_id,
            domain.submit,
            lambda course: CourseSubmitted(
                course_id=course.id,
                version=course.version,
                title=course.description["title"],
                submitted_by=course.designed_by,
            ),
        )

    @router.post("/{course_id}/approve")
    async def approve_course(course_id: str, body: CourseApprove, uow: UnitOfWorkDep) -> CoursePublic:
        return await step(
            uow,
            course_id,
            lambda course: domain.approve(course, body.reviewed_by),
            lambda course: CourseApproved(
                course_id=course.id,
                version=course.version,
                description=MicroCredentialDescription.model_validate(course.description),
                approved_by=body.reviewed_by,
                approved_at=course.updated_at,
            ),
        )

    @router.post("/{course_id}/reject")
    async def reject_course(course_id: str, body: CourseReject, uow: UnitOfWorkDep) -> CoursePublic:
        return await step(
            uow,
            course_id,
            lambda course: domain.reject(course, body.reviewed_by, body.reasons),
            lambda course: CourseRejected(
                course_id=course.id, version=course.version, rejected_by=body.reviewed_by, reasons=body.reasons
            ),
        )

    return router


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Turns the workflow's refusals into HTTP answers that say why."""
    try:
        yield
    except domain.TransitionRefused as refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(refusal)) from refusal
    except domain.FourEyesViolation as refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(refusal)) from refusal
