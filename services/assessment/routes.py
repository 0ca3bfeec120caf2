"""HTTP routes of the assessment service: grades, rejected submissions, and who can be graded."""

from typing import TypeVar

from fastapi import APIRouter
from sqlmodel import SQLModel, select

from services.assessment.models import EnrolledLearner, EnrolledLearnerPublic, Grade, GradeRejection
from shared.http import UnitOfWorkDep

router = APIRouter()
Row = TypeVar("Row", bound=SQLModel)


async def _list(uow: UnitOfWorkDep, model: type[Row], order_by: object, **filters: str | None) -> list[Row]:
    query = select(model).order_by(order_by)
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(model, column) == value)
    async with uow:
        return list((await uow.session.exec(query)).all())


@router.get("/grades", tags=["grades"])
async def list_grades(uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None) -> list[Grade]:
    return await _list(uow, Grade, Grade.recorded_at, learner_id=learner_id, course_id=course_id)


@router.get("/grade-rejections", tags=["grades"])
async def list_rejections(
    uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None
) -> list[GradeRejection]:
    """Submissions that were not recorded, with the rule they broke."""
    return await _list(uow, GradeRejection, GradeRejection.rejected_at, learner_id=learner_id, course_id=course_id)


@router.get("/enrolments", tags=["enrolments"])
async def list_gradable(
    uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None
) -> list[EnrolledLearnerPublic]:
    """The learners an LMS may submit grades for (this service's read model of enrolments)."""
    rows = await _list(uow, EnrolledLearner, EnrolledLearner.enrolled_at, learner_id=learner_id, course_id=course_id)
    return [EnrolledLearnerPublic.model_validate(row, from_attributes=True) for row in rows]
