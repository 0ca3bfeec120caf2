"""The catalogue's tables and its HTTP bodies (SQLModel families: table, Create, Public).

Courses and programmes are stored by (id, version): an approved version never changes, a revision is a new version.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, field_validator
from pydantic import Field as PydanticField
from pydantic_core import PydanticUseDefault
from sqlalchemy import DateTime, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db import service_table_base, utcnow
from shared.events.catalogue import (
    AwardingBody,
    DeliveryMode,
    MicroCredentialDescription,
    Pace,
    StackingRule,
)
from shared.events.common import LearnerCategory, Money
from shared.limits import PositiveInt32

CatalogueTable = service_table_base()


def timestamp(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=DateTime(timezone=True))
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    # Approved by the lead's QA, waiting for every co-awarding institution hosted by another node to consent there
    # (services/catalogue/consents.py); then approved, or rejected with the reason of a partner that declined.
    AWAITING_CONSENT = "awaiting-consent"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETIRED = "retired"


class Reviewed(CatalogueTable):
    """What courses and programmes share: versions and the quality-assurance workflow with four eyes."""

    id: str = Field(primary_key=True)
    version: int = Field(default=1, primary_key=True)
    status: Status = Field(default=Status.DRAFT, sa_type=String, index=True)
    # The awarding institutions' ids, the lead first: who may act on it, and what `institution=` filters on.
    institutions: list[str] = Field(sa_type=JSONB)
    designed_by: str
    submitted_by: str | None = None
    reviewed_by: str | None = None
    # The people's names as their tokens said when they acted, for pages that show people, not subjects (none for
    # versions written before names were kept, or when the token carries no name).
    designed_by_name: str | None = None
    submitted_by_name: str | None = None
    reviewed_by_name: str | None = None
    rejection_reasons: list[str] | None = Field(default=None, sa_type=JSONB)
    retired_by: str | None = None
    retirement_reason: str | None = None
    created_at: datetime = timestamp()
    submitted_at: datetime | None = timestamp(nullable=True)
    reviewed_at: datetime | None = timestamp(nullable=True)
    retired_at: datetime | None = timestamp(nullable=True)
    updated_at: datetime = timestamp()

    @property
    def lead(self) -> str:
        return self.institutions[0]


class Course(Reviewed, table=True):
    __tablename__ = "courses"

    description: dict[str, Any] = Field(sa_type=JSONB)

    @property
    def title(self) -> str:
        return self.description["title"]


class Programme(Reviewed, table=True):
    __tablename__ = "programmes"

    title: str
    description: str | None = None
    awarding_bodies: list[dict[str, Any]] = Field(sa_type=JSONB)
    rule: dict[str, Any] = Field(sa_type=JSONB)


class Offering(CatalogueTable, table=True):
    """A run of an approved course version, with its dates and registration window."""

    __tablename__ = "offerings"

    id: str = Field(primary_key=True)
    course_id: str = Field(index=True)
    course_version: int
    # The lead awarding body, which runs the offering.
    institution: str = Field(index=True)
    delivery_mode: DeliveryMode = Field(sa_type=String)
    pace: Pace = Field(sa_type=String)
    starts_on: date | None = None
    ends_on: date | None = None
    registration_opens_at: datetime = Field(sa_type=DateTime(timezone=True))
    registration_closes_at: datetime = Field(sa_type=DateTime(timezone=True))
    capacity: int | None = None
    fee: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    open_to: list[LearnerCategory] = Field(sa_type=JSONB)
    opened_by: str
    created_at: datetime = timestamp()


class OfferingPlaces(CatalogueTable, table=True):
    """Places taken and left of one of the node's offerings, as enrolment last told (OfferingAvailabilityChanged)."""

    __tablename__ = "offering_places"

    offering_id: str = Field(primary_key=True)
    capacity: int | None = None
    enrolled: int
    waitlisted: int
    places_left: int | None = None


# --- the other members' listings, as this node's alliance gateway passed them on (shared/events/alliance.py) ---


