"""Events the catalogue publishes about micro-credential courses."""

from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from shared.annex import FormOfParticipation, IdentityVerification, Stackability
from shared.events.common import LearnerCategory, Money
from shared.events.envelope import Contract, Event
from shared.events.topics import Topic


class DeliveryMode(StrEnum):
    ON_CAMPUS = "on-campus"
    ONLINE = "online"
    BLENDED = "blended"


class Pace(StrEnum):
    SELF_PACED = "self-paced"
    TIME_BOUND = "time-bound"


class Funding(StrEnum):
    """How a course is paid for, as the T4EU course table asks."""

    SELF_FUNDED = "self-funded"
    GRANT = "grant"  # a grant, or government funding
    ALLIANCE_FUNDED = "alliance-funded"  # by the alliance, or a project
    FREE = "free"  # free of charge: the university pays
    OTHER = "other"  # said in the note


class CurriculumInclusion(StrEnum):
    """Where a course stands in a degree programme's curriculum; a course may be several (included and apart)."""

    COMPULSORY = "compulsory"
    ELECTIVE = "elective"
    EXTRACURRICULAR = "extracurricular"


class Access(StrEnum):
    OPEN = "open"
    RESTRICTED = "restricted"
    LIMITED = "limited"  # to a number of participants (max_participants)


class AwardingBody(Contract):
    # The institution's code on this alliance's nodes (e.g. "uni-saarland"); principals act for an institution code.
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]*$")
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
    # The T4EU template's fields beyond Annex I.
    faculty: str | None = None
    target_groups: list[str] = Field(default_factory=list)
    participants_obligations: str | None = None
    literature: list[str] = Field(default_factory=list)
    competences: list[str] = Field(default_factory=list)
    # ESCO skill URIs the learning outcomes correspond to.
    skills: list[str] = Field(default_factory=list)
    course_leaders: list[str] = Field(default_factory=list)
    lecturers: list[str] = Field(default_factory=list)
    # Earlier micro-credentials (course ids) a learner must hold to enrol, unless a declared qualification is accepted.
    prerequisite_course_ids: list[str] = Field(default_factory=list)
    accepts_declared_qualification: bool = False
    # The T4EU course table's activity description (../seeds, course table); place is form_of_participation and the
    # evaluation methods are type_of_assessment. All optional: descriptions written before them stay valid.
    pace: Pace | None = None
    access: Access | None = None
    max_participants: int | None = Field(default=None, ge=1)
    funding: Funding | None = None
    # What "other" funding is, or a word on the funding (a fee, a project's name).
    funding_note: str | None = Field(default=None, max_length=2000)
    curriculum_inclusion: list[CurriculumInclusion] = Field(default_factory=list)
    application_and_selection: str | None = Field(default=None, max_length=5000)
    recognition_of_results: str | None = Field(default=None, max_length=5000)
    sustainability: str | None = Field(default=None, max_length=5000)
    student_support: str | None = Field(default=None, max_length=5000)
    teacher_support: str | None = Field(default=None, max_length=5000)
    infrastructure: str | None = Field(default=None, max_length=5000)
    # Analysis and QA: what data is collected, and how, to judge the course's success.
    qa_data_collected: str | None = Field(default=None, max_length=5000)


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


class CourseRetired(CourseEvent):
    type: ClassVar[str] = "eu.microcredentials.catalogue.course.retired.v1"
    version: int = Field(ge=1)
    retired_by: str
    reason: str | None = None


class CourseRejected(CourseEvent):
    type: ClassVar[str] = "eu.microcredentials.catalogue.course.rejected.v1"
    version: int = Field(ge=1)
    rejected_by: str
    reasons: list[str] = Field(min_length=1)


class JointCourseConsented(CourseEvent):
    """An institution of this node consented, at this node (four eyes), to co-award a version of another member's
    joint course: this node's certification endorses that version's credentials (services/certification/
    endorsements.py). The course is the lead's (`lead_node`), so its id is the lead's."""

    type: ClassVar[str] = "eu.microcredentials.catalogue.joint-course.consented.v1"
    version: int = Field(ge=1)
    lead_node: str = Field(min_length=1)
    institution: str = Field(min_length=1)
    # Every awarding institution's code, the lead first, as the request named them.
    institutions: list[str] = Field(min_length=2)
    consented_at: datetime


class JointCourseConsentWithdrawn(CourseEvent):
    """An institution of this node withdrew from another member's joint course from this version on: credentials
    issued after `withdrawn_at` are no longer endorsed here; those issued before keep their endorsement."""

    type: ClassVar[str] = "eu.microcredentials.catalogue.joint-course.withdrawn.v1"
    version: int = Field(ge=1)
    lead_node: str = Field(min_length=1)
    institution: str = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=1000)
    withdrawn_at: datetime


class OfferingEvent(Event):
    topic: ClassVar[Topic] = Topic.OFFERINGS
    offering_id: str

    @property
    def key(self) -> str:
        return self.offering_id


class OfferingOpened(OfferingEvent):
    """A run of an approved course version that learners can apply to."""

    type: ClassVar[str] = "eu.microcredentials.catalogue.offering.opened.v1"
    course_id: str
    course_version: int = Field(ge=1)
    title: str
    institution: str | None = None
    delivery_mode: DeliveryMode
    pace: Pace
    # None for a rolling start.
    starts_on: date | None = None
    ends_on: date | None = None
    registration_opens_at: datetime
    registration_closes_at: datetime
    # None: open to any number of learners.
    capacity: int | None = Field(default=None, ge=1)
    # Charged to external learners; the alliance's students and staff learn for free.
    fee: Money | None = None
    open_to: list[LearnerCategory] = Field(default_factory=lambda: list(LearnerCategory))


class StackingRuleKind(StrEnum):
    ALL_OF = "all-of"
    N_OF = "n-of"
    MIN_ECTS = "min-ects"


class StackingRule(Contract):
    kind: StackingRuleKind
    course_ids: list[str] = Field(min_length=1)
    # For n-of: how many of the courses; for min-ects: how many ECTS among them.
    n: int | None = Field(default=None, ge=1)
    min_ects: float | None = Field(default=None, gt=0)


class ProgrammeEvent(Event):
    topic: ClassVar[Topic] = Topic.PROGRAMMES
    programme_id: str

    @property
    def key(self) -> str:
        return self.programme_id


class ProgrammeApproved(ProgrammeEvent):
    """A stack of micro-credentials, possibly from several universities, that together earn a larger credential."""

    type: ClassVar[str] = "eu.microcredentials.catalogue.programme.approved.v1"
    version: int = Field(ge=1)
    title: str
    description: str | None = None
    awarding_bodies: list[AwardingBody] = Field(min_length=1)
    rule: StackingRule
    approved_by: str
    approved_at: datetime
