"""The catalogue's tables and its HTTP bodies (SQLModel families: table, Create, Public).

Courses and programmes are stored by (id, version): an approved version never changes, a revision is a new version.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, field_validator
from pydantic import Field as PydanticField
from pydantic_core import PydanticUseDefault
from sqlalchemy import DateTime, String
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


class OfferingPublic(SQLModel):
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
    opened_by: str
    created_at: datetime
    course_status: Status
    description: MicroCredentialDescription


class OfferingSearch(BaseModel):
    """The filters of `GET /offerings` and of the catalogue page, from the query string."""

    university: str | None = PydanticField(default=None, description="An awarding institution's id.")
    language: str | None = PydanticField(default=None, description="ISO 639-1 code.")
    ects_min: float | None = PydanticField(default=None, ge=0)
    ects_max: float | None = PydanticField(default=None, ge=0)
    eqf_level: int | None = PydanticField(default=None, ge=1, le=8)
    delivery_mode: DeliveryMode | None = None
    pace: Pace | None = None
    target_group: str | None = PydanticField(default=None, description="Part of a target group, any case.")
    skill: str | None = PydanticField(default=None, description="An ESCO skill URI.")
    open_for_registration: bool | None = PydanticField(default=None, description="Registration window open now.")
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


class OfferingPage(BaseModel):
    items: list[OfferingPublic]
    total: int
    page: int
    page_size: int
