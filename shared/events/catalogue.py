"""Events the catalogue publishes about micro-credential courses."""

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Contract, Event
from shared.events.topics import Topic


class FormOfParticipation(StrEnum):
    ONSITE = "onsite"
    ONLINE = "online"
    BLENDED = "blended"


class IdentityVerification(StrEnum):
    """Supervision and identity verification during assessment (an optional element of Annex I)."""

    UNSUPERVISED_NO_VERIFICATION = "unsupervised-no-identity-verification"
    SUPERVISED_NO_VERIFICATION = "supervised-no-identity-verification"
    SUPERVISED_ONLINE = "supervised-online"
    ONSITE_WITH_VERIFICATION = "onsite-with-identity-verification"


class Stackability(StrEnum):
    STAND_ALONE = "stand-alone"
    STACKABLE = "stackable"


class AwardingBody(Contract):
    name: str = Field(min_length=1, max_length=300)
    # ISO 3166-1 alpha-2: the country of the issuer is a mandatory element.
    country: str = Field(pattern=r"^[A-Z]{2}$")
    url: str | None = None


class MicroCredentialDescription(Contract):
    """The elements of the Council Recommendation (Annex I) that describe the course itself.

    The remaining mandatory elements, the learner's identification and the date of issuing, belong to the credential.
    """

    title: str = Field(min_length=3, max_length=300)
    awarding_bodies: list[AwardingBody] = Field(min_length=1)
    learning_outcomes: list[str] = Field(min_length=1)
    # ISO 639-1 codes of the languages of instruction and assessment.
    languages: list[str] = Field(min_length=1)
    ects: float = Field(gt=0)
    workload_hours: float | None = Field(default=None, gt=0)
    # EQF level, when the learning experience has one.
    eqf_level: int | None = Field(default=None, ge=1, le=8)
    type_of_assessment: str = Field(min_length=3)
    form_of_participation: FormOfParticipation
    type_of_quality_assurance: str = Field(min_length=3)
    # Optional elements.
    short_description: str | None = None
    prerequisites: str | None = None
    identity_verification: IdentityVerification | None = None
    stackability: Stackability = Stackability.STAND_ALONE
    contact: str | None = None


class CourseEvent(Event):
    topic: ClassVar[Topic] = Topic.COURSES
    course_id: str

    @property
    def key(self) -> str:
        return self.course_id


class CourseSubmitted(CourseEvent):
    type: ClassVar[str] = "eu.microcredentials.catalogue.course.submitted.v1"
    version: int = Field(ge=1)
    title: str
    submitted_by: str


class CourseApproved(CourseEvent):
    type: ClassVar[str] = "eu.microcredentials.catalogue.course.approved.v1"
    # Approved versions are immutable: what a learner took stays what it was.
    version: int = Field(ge=1)
    description: MicroCredentialDescription
    approved_by: str
    approved_at: datetime


class CourseRejected(CourseEvent):
    type: ClassVar[str] = "eu.microcredentials.catalogue.course.rejected.v1"
    version: int = Field(ge=1)
    rejected_by: str
    reasons: list[str] = Field(min_length=1)
