"""The catalogue's rules, as plain functions: the alliance's description policy and the QA workflow."""

from dataclasses import dataclass

from services.catalogue.models import Course, CourseStatus
from services.catalogue.settings import CatalogueSettings
from shared.db import utcnow
from shared.events.catalogue import MicroCredentialDescription


@dataclass(frozen=True)
class PolicyViolation:
    field: str
    rule: str


class TransitionRefused(Exception):
    """The course is not in a state that allows this step."""


class FourEyesViolation(Exception):
    """The designer of a course may not review it."""


def policy_violations(description: MicroCredentialDescription, settings: CatalogueSettings) -> list[PolicyViolation]:
    """Every rule of the alliance's policy the description breaks, all at once."""
    policy = settings.policy_name
    violations = []
    if not settings.policy_min_ects <= description.ects <= settings.policy_max_ects:
        violations.append(
            PolicyViolation(
                "description.ects",
                f"{policy} policy: between {settings.policy_min_ects:g} and {settings.policy_max_ects:g} ECTS",
            )
        )
    if description.workload_hours is not None:
        expected = description.ects * settings.policy_hours_per_ects
        if abs(description.workload_hours - expected) > expected * settings.policy_hours_tolerance:
            violations.append(
                PolicyViolation(
                    "description.workload_hours",
                    f"{policy} policy: {settings.policy_hours_per_ects:g} hours per ECTS "
                    f"(±{settings.policy_hours_tolerance:.0%}), so about {expected:g} hours for {description.ects:g} ECTS",
                )
            )
    return violations


def _move(course: Course, allowed_from: CourseStatus, to: CourseStatus) -> None:
    if course.status != allowed_from:
        raise TransitionRefused(f"course {course.id} is {course.status}; only a {allowed_from} course can become {to}")
    course.status = to
    course.updated_at = utcnow()


def submit(course: Course) -> None:
    _move(course, CourseStatus.DRAFT, CourseStatus.SUBMITTED)


def _review(course: Course, reviewer: str, to: CourseStatus) -> None:
    if reviewer == course.designed_by:
        raise FourEyesViolation(f"{reviewer} designed course {course.id} and cannot also review it")
    _move(course, CourseStatus.SUBMITTED, to)
    course.reviewed_by = reviewer


def approve(course: Course, reviewer: str) -> None:
    _review(course, reviewer, CourseStatus.APPROVED)


def reject(course: Course, reviewer: str, reasons: list[str]) -> None:
    _review(course, reviewer, CourseStatus.REJECTED)
    course.rejection_reasons = reasons
