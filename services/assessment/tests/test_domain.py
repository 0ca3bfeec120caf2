"""The assessment rules: only a learner enrolled in the course can be graded in it."""

from datetime import UTC, date, datetime

from services.assessment.domain import review_submission
from services.assessment.models import EnrolledLearner
from shared.events.lms import GradeSubmitted


def submission(learner_id: str = "learner-ada") -> GradeSubmitted:
    return GradeSubmitted(course_id="course-ai-ethics", learner_id=learner_id, grade="1.3", passed=True,
                          assessed_on=date(2025, 6, 30), assessor="prof-lovelace", lms="moodle.uni-saarland.de")


def enrolment() -> EnrolledLearner:
    return EnrolledLearner(
        enrolment_id="enrolment-7", course_id="course-ai-ethics", course_version=1, learner_id="learner-ada",
        learner={"learner_id": "learner-ada", "name": "Ada Lovelace", "email": "ada@example.org"},
        enrolled_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


def test_a_grade_for_a_learner_not_enrolled_is_rejected_saying_who_and_where() -> None:
    rejection = review_submission(submission("learner-charles"), enrolment=None)

    assert rejection is not None
    assert rejection.rule == "learner-not-enrolled"
    assert "learner-charles" in rejection.reason and "course-ai-ethics" in rejection.reason


def test_a_grade_for_an_enrolled_learner_is_accepted() -> None:
    assert review_submission(submission(), enrolment()) is None
