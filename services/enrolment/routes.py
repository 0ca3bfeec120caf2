"""HTTP routes of the enrolment service: learners register and enrol."""

import uuid

from fastapi import APIRouter, HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.enrolment import domain
from services.enrolment.models import (
    ApprovedCourse,
    Enrolment,
    EnrolmentCreate,
    EnrolmentPublic,
    Learner,
    LearnerCreate,
    LearnerPublic,
)
from shared.events.common import LearnerIdentity
from shared.events.enrolment import LearnerEnrolled
from shared.http import UnitOfWorkDep

router = APIRouter()


@router.post("/learners", status_code=status.HTTP_201_CREATED, tags=["learners"])
async def register_learner(body: LearnerCreate, uow: UnitOfWorkDep) -> LearnerPublic:
    learner = Learner(id=str(uuid.uuid4()), **body.model_dump())
    async with uow:
        uow.session.add(learner)
        try:
            await uow.commit()
        except IntegrityError as error:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"a learner with email {body.email} exists") from error
    return LearnerPublic.model_validate(learner, from_attributes=True)


@router.get("/learners/{learner_id}", tags=["learners"])
async def get_learner(learner_id: str, uow: UnitOfWorkDep) -> LearnerPublic:
    async with uow:
        learner = await uow.session.get(Learner, learner_id)
    if learner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no learner {learner_id}")
    return LearnerPublic.model_validate(learner, from_attributes=True)


@router.post("/enrolments", status_code=status.HTTP_201_CREATED, tags=["enrolments"])
async def enrol(body: EnrolmentCreate, uow: UnitOfWorkDep) -> EnrolmentPublic:
    async with uow:
        learner = await uow.session.get(Learner, body.learner_id)
        if learner is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no learner {body.learner_id}")
        existing = (
            await uow.session.exec(
                select(Enrolment).where(Enrolment.learner_id == learner.id, Enrolment.course_id == body.course_id)
            )
        ).first()
        try:
            course = domain.check_can_enrol(await uow.session.get(ApprovedCourse, body.course_id), body.course_id, existing)
        except LookupError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(error)) from error
        except domain.EnrolmentRefused as error:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error
        enrolment = Enrolment(id=str(uuid.uuid4()), learner_id=learner.id, course_id=course.course_id, course_version=course.version)
        uow.session.add(enrolment)
        uow.publish(
            LearnerEnrolled(
                enrolment_id=enrolment.id,
                course_id=course.course_id,
                course_version=course.version,
                course_title=course.title,
                learner=LearnerIdentity(
                    learner_id=learner.id,
                    name=learner.name,
                    email=learner.email,
                    home_institution=learner.home_institution,
                    esi=learner.esi,
                ),
                enrolled_at=enrolment.enrolled_at,
            )
        )
        try:
            await uow.commit()
        except IntegrityError as error:  # A concurrent request enrolled the same learner first.
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"learner is already enrolled in course {body.course_id}") from error
    return EnrolmentPublic.model_validate(enrolment, from_attributes=True)


@router.get("/enrolments", tags=["enrolments"])
async def list_enrolments(uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None) -> list[EnrolmentPublic]:
    query = select(Enrolment).order_by(Enrolment.enrolled_at)
    if learner_id:
        query = query.where(Enrolment.learner_id == learner_id)
    if course_id:
        query = query.where(Enrolment.course_id == course_id)
    async with uow:
        return [EnrolmentPublic.model_validate(e, from_attributes=True) for e in (await uow.session.exec(query)).all()]


@router.get("/courses", tags=["courses"])
async def list_open_courses(uow: UnitOfWorkDep) -> list[ApprovedCourse]:
    """The approved courses this node accepts enrolments for (its read model of the catalogue)."""
    async with uow:
        return list((await uow.session.exec(select(ApprovedCourse).order_by(ApprovedCourse.title))).all())
