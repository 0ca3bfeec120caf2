"""Events the enrolment service publishes about learners' enrolments."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.common import LearnerIdentity, Money
from shared.events.envelope import Event
from shared.events.topics import Topic


class EnrolmentEvent(Event):
    topic: ClassVar[Topic] = Topic.ENROLMENTS
    enrolment_id: str

    @property
    def key(self) -> str:
        return self.enrolment_id


class FeeStatus(StrEnum):
    WAIVED = "waived"  # The alliance's students and staff, or a free offering.
    DUE = "due"
    PAID = "paid"


class LearnerEnrolled(EnrolmentEvent):
    """The learner has a place: on applying, or when promoted from the waitlist."""

    type: ClassVar[str] = "eu.microcredentials.enrolment.learner.enrolled.v1"
    course_id: str
    course_version: int
    course_title: str
    learner: LearnerIdentity
    enrolled_at: datetime
    offering_id: str | None = None
    fee: Money | None = None
    fee_status: FeeStatus = FeeStatus.WAIVED
    promoted_from_waitlist: bool = False


class LearnerWaitlisted(EnrolmentEvent):
    type: ClassVar[str] = "eu.microcredentials.enrolment.learner.waitlisted.v1"
    course_id: str
    course_version: int
    course_title: str
    offering_id: str
    learner: LearnerIdentity
    # 1 is next in line.
    position: int = Field(ge=1)
    waitlisted_at: datetime


class EnrolmentWithdrawn(EnrolmentEvent):
    type: ClassVar[str] = "eu.microcredentials.enrolment.enrolment.withdrawn.v1"
    course_id: str
    course_title: str
    offering_id: str | None = None
    learner: LearnerIdentity
    # Whether the learner had a place (a promotion follows) or was on the waitlist.
    was_enrolled: bool
    withdrawn_at: datetime
