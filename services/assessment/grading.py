"""Recording, rejecting and amending grades: the one path every entry point takes (the LMS topic, POST /grades, a CSV
cohort, an amendment), so that the same rules hold and the same events are published whichever way a grade came in."""

import functools
import uuid
from dataclasses import asdict
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select

from services.assessment.domain import SCHEMES, GradeOutOfScale, Rejection, Submission, passes, review_submission
from services.assessment.lms_registry import RegisteredLms
from services.assessment.models import (
    Course,
    CourseGradingScheme,
    EnrolledLearner,
    Grade,
    GradeAmendment,
    GradeBase,
    GradeRejection,
)
from shared.db import UnitOfWork, among, utcnow
from shared.events.assessment import GradeAmended, GradeRecorded, GradeRejected, GradingScheme
from shared.events.common import LearnerIdentity
from shared.events.lms import GradeSubmitted


# The enrolments this transaction has read, by (course, learner); None: not enrolled.
ENROLMENTS_READ = "assessment.enrolments read"
# The enrolments a transaction learnt of and has not written yet (uow.rows).
ENROLMENTS = "assessment.enrolments"
# The grades a transaction recorded and has not written yet (uow.rows).
GRADES = "assessment.grades"


async def grading_scheme(uow: UnitOfWork, course_id: str) -> GradingScheme | None:
    row = await uow.session.get(CourseGradingScheme, course_id)
    return SCHEMES.validate_python(row.scheme) if row else None


async def enrolment_of(uow: UnitOfWork, course_id: str, learner_id: str) -> EnrolledLearner | None:
    """The learner's enrolment in the course, read once per transaction (the LMS handler asks for its trace too).

    A batch of submissions from an LMS's topic reads the enrolments of all its learners, and their grades, at the
    first one: two queries for the batch instead of two per submission."""
    key = (course_id, learner_id)
    if key not in uow.cache.get(ENROLMENTS_READ, {}):
        await write_enrolments(uow)
        wanted = {(e.course_id, e.learner_id) for e in uow.events if isinstance(e, GradeSubmitted)}
        if key not in wanted:
            wanted = {key}
        await _read_enrolments(uow, wanted)
    return uow.cache[ENROLMENTS_READ][key]


async def _read_enrolments(uow: UnitOfWork, wanted: set[tuple[str, str]]) -> None:
    query = select(EnrolledLearner).where(among((col(EnrolledLearner.course_id), col(EnrolledLearner.learner_id)), wanted))
    found = {(row.course_id, row.learner_id): row for row in (await uow.session.exec(query)).all()}
    read = uow.cache.setdefault(ENROLMENTS_READ, {})
    for key in wanted:
        read[key] = found.get(key)
    unknown = [row.enrolment_id for row in found.values() if ("graded", row.enrolment_id) not in uow.cache]
    if unknown:
        graded = select(Grade).where(col(Grade.enrolment_id).in_(unknown))
        grades = {grade.enrolment_id: grade for grade in (await uow.session.exec(graded)).all()}
        for enrolment_id in unknown:
            uow.cache[("graded", enrolment_id)] = grades.get(enrolment_id)


async def _recorded_grade(uow: UnitOfWork, enrolment_id: str) -> GradeBase | None:
    """The grade recorded for the enrolment, if any: read once per transaction, or read ahead with its enrolment."""
    key = ("graded", enrolment_id)
    if key not in uow.cache:
        uow.cache[key] = (await uow.session.exec(select(Grade).where(Grade.enrolment_id == enrolment_id))).first()
    return uow.cache[key]


def forget_enrolments(uow: UnitOfWork) -> None:
    """After an enrolment is added or removed in this transaction, read enrolments again."""
    uow.cache.pop(ENROLMENTS_READ, None)


def add_enrolment(uow: UnitOfWork, row: dict[str, Any]) -> None:
    """An enrolment this transaction learnt of, unless known (a redelivered LearnerEnrolled inserts nothing): written
    with the others of the transaction in one statement, when it commits or before anything reads or removes
    enrolments (write_enrolments). A cohort's enrolments arrive by the hundred, and a statement each was a third of
    assessment's CPU while a cohort applied."""
    uow.rows(ENROLMENTS, functools.partial(uow.insert_unless_known, EnrolledLearner)).append(row)
    forget_enrolments(uow)


async def write_enrolments(uow: UnitOfWork) -> None:
    """Write the enrolments added so far in this transaction, so that a read or a removal sees them."""
    await uow.write_rows(ENROLMENTS)


