"""Events the assessment service publishes: the authoritative record of grades, and the grading schemes they follow."""

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from shared.events.catalogue import IdentityVerification
from shared.events.common import LearnerIdentity
from shared.events.envelope import Contract, Event
from shared.events.topics import Topic


class NumericScheme(Contract):
    """A numeric scale: German 1.0-5.0 (lower is better, 4.0 passes), Belgian/French 0-20 (10 passes), 0-10, ..."""

    kind: Literal["numeric"] = "numeric"
    name: str | None = None
    minimum: float
    maximum: float
    # The worst grade that still passes.
    pass_mark: float
    lower_is_better: bool = False

    @model_validator(mode="after")
    def _pass_mark_on_the_scale(self) -> Self:
        if not self.minimum < self.maximum:
            raise ValueError(f"minimum {self.minimum:g} must be below maximum {self.maximum:g}")
        if not self.minimum <= self.pass_mark <= self.maximum:
            raise ValueError(f"pass_mark {self.pass_mark:g} is outside {self.minimum:g}-{self.maximum:g}")
        return self


class LetterScheme(Contract):
    """Letters (or any labels), best first, and the ones that pass."""

    kind: Literal["letters"] = "letters"
    name: str | None = None
    grades: list[str] = Field(min_length=1)
    passing: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _passing_grades_are_grades(self) -> Self:
        known = [grade.strip().upper() for grade in self.grades]
        if len(set(known)) != len(known):
            raise ValueError("grades must not repeat")
        if unknown := [grade for grade in self.passing if grade.strip().upper() not in known]:
            raise ValueError(f"passing grades {', '.join(unknown)} are not among the grades")
        return self


class PassFailScheme(Contract):
    kind: Literal["pass-fail"] = "pass-fail"
    name: str | None = None
    passing: str = Field(default="pass", min_length=1)
    failing: str = Field(default="fail", min_length=1)


class EctsScheme(Contract):
    """The ECTS grading scale: A-E pass, FX and F fail."""

    kind: Literal["ects"] = "ects"
    name: str | None = None


# How a course is graded; `kind` tells which.
GradingScheme = Annotated[NumericScheme | LetterScheme | PassFailScheme | EctsScheme, Field(discriminator="kind")]


class GradeEvent(Event):
    topic: ClassVar[Topic] = Topic.GRADES
    course_id: str
    learner_id: str

    @property
    def key(self) -> str:
        # Per learner, so that a learner's grades (and what they stack into) stay in order.
        return self.learner_id


class GradeRecorded(GradeEvent):
    type: ClassVar[str] = "eu.microcredentials.assessment.grade.recorded.v1"
    grade_id: str
    enrolment_id: str
    course_version: int
    learner: LearnerIdentity
    grade: str
    # Decided by assessment from the course's grading scheme (never taken from the LMS).
    passed: bool
    assessed_on: date
    # The id of the submission this grade came from: the LMS's CloudEvent id, or one given to an HTTP submission.
    submission_id: str
    # The scheme the grade was judged by, as it was then.
    grading_scheme: GradingScheme | None = None
    # From the course (Annex I elements the credential carries).
    type_of_assessment: str | None = None
    # From the submission when it says so, else the course's.
    identity_verification: IdentityVerification | None = None
    # The course's title, for what the learner is told.
    course_title: str | None = None


class GradeRejected(GradeEvent):
    type: ClassVar[str] = "eu.microcredentials.assessment.grade.rejected.v1"
    submission_id: str
    # A stable code for dashboards and an explanation for people.
    rule: str = Field(min_length=1)
    reason: str = Field(min_length=1)


class GradeAmended(GradeEvent):
    """A recorded grade was changed by an assessor; when `passed` changed, a credential may need revoking or issuing."""

    type: ClassVar[str] = "eu.microcredentials.assessment.grade.amended.v1"
    grade_id: str
    learner: LearnerIdentity
    previous_grade: str
    previous_passed: bool
    grade: str
    passed: bool
    reason: str = Field(min_length=1)
    amended_at: datetime
    amended_by: str | None = None
    enrolment_id: str | None = None
    course_version: int | None = None
