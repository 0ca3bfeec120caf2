"""The assessment rules, as plain functions: what makes a grade submission acceptable."""

from dataclasses import dataclass

from services.assessment.models import EnrolledLearner
from shared.events.lms import GradeSubmitted


@dataclass(frozen=True)
class Rejection:
    rule: str
    reason: str


def review_submission(submission: GradeSubmitted, enrolment: EnrolledLearner | None) -> Rejection | None:
    """None when the grade can be recorded, else why not."""
    if enrolment is None:
        return Rejection(
            "learner-not-enrolled",
            f"learner {submission.learner_id} is not enrolled in course {submission.course_id}",
        )
    return None