async def record_or_reject(
    uow: UnitOfWork, submission: Submission, lms: RegisteredLms | None = None
) -> GradeBase | GradeRejection:
    """Record the grade and publish GradeRecorded, or record why not and publish GradeRejected; never neither.

    `lms`: the registered LMS a submission from Kafka came from. A cohort's grades in one transaction (a batch from
    the LMS's topic, a CSV) read the course and its scheme once, and are written together at the commit: a second
    grade for the same enrolment is found among those of the transaction (and the unique index stands behind it).
    """
    session = uow.session
    with session.no_autoflush:
        enrolment = await enrolment_of(uow, submission.course_id, submission.learner_id)
        recorded = None
        if enrolment is not None:
            recorded = await _recorded_grade(uow, enrolment.enrolment_id)
        if ("course", submission.course_id) not in uow.cache:
            uow.cache[("course", submission.course_id)] = (
                await grading_scheme(uow, submission.course_id),
                await session.get(Course, submission.course_id),
            )
        scheme, course = uow.cache[("course", submission.course_id)]
    verdict = review_submission(submission, enrolment, scheme, recorded, course=course, lms=lms)
    if isinstance(verdict, Rejection):
        return _reject(uow, submission, verdict)
    assert enrolment is not None and scheme is not None
    # The grade as its callers see it, built without validation (its values are checked already) and written as a
    # plain row: a `Grade` table object cost ~130 µs to build (SQLModel sets each field through SQLAlchemy's
    # instrumentation) and an ORM flush to write, together a sixth of assessment's CPU in a cohort.
    grade = GradeBase.model_construct(
        # vars, not asdict: the submission's values are plain, and asdict deep-copies each of them.
        **vars(submission)
        | {
            "id": str(uuid.uuid4()),
            "recorded_at": utcnow(),
            "enrolment_id": enrolment.enrolment_id,
            "course_version": enrolment.course_version,
            "passed": verdict.passed,
            "grading_scheme": SCHEMES.dump_python(scheme, mode="json"),
            "type_of_assessment": course and course.type_of_assessment,
            # The submission's level when it gives one, else the course's.
            "identity_verification": submission.identity_verification or (course and course.identity_verification),
        }
    )
    # A plain INSERT with the transaction's other grades when it commits, not "unless known": a grade recorded for
    # the same enrolment at the same moment elsewhere must fail this transaction (the unique index), not vanish.
    uow.rows(GRADES, functools.partial(_write_grades, uow)).append(grade.model_dump() | {"learner": enrolment.learner})
    uow.cache[("graded", enrolment.enrolment_id)] = grade
    uow.publish(
        GradeRecorded(
            **grade.model_dump(exclude={"id", "grading_scheme"}),
            grade_id=grade.id,
            learner=LearnerIdentity.model_validate(enrolment.learner),
            grading_scheme=scheme,
            course_title=course.title if course else None,
        )
    )
    return grade


async def _write_grades(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    await uow.session.execute(insert(Grade.__table__), rows)


def _reject(uow: UnitOfWork, submission: Submission, rejection: Rejection) -> GradeRejection:
    row = GradeRejection(**asdict(submission) | asdict(rejection))
    uow.session.add(row)
    uow.publish(GradeRejected(**row.model_dump()))
    return row


async def amend(uow: UnitOfWork, grade: Grade, new_grade: str, reason: str, amended_by: str) -> GradeAmendment:
    """Change a recorded grade, keeping the old value in the history, and publish GradeAmended.

    The new grade is judged by the scheme the grade was recorded under. GradeOutOfScale when it is not on it.
    """
    scheme = SCHEMES.validate_python(grade.grading_scheme) if grade.grading_scheme else None
    scheme = scheme or await grading_scheme(uow, grade.course_id)
    if scheme is None:
        raise GradeOutOfScale(f"course {grade.course_id} has no grading scheme to judge the amended grade by")
    amendment = GradeAmendment(
        id=str(uuid.uuid4()),
        grade_id=grade.id,
        previous_grade=grade.grade,
        previous_passed=grade.passed,
        grade=new_grade,
        passed=passes(scheme, new_grade),
        reason=reason,
        amended_by=amended_by,
        amended_at=utcnow(),
    )
    grade.grade, grade.passed = amendment.grade, amendment.passed
    uow.session.add_all([amendment, grade])
    learner = grade.learner or await _enrolled_learner(uow, grade.enrolment_id)
    uow.publish(
        GradeAmended(
            **grade.model_dump(include={"course_id", "learner_id", "enrolment_id", "course_version"}),
            **amendment.model_dump(exclude={"id"}),
            learner=LearnerIdentity.model_validate(learner),
        )
    )
    return amendment


async def _enrolled_learner(uow: UnitOfWork, enrolment_id: str) -> dict:
    """The identity of a learner graded before grades kept it (revision 0001)."""
    enrolment = await uow.session.get(EnrolledLearner, enrolment_id)
    if enrolment is None:
        raise LookupError(f"enrolment {enrolment_id} is no longer known; the learner's identity is missing")
    return enrolment.learner


async def amendments_of(uow: UnitOfWork, grade_id: str) -> list[GradeAmendment]:
    query = select(GradeAmendment).where(GradeAmendment.grade_id == grade_id).order_by(col(GradeAmendment.amended_at))
    return list((await uow.session.exec(query)).all())


def submission_id() -> str:
    return str(uuid.uuid4())

