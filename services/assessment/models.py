"""The assessment service's tables: grades, rejected submissions, and its read model of enrolments."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.db import service_table_base, timestamp_column, utcnow


AssessmentTable = service_table_base()


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


class Grade(AssessmentTable, table=True):
    __tablename__ = "grades"

    id: str = Field(primary_key=True)
    submission_id: str = Field(unique=True)
    enrolment_id: str
    course_id: str = Field(index=True)
    learner_id: str = Field(index=True)
    grade: str
    passed: bool
    assessed_on: date
    assessor: str
    lms: str
    recorded_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class GradeRejection(AssessmentTable, table=True):
    """A submission that was not accepted, kept with its reason so that the LMS's operators can see why."""

    __tablename__ = "grade_rejections"

    submission_id: str = Field(primary_key=True)
    course_id: str
    learner_id: str
    rule: str
    reason: str
    lms: str
    rejected_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


class EnrolledLearnerPublic(SQLModel):
    enrolment_id: str
    course_id: str
    learner_id: str
    enrolled_at: datetime
