"""The enrolment rules: a learner enrols once, in a course the catalogue approved."""

from datetime import UTC, datetime

import pytest

from services.enrolment.domain import EnrolmentRefused, check_can_enrol
from services.enrolment.models import ApprovedCourse, Enrolment


def approved_course(version: int = 2) -> ApprovedCourse:
    return ApprovedCourse(course_id="course-ai-ethics", version=version, title="Ethics of AI",
                          approved_at=datetime(2025, 1, 15, tzinfo=UTC))


def test_a_course_the_catalogue_never_approved_cannot_be_found() -> None:
    with pytest.raises(LookupError, match="course-ai-ethics"):
        check_can_enrol(None, "course-ai-ethics", existing=None)


def test_a_learner_already_enrolled_is_refused_and_told_which_enrolment_they_have() -> None:
    existing = Enrolment(id="enrolment-7", learner_id="learner-ada", course_id="course-ai-ethics", course_version=1)
    with pytest.raises(EnrolmentRefused, match=r"already enrolled.*course-ai-ethics.*enrolment-7"):
        check_can_enrol(approved_course(), "course-ai-ethics", existing)


def test_a_learner_enrols_in_the_approved_version_of_the_course() -> None:
    course = approved_course(version=2)
    assert check_can_enrol(course, "course-ai-ethics", existing=None) is course
