"""The assessment service's tables (grades, amendments, rejected submissions, grading schemes, and its read models of
courses and enrolments) and its HTTP bodies."""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field as PydanticField
from sqlalchemy import Column, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db import service_table_base, timestamp_column, utcnow
from shared.events.assessment import GradingScheme
from shared.events.catalogue import IdentityVerification

AssessmentTable = service_table_base()


class Course(AssessmentTable, table=True):
    """The latest approved version of a course, as told by CourseApproved: who awards it and how it is assessed."""

    __tablename__ = "courses"

    course_id: str = Field(primary_key=True)
    version: int
    title: str
    # Institution codes of the awarding bodies: their assessors grade the course.
    awarding_institutions: list[str] = Field(sa_column=Column(JSONB, nullable=False))
    type_of_assessment: str
    identity_verification: str | None = None


class CourseGradingScheme(AssessmentTable, table=True):
    __tablename__ = "grading_schemes"

    course_id: str = Field(primary_key=True)
    scheme: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    set_by: str
    set_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class EnrolledLearner(AssessmentTable, table=True):
    """Who is enrolled in what, as told by LearnerEnrolled: only they can be graded."""

    __tablename__ = "enrolled_learners"
    __table_args__ = (UniqueConstraint("course_id", "learner_id", name="uq_enrolled_learners_course_learner"),)

    enrolment_id: str = Field(primary_key=True)
    course_id: str
    course_version: int
    learner_id: str
    learner: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    enrolled_at: datetime = Field(sa_column=timestamp_column())
    # The enrolment's trace: an LMS grade that brings no trace context of its own continues it.
    traceparent: str | None = None


class GradeBase(SQLModel):
    """One grade per enrolment; `grade` and `passed` are the current values (amendments keep the history)."""

    id: str = Field(primary_key=True)
    submission_id: str = Field(unique=True)
    enrolment_id: str
    course_id: str = Field(index=True)
    course_version: int | None = None
    learner_id: str = Field(index=True)
    grade: str
    passed: bool
    assessed_on: date
    # As given: the LMS's field, or the subject of the assessor's token.
    assessor: str
    # Where it came in: "lms" (Kafka), "http" (POST /grades) or "csv" (POST /grades/bulk).
    channel: str = "lms"
    lms: str | None = None
    # The scheme the grade was judged by, as it was then.
    grading_scheme: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    type_of_assessment: str | None = None
    identity_verification: str | None = None
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class Grade(GradeBase, AssessmentTable, table=True):
    __tablename__ = "grades"
    __table_args__ = (Index("uq_grades_enrolment", "enrolment_id", unique=True),)

    # The learner's identity as enrolment told it (kept: a withdrawal later removes the enrolment from the read model).
    learner: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))


class GradeAmendmentBase(SQLModel):
    id: str = Field(primary_key=True)
    previous_grade: str
    previous_passed: bool
    grade: str
    passed: bool
    reason: str
    amended_by: str
    amended_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class GradeAmendment(GradeAmendmentBase, AssessmentTable, table=True):
    __tablename__ = "grade_amendments"

    grade_id: str = Field(index=True, foreign_key="grades.id")


class GradeRejection(AssessmentTable, table=True):
    """A submission that was not accepted, kept with its reason so that the LMS's operators can see why."""

    __tablename__ = "grade_rejections"

    submission_id: str = Field(primary_key=True)
    course_id: str
    learner_id: str
    rule: str
    reason: str
    channel: str = "lms"
    lms: str | None = None
    # The line of the CSV file, for a bulk upload.
    line: int | None = None
    rejected_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class EnrolledLearnerPublic(SQLModel):
    enrolment_id: str
    course_id: str
    learner_id: str
    enrolled_at: datetime


class GradingSchemeBody(BaseModel):
    scheme: GradingScheme


class GradingSchemePublic(GradingSchemeBody):
    course_id: str
    set_by: str
    set_at: datetime


class GradeCreate(BaseModel):
    course_id: str = PydanticField(min_length=1)
    learner_id: str = PydanticField(min_length=1)
    grade: str = PydanticField(min_length=1, max_length=20)
    assessed_on: date
    identity_verification: IdentityVerification | None = None


class AmendmentCreate(BaseModel):
    grade: str = PydanticField(min_length=1, max_length=20)
    reason: str = PydanticField(min_length=1)


class GradeAmendmentPublic(GradeAmendmentBase):
    pass


class GradePublic(GradeBase):
    """A grade as listed: by the learner's id, without the identity enrolment told (name, email)."""


class GradeDetail(GradePublic):
    # Oldest first; `grade` and `passed` are the values after the last one.
    amendments: list[GradeAmendmentPublic] = []


class RecordedRow(BaseModel):
    line: int
    learner_id: str
    grade_id: str
    grade: str
    passed: bool


class RejectedRow(BaseModel):
    line: int
    learner_id: str
    submission_id: str
    rule: str
    reason: str


class CohortResult(BaseModel):
    course_id: str
    recorded: list[RecordedRow]
    rejected: list[RejectedRow]
