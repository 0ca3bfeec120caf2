"""The enrolment rules, as plain functions."""

from services.enrolment.models import ApprovedCourse, Enrolment


class EnrolmentRefused(Exception):
    """The learner cannot enrol; the message says why."""


def check_can_enrol(course: ApprovedCourse | None, course_id: str, existing: Enrolment | None) -> ApprovedCourse:
    if course is None:
        raise LookupError(f"no approved course {course_id}")
    if existing is not None:
        raise EnrolmentRefused(f"learner is already enrolled in course {course_id} (enrolment {existing.id})")
    return course