class MemberListing(CatalogueTable):
    # The node that runs it, by its id in the alliance registry.
    node: str = Field(primary_key=True)
    # What the listing speaks for: the lead awarding institution; the registry must say the node hosts it.
    institution: str
    institutions: list[str] = Field(sa_type=JSONB)
    # When this node first heard of it, and when it was taken off offer (then it is no longer shown).
    listed_at: datetime = timestamp()
    delisted_at: datetime | None = timestamp(nullable=True)


class MemberCourse(MemberListing, table=True):
    __tablename__ = "member_courses"

    course_id: str = Field(primary_key=True)
    version: int
    description: dict[str, Any] = Field(sa_type=JSONB)
    approved_at: datetime = Field(sa_type=DateTime(timezone=True))


class MemberOffering(MemberListing, table=True):
    __tablename__ = "member_offerings"

    offering_id: str = Field(primary_key=True)
    course_id: str
    course_version: int
    delivery_mode: DeliveryMode = Field(sa_type=String)
    pace: Pace = Field(sa_type=String)
    starts_on: date | None = None
    ends_on: date | None = None
    registration_opens_at: datetime = Field(sa_type=DateTime(timezone=True))
    registration_closes_at: datetime = Field(sa_type=DateTime(timezone=True))
    capacity: int | None = None
    fee: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    open_to: list[LearnerCategory] = Field(sa_type=JSONB)
    # The course version's description, as the listing carries it.
    description: dict[str, Any] = Field(sa_type=JSONB)
    enrolled: int = 0
    waitlisted: int = 0
    places_left: int | None = None


class MemberProgramme(MemberListing, table=True):
    __tablename__ = "member_programmes"

    programme_id: str = Field(primary_key=True)
    version: int
    title: str
    description: str | None = None
    awarding_bodies: list[dict[str, Any]] = Field(sa_type=JSONB)
    rule: dict[str, Any] = Field(sa_type=JSONB)
    approved_at: datetime = Field(sa_type=DateTime(timezone=True))


# --- joint courses: each co-awarding institution hosted by another node consents there (consents.py) ---


class Answer(StrEnum):
    """At the lead's node: where a partner institution's consent to one course version stands."""

    REQUESTED = "requested"
    GIVEN = "given"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class PartnerConsent(CatalogueTable, table=True):
    """At the lead's node: a co-awarding institution hosted by another node, asked to consent to a course version;
    asked again until it answers (CONSENT_RETRY_SECONDS)."""

    __tablename__ = "partner_consents"

    course_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    institution: str = Field(primary_key=True)
    # The node the registry said hosts the institution when it was asked: only its answer counts.
    node: str
    answer: Answer = Field(default=Answer.REQUESTED, sa_type=String)
    # Why it declined or withdrew, in the partner's words.
    reason: str | None = None
    requested_at: datetime = timestamp()
    attempts: int = 1
    answered_at: datetime | None = timestamp(nullable=True)


class PartnerConsentPublic(SQLModel):
    course_id: str
    version: int
    institution: str
    node: str
    answer: Answer
    reason: str | None
    requested_at: datetime
    attempts: int
    answered_at: datetime | None


