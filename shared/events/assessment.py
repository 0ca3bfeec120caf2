"""Events the assessment service publishes: the authoritative record of grades."""

from datetime import date
from typing import ClassVar

from pydantic import Field

from shared.events.common import LearnerIdentity
from shared.events.envelope import Event
from shared.events.topics import Topic


class GradeEvent(Event):
    topic: ClassVar[Topic] = Topic.GRADES
    course_id: str
    learner_id: str

    @property
    def key(self) -> str:
        # Per learner, so that a learner's grades (and what they stack into) stay in order.
        return self.learner_id


class GradeRecorded(GradeEvent):
    type: ClassVar[str] = "eu.microcredentials.assessment.grade.recorded.v1"
    grade_id: str
    enrolment_id: str
    course_version: int
    learner: LearnerIdentity
    grade: str
    passed: bool
    assessed_on: date
    # The id of the LMS submission this grade came from.
    submission_id: str


class GradeRejected(GradeEvent):
    type: ClassVar[str] = "eu.microcredentials.assessment.grade.rejected.v1"
    submission_id: str
    # A stable code for dashboards and an explanation for people.
    rule: str = Field(min_length=1)
    reason: str = Field(min_length=1)
