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


class OfferingAvailabilityChanged(Event):
    """How many places of an offering are taken and left, published whenever the counts change: public figures, no
    one's name. The catalogue shows places left; the alliance gateway lists them for the other nodes."""

    type: ClassVar[str] = "eu.microcredentials.enrolment.availability.changed.v1"
    topic: ClassVar[Topic] = Topic.AVAILABILITY
    offering_id: str
    # None: any number of learners.
    capacity: int | None = Field(default=None, ge=1)
    enrolled: int = Field(ge=0)
    waitlisted: int = Field(ge=0)
    # None: no limit.
    places_left: int | None = Field(default=None, ge=0)

    @property
    def key(self) -> str:
        return self.offering_id