class CaseState(StrEnum):
    """At a partner's node: where its QA stands on a lead's request. Four eyes: one person recommends, a different
    QA officer consents; a QA officer may decline while it is open, and withdraw after consenting."""

    RECEIVED = "received"
    RECOMMENDED = "recommended"
    CONSENTED = "consented"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class ConsentCase(CatalogueTable, table=True):
    """At a partner's node: a lead node's request that an institution of this node co-awards a course version, as its
    QA officers see and decide it."""

    __tablename__ = "consent_cases"
    __table_args__ = (UniqueConstraint("lead_node", "course_id", "version", "institution"),)

    id: str = Field(primary_key=True)
    # This node, as the lead addressed it (the sender of every answer), and the lead's node.
    node: str
    lead_node: str
    lead_institution: str
    course_id: str = Field(index=True)
    version: int
    # The institution of this node asked to co-award, and every awarding institution (the lead first).
    institution: str = Field(index=True)
    institutions: list[str] = Field(sa_type=JSONB)
    description: dict[str, Any] = Field(sa_type=JSONB)
    # The version this institution consented to before, which this one revises (the lead's word).
    previous_version: int | None = None
    state: CaseState = Field(default=CaseState.RECEIVED, sa_type=String, index=True)
    received_at: datetime = timestamp()
    recommended_by: str | None = None
    recommended_by_name: str | None = None
    recommended_at: datetime | None = timestamp(nullable=True)
    decided_by: str | None = None
    decided_by_name: str | None = None
    decided_at: datetime | None = timestamp(nullable=True)
    # Why it was declined, or withdrawn.
    reason: str | None = None
    withdrawn_by: str | None = None
    withdrawn_by_name: str | None = None
    withdrawn_at: datetime | None = timestamp(nullable=True)

    @property
    def title(self) -> str:
        return self.description["title"]


class ConsentCasePublic(SQLModel):
    id: str
    lead_node: str
    lead_institution: str
    course_id: str
    version: int
    institution: str
    institutions: list[str] = PydanticField(description="The awarding institutions' ids; the first is the lead.")
    description: MicroCredentialDescription
    previous_version: int | None
    state: CaseState
    received_at: datetime
    recommended_by: str | None
    recommended_by_name: str | None
    recommended_at: datetime | None
    decided_by: str | None
    decided_by_name: str | None
    decided_at: datetime | None
    reason: str | None
    withdrawn_by: str | None
    withdrawn_by_name: str | None
    withdrawn_at: datetime | None


class ConsentCaseRead(ConsentCasePublic):
    """One case, with what changed since the version this institution consented to before."""

    previous_description: MicroCredentialDescription | None = PydanticField(
        description="The description of the version consented to before, when this node holds it."
    )
    changes: list[str] = PydanticField(description="The description's elements that differ from that version's.")


class Reason(SQLModel):
    reason: str = PydanticField(min_length=1, max_length=1000, description="In words the lead's people will read.")


# --- HTTP bodies ---


class CourseCreate(SQLModel):
    """A new course, or a new version of one (`POST /courses/{id}/revisions`): its description, nothing else."""

    description: MicroCredentialDescription


class Rejection(SQLModel):
    reasons: list[str] = PydanticField(min_length=1, description="What the designers must change.")


class Retirement(SQLModel):
    reason: str | None = None


class ReviewedPublic(SQLModel):
    id: str
    version: int
    status: Status
    institutions: list[str] = PydanticField(description="The awarding institutions' ids; the first is the lead.")
    designed_by: str
    submitted_by: str | None
    reviewed_by: str | None
    designed_by_name: str | None = None
    submitted_by_name: str | None = None
    reviewed_by_name: str | None = None
    rejection_reasons: list[str] | None
    retired_by: str | None
    retirement_reason: str | None
    created_at: datetime
    submitted_at: datetime | None
    reviewed_at: datetime | None
    retired_at: datetime | None
    updated_at: datetime


class CoursePublic(ReviewedPublic):
    description: MicroCredentialDescription


class ProgrammeCreate(SQLModel):
    title: str = PydanticField(min_length=3, max_length=300)
    description: str | None = None
    awarding_bodies: list[AwardingBody] = PydanticField(min_length=1, description="The first is the lead.")
    rule: StackingRule


class ProgrammePublic(ReviewedPublic):
    title: str
    description: str | None
    awarding_bodies: list[AwardingBody]
    rule: StackingRule


class OfferingCreate(SQLModel):
    course_id: str
    course_version: PositiveInt32 | None = PydanticField(default=None, description="Default: the latest approved one.")
    delivery_mode: DeliveryMode
    pace: Pace
    starts_on: date | None = None
    ends_on: date | None = None
    # With a time zone: a registration window is a moment for learners in every country of the alliance.
    registration_opens_at: AwareDatetime
    registration_closes_at: AwareDatetime
    capacity: PositiveInt32 | None = PydanticField(default=None, description="None: any number of learners.")
    fee: Money | None = PydanticField(default=None, description="Charged to external learners.")
    open_to: list[LearnerCategory] = PydanticField(default_factory=lambda: list(LearnerCategory), min_length=1)


