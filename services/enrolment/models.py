"""The enrolment service's tables and HTTP bodies (SQLModel families: table, Create, Public).

Its own data: learners and their applications. Its read models, built from other services' events: the approved
course versions and the offerings (catalogue), and the micro-credentials each learner holds (certification).
The constraints that guard capacity and the waitlist live in the migration (0002), where the database enforces them.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr
from pydantic import Field as PydanticField
from sqlalchemy import Column, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db import timestamp_column, utcnow
from shared.events.common import LearnerCategory, Money
from shared.events.enrolment import FeeStatus

# urn:schac:personalUniqueCode:int:esi:<country or home organisation>:<code>, checked loosely: the code's format is
# each country's own business.
ESI_PATTERN = r"^urn:schac:personalUniqueCode:int:esi:[A-Za-z0-9][A-Za-z0-9.-]*:\S+$"


def json_column(nullable: bool = False) -> Any:
    return Column(JSONB, nullable=nullable)


# --- read models ---


class CourseVersion(SQLModel, table=True):
    """An approved version of a course, as told by CourseApproved (and CourseRetired)."""

    __tablename__ = "course_versions"

    course_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    title: str
    prerequisite_course_ids: list[str] = Field(default_factory=list, sa_column=json_column())
    accepts_declared_qualification: bool = False
    target_groups: list[str] = Field(default_factory=list, sa_column=json_column())
    approved_at: datetime = Field(sa_column=timestamp_column())
    retired_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class OfferingBase(SQLModel):
    course_id: str = Field(index=True)
    course_version: int
    title: str
    institution: str | None = Field(default=None, index=True)
    delivery_mode: str
    pace: str
    starts_on: date | None = None
    ends_on: date | None = None
    registration_opens_at: datetime = Field(sa_column=timestamp_column())
    registration_closes_at: datetime = Field(sa_column=timestamp_column())
    capacity: int | None = PydanticField(default=None, description="None: no limit.")


class Offering(OfferingBase, table=True):
    """A run of a course version learners can apply to, as told by OfferingOpened. Its row is the applications' lock."""

    __tablename__ = "offerings"

    offering_id: str = Field(primary_key=True)
    # A Money as JSON; None for a free offering.
    fee: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    open_to: list[str] = Field(default_factory=list, sa_column=json_column())
    opened_at: datetime = Field(sa_column=timestamp_column())


class HeldCredential(SQLModel, table=True):
    """A micro-credential a learner holds, as told by CredentialIssued: what prerequisites are checked against."""

    __tablename__ = "held_credentials"

    credential_id: str = Field(primary_key=True)
    learner_id: str = Field(index=True)
    course_id: str
    course_version: int
    issued_at: datetime = Field(sa_column=timestamp_column())


# --- learners ---

def esi_field(description: str) -> Any:
    return PydanticField(default=None, pattern=ESI_PATTERN, description=description)


def preferred_language_field() -> Any:
    return PydanticField(
        default=None,
        pattern=r"^[a-z]{2}$",
        description="The language the learner is written to in, ISO 639-1 (\"de\", \"fr\"); none: English.",
    )


class LearnerBase(SQLModel):
    # Attested by the learner's identity provider (their token's claims), kept up to date on each of their requests.
    name: str = PydanticField(min_length=1, max_length=200)
    email: EmailStr = Field(sa_column=Column(String, nullable=False, unique=True))
    home_institution: str | None = PydanticField(default=None, max_length=300)
    # From the token's affiliation and home institution: a student or staff member of an alliance institution.
    category: LearnerCategory = Field(sa_column=Column(String, nullable=False))
    # The token's (SCHAC schacPersonalUniqueCode), else what the learner gave.
    esi: str | None = esi_field("European Student Identifier: urn:schac:personalUniqueCode:int:esi:<country>:<code>")
    preferred_language: str | None = preferred_language_field()


class Learner(LearnerBase, table=True):
    __tablename__ = "learners"

    # The subject of the learner's bearer token.
    id: str = Field(primary_key=True)
    registered_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class LearnerCreate(BaseModel):
    """What a learner chooses when registering. Who they are (name, email, home institution, category) comes from
    their token: a body that says it is refused (422), so that no client believes it was taken."""

    model_config = ConfigDict(extra="forbid")

    preferred_language: str | None = preferred_language_field()
    esi: str | None = esi_field(
        "European Student Identifier (urn:schac:personalUniqueCode:int:esi:<country>:<code>), when the token does not "
        "carry one (its schacPersonalUniqueCode claim wins)."
    )


class LearnerPublic(LearnerBase):
    id: str
    registered_at: datetime
    held_course_ids: list[str] = PydanticField(default_factory=list, description="Courses whose micro-credential they hold.")


# --- applications ---


class ApplicationStatus(StrEnum):
    ENROLLED = "enrolled"
    WAITLISTED = "waitlisted"
    WITHDRAWN = "withdrawn"


class ApplicationBase(SQLModel):
    offering_id: str = Field(foreign_key="offerings.offering_id")
    learner_id: str = Field(foreign_key="learners.id", index=True)
    status: ApplicationStatus = Field(sa_column=Column(String, nullable=False))
    position: int | None = PydanticField(default=None, description="Place on the waitlist; 1 is next in line.")
    declared_qualification: str | None = None
    fee_status: FeeStatus | None = Field(default=None, sa_column=Column(String, nullable=True))
    promoted_from_waitlist: bool = False
    applied_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    enrolled_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))
    withdrawn_at: datetime | None = Field(default=None, sa_column=timestamp_column(nullable=True))


class Application(ApplicationBase, table=True):
    __tablename__ = "applications"

    id: str = Field(primary_key=True)
    # As the learner was when applying: decides the fee, also on a later promotion.
    learner_category: LearnerCategory = Field(sa_column=Column(String, nullable=False))
    # The enrolled hold seats 1..capacity, unique per offering (as positions 1..n of the waitlisted are).
    seat: int | None = None
    fee: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    fee_recorded_by: str | None = None


class ApplicationCreate(SQLModel):
    offering_id: str = PydanticField(min_length=1)
    declared_qualification: str | None = PydanticField(
        default=None,
        max_length=1000,
        description="A qualification in place of the prerequisite micro-credentials, where the course accepts one.",
    )


class ApplicationPublic(ApplicationBase):
    id: str
    fee: Money | None


class FeeUpdate(SQLModel):
    status: Literal[FeeStatus.PAID, FeeStatus.WAIVED]


# --- offerings, as this service sees them ---


class OfferingPublic(OfferingBase):
    id: str
    fee: Money | None
    open_to: list[LearnerCategory]
    # From the course version; course_known is false until its CourseApproved has arrived here.
    course_known: bool
    course_retired: bool
    prerequisite_course_ids: list[str]
    accepts_declared_qualification: bool
    target_groups: list[str]
    enrolled: int
    waitlisted: int
    places_left: int | None = PydanticField(description="None: no limit.")
