"""The enrolment service's tables: its own learners and enrolments, and its read model of approved courses."""

from datetime import datetime
from enum import StrEnum

from pydantic import EmailStr
from pydantic import Field as PydanticField
from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import timestamp_column, utcnow


class ApprovedCourse(SQLModel, table=True):
    """What the catalogue approved, as told by CourseApproved: the courses learners can enrol in."""

    __tablename__ = "approved_courses"

    course_id: str = Field(primary_key=True)
    version: int
    title: str
    approved_at: datetime = Field(sa_column=timestamp_column())


class LearnerCategory(StrEnum):
    ALLIANCE_STUDENT = "alliance-student"
    ALLIANCE_STAFF = "alliance-staff"
    EXTERNAL = "external"


class LearnerBase(SQLModel):
    name: str = PydanticField(min_length=1, max_length=200)
    email: EmailStr = Field(sa_column=Column(String, nullable=False, unique=True))
    home_institution: str | None = None
    category: LearnerCategory = Field(default=LearnerCategory.EXTERNAL, sa_column=Column(String, nullable=False))
    esi: str | None = PydanticField(default=None, description="European Student Identifier, if the learner has one.")


class Learner(LearnerBase, table=True):
    __tablename__ = "learners"

    id: str = Field(primary_key=True)
    registered_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class LearnerCreate(LearnerBase):
    pass


class LearnerPublic(LearnerBase):
    id: str
    registered_at: datetime


class Enrolment(SQLModel, table=True):
    __tablename__ = "enrolments"
    # One enrolment per learner and course, however many requests race for it.
    __table_args__ = (UniqueConstraint("learner_id", "course_id", name="uq_enrolments_learner_course"),)

    id: str = Field(primary_key=True)
    learner_id: str = Field(foreign_key="learners.id")
    course_id: str
    course_version: int
    enrolled_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class EnrolmentCreate(SQLModel):
    learner_id: str = PydanticField(min_length=1)
    course_id: str = PydanticField(min_length=1)


class EnrolmentPublic(SQLModel):
    id: str
    learner_id: str
    course_id: str
    course_version: int
    enrolled_at: datetime