class Runner(SQLModel):
    """Who runs something listed, and where: the fields every listing of the alliance's catalogue has."""

    node: str | None = PydanticField(
        description="The node that runs it, by its id in the alliance registry (None: this node, in no alliance)."
    )
    university: str = PydanticField(
        description="The lead awarding university: its legal name in the alliance registry, else as described."
    )
    country: str = PydanticField(description="The lead awarding university's country, ISO 3166-1 alpha-2.")


class OfferingPublic(Runner):
    id: str
    course_id: str
    course_version: int
    # The course version's title, as OfferingOpened carries it.
    title: str
    institution: str
    delivery_mode: DeliveryMode
    pace: Pace
    starts_on: date | None
    ends_on: date | None
    registration_opens_at: datetime
    registration_closes_at: datetime
    open_for_registration: bool
    capacity: int | None
    fee: Money | None
    open_to: list[LearnerCategory]
    opened_by: str | None = PydanticField(description="Who opened it (at this node; not told by other members).")
    created_at: datetime
    course_status: Status
    description: MicroCredentialDescription
    enrolled: int = PydanticField(description="Learners with a place.")
    waitlisted: int
    places_left: int | None = PydanticField(description="None: no limit.")
    registration_url: str | None = PydanticField(
        description="The offering's page at the node that runs it, where learners register (None: a node in no alliance)."
    )


class CourseListingPublic(Runner):
    """An approved course of the alliance's catalogue: its newest approved version that is not retired."""

    course_id: str
    version: int
    institutions: list[str] = PydanticField(description="The awarding institutions' ids; the first is the lead.")
    description: MicroCredentialDescription
    approved_at: datetime


class ProgrammeListingPublic(Runner):
    """An approved programme of the alliance's catalogue."""

    programme_id: str
    version: int
    title: str
    description: str | None
    institutions: list[str] = PydanticField(description="The awarding institutions' ids; the first is the lead.")
    awarding_bodies: list[AwardingBody]
    rule: StackingRule
    approved_at: datetime


class Search(BaseModel):
    """Filters from the query string, a page at a time."""

    university: str | None = PydanticField(default=None, description="An awarding institution's id.")
    q: str | None = PydanticField(default=None, description="Words in the title.")
    page: PositiveInt32 = 1
    page_size: int = PydanticField(default=20, ge=1, le=100)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        # An HTML form sends its empty fields as `name=`; they mean "any".
        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value


class CourseSearch(Search):
    """The filters of `GET /alliance/courses`: what a description says."""

    language: str | None = PydanticField(default=None, description="ISO 639-1 code.")
    ects_min: float | None = PydanticField(default=None, ge=0)
    ects_max: float | None = PydanticField(default=None, ge=0)
    eqf_level: int | None = PydanticField(default=None, ge=1, le=8)
    target_group: str | None = PydanticField(default=None, description="Part of a target group, any case.")
    skill: str | None = PydanticField(default=None, description="An ESCO skill URI.")


class OfferingSearch(CourseSearch):
    """The filters of `GET /offerings` and of the catalogue page: the description's, and the offering's own."""

    delivery_mode: DeliveryMode | None = None
    pace: Pace | None = None
    open_for_registration: bool | None = PydanticField(default=None, description="Registration window open now.")


class OfferingPage(BaseModel):
    items: list[OfferingPublic]
    total: int
    page: int
    page_size: int


class CoursePage(BaseModel):
    items: list[CourseListingPublic]
    total: int
    page: int
    page_size: int


class ProgrammePage(BaseModel):
    items: list[ProgrammeListingPublic]
    total: int
    page: int
    page_size: int
