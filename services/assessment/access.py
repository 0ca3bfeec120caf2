"""Who may do and read what at assessment.

Grading is the business of the assessors of a course's awarding institutions; its grading scheme is the lead's (its
assessors or registrars). Grades, rejected submissions and enrolments are read by the learner concerned, by the
assessors and registrars of the course's awarding institutions, and by the node administrator.
"""

from typing import Any

from fastapi import HTTPException, status
from sqlmodel import SQLModel, select

from services.assessment.models import Course
from shared.auth import Principal, Role, Scope, reader_scope, require_institution, require_learner_or_staff, require_role
from shared.db import UnitOfWork

READERS = (Role.ASSESSOR, Role.REGISTRAR, Role.NODE_ADMIN)


async def known_course(uow: UnitOfWork, course_id: str) -> Course:
    course = await uow.session.get(Course, course_id)
    if course is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"course {course_id} is not known to assessment (no CourseApproved has arrived)"
        )
    return course


async def authorize(
    uow: UnitOfWork, principal: Principal, course_id: str, action: str, *roles: Role, lead_only: bool = False
) -> Course:
    """403 unless the principal holds one of the roles at one of the course's awarding institutions (the lead, the
    first of them, when `lead_only`)."""
    require_role(principal, *roles)
    course = await known_course(uow, course_id)
    institutions = course.awarding_institutions[:1] if lead_only else course.awarding_institutions
    require_institution(principal, institutions, f"{action} course {course_id}")
    return course


def readable(principal: Principal, what: str, learner_id: str | None) -> Scope:
    """What of a list the principal may read (403 when nothing, or another learner's asked for by a learner)."""
    return reader_scope(principal, READERS, what, learner_id)


def within(query: Any, model: type[SQLModel], scope: Scope) -> Any:
    """The query narrowed to the rows the scope covers: the learner's own, or those of courses their institution
    awards."""

    def awarded_by(institution: str) -> Any:
        return model.course_id.in_(select(Course.course_id).where(Course.awarding_institutions.contains([institution])))

    return query.where(scope.where(model.learner_id, awarded_by))


async def require_reader(uow: UnitOfWork, principal: Principal, learner_id: str, course_id: str, what: str) -> None:
    course = await uow.session.get(Course, course_id)
    institutions = course.awarding_institutions if course else []
    require_learner_or_staff(principal, learner_id, institutions, READERS, what)
