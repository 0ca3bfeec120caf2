"""Events the enrolment service publishes about learners' enrolments."""

from datetime import datetime
from typing import ClassVar

from shared.events.common import LearnerIdentity
from shared.events.envelope import Event
from shared.events.topics import Topic


class EnrolmentEvent(Event):
    topic: ClassVar[Topic] = Topic.ENROLMENTS
    enrolment_id: str

    @property
    def key(self) -> str:
        return self.enrolment_id


class LearnerEnrolled(EnrolmentEvent):
    type: ClassVar[str] = "eu.microcredentials.enrolment.learner.enrolled.v1"
    course_id: str
    course_version: int
    course_title: str
    learner: LearnerIdentity
    enrolled_at: datetime
