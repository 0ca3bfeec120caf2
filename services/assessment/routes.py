"""HTTP routes of the assessment service: grading schemes, grades (one, or a CSV cohort), amendments, rejected
submissions, and who can be graded. The rules are in `domain`, recording in `grading`; these only translate."""

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from email.parser import BytesParser
from email.policy import HTTP
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from services.assessment import access
from services.assessment.domain import CohortRow, GradeOutOfScale, InvalidCsv, Submission, TooManyRows, parse_cohort
from services.assessment.grading import amend, amendments_of, record_or_reject, submission_id
from services.assessment.models import (
    AmendmentCreate,
    CohortResult,
    Course,
    CourseGradingScheme,
    EnrolledLearner,
    EnrolledLearnerPublic,
    Grade,
    GradeAmendmentPublic,
    GradeBase,
    GradeCreate,
    GradeDetail,
    GradePublic,
    GradeRejection,
    GradingSchemeBody,
    GradingSchemePublic,
    RecordedRow,
    RejectedRow,
)
from shared.auth import CurrentPrincipal, Role, Scope
from shared.db import UnitOfWork, utcnow
from shared.http import UnitOfWorkDep

router = APIRouter()
# A cohort's CSV: its body limit is GRADES_CSV_MAX_BYTES rather than HTTP_MAX_BODY_BYTES (see app.py).
COHORT_UPLOAD = "/grades/bulk"
REJECTED_FIELDS = {"line", "learner_id", "submission_id", "rule", "reason"}
RECORDED_FIELDS = {"learner_id", "grade", "passed"}
Row = TypeVar("Row", bound=SQLModel)


async def _list(
    uow: UnitOfWorkDep, model: type[Row], order_by: object, scope: Scope, **filters: str | None
) -> list[Row]:
    """The rows the filters ask for, of those the caller's scope covers."""
    query = access.within(select(model).order_by(order_by), model, scope)
    for column, value in filters.items():
        if value is not None:
            query = query.where(getattr(model, column) == value)
    async with uow:
        return list((await uow.session.exec(query)).all())


@contextlib.contextmanager
def _one_grade_per_enrolment() -> Iterator[None]:
    """409 when another request or the LMS recorded a grade for the same enrolment at the same moment."""
    try:
        yield
    except IntegrityError as clash:
        detail = "a grade for this enrolment was recorded at the same moment; nothing was written, send it again"
        raise HTTPException(status.HTTP_409_CONFLICT, detail) from clash


@router.get("/courses/{course_id}", tags=["courses"])
async def get_course(course_id: str, uow: UnitOfWorkDep) -> Course:
    """What assessment knows of a course: its awarding institutions, type of assessment, identity verification."""
    async with uow:
        return await access.known_course(uow, course_id)


@router.get("/courses/{course_id}/grading-scheme", tags=["grading schemes"])
async def get_grading_scheme(course_id: str, uow: UnitOfWorkDep) -> GradingSchemePublic:
    async with uow:
        row = await uow.session.get(CourseGradingScheme, course_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"course {course_id} has no grading scheme yet")
    return GradingSchemePublic.model_validate(row, from_attributes=True)


@router.put("/courses/{course_id}/grading-scheme", tags=["grading schemes"])
async def set_grading_scheme(
    course_id: str, body: GradingSchemeBody, principal: CurrentPrincipal, uow: UnitOfWorkDep
) -> GradingSchemePublic:
    """Set how the course is graded and what passes (a registrar or assessor of the lead awarding institution).
    Grades recorded before keep the scheme they were judged by."""
    async with uow:
        await access.authorize(
            uow, principal, course_id, "setting the grading scheme of", Role.REGISTRAR, Role.ASSESSOR, lead_only=True
        )
        values = {"scheme": body.model_dump(mode="json")["scheme"], "set_by": principal.subject, "set_at": utcnow()}
        await uow.session.execute(
            insert(CourseGradingScheme)
            .values(course_id=course_id, **values)
            .on_conflict_do_update(index_elements=["course_id"], set_=values)
        )
        await uow.commit()
    return GradingSchemePublic(course_id=course_id, **values)


@router.get("/grades", tags=["grades"])
async def list_grades(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None
) -> list[GradePublic]:
    """Current values; GET /grades/{grade_id} has the amendments. A learner's own; for assessors and registrars,
    those of the courses their institution awards; for the node administrator, all."""
    scope = access.readable(principal, "grades", learner_id)
    rows = await _list(uow, Grade, Grade.recorded_at, scope, learner_id=learner_id, course_id=course_id)
    return [GradePublic.model_validate(row, from_attributes=True) for row in rows]


@router.post(
    "/grades",
    tags=["grades"],
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"description": "not an assessor of an awarding institution of the course"},
        409: {"description": "rejected, rule `already-graded`: amend the recorded grade instead"},
        422: {"description": "rejected (`learner-not-enrolled`, `no-grading-scheme`, `grade-out-of-scale`)"},
    },
)
async def submit_grade(body: GradeCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> GradeDetail:
    """One grade, by an assessor of an awarding institution. A rejection is recorded (GET /grade-rejections,
    GradeRejected) and answered with its rule and reason."""
    submission = Submission(submission_id=submission_id(), assessor=principal.subject, channel="http", **dict(body))
    async with uow:
        await access.authorize(uow, principal, body.course_id, "grading", Role.ASSESSOR)
        with _one_grade_per_enrolment():
            outcome = await record_or_reject(uow, submission)
            await uow.commit()
    if isinstance(outcome, GradeRejection):
        code = status.HTTP_409_CONFLICT if outcome.rule == "already-graded" else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, detail=outcome.model_dump(include={"submission_id", "rule", "reason"}))
    return _detail(outcome, [])


@router.post(
    COHORT_UPLOAD,
    tags=["grades"],
    openapi_extra={
        "parameters": [{"name": "course_id", "in": "query", "required": False, "schema": {"type": "string"}}],
        "requestBody": {
            "required": True,
            "description": "CSV with the columns learner_id, grade, assessed_on and optionally identity_verification; "
            "either the body itself (text/csv, course_id in the query) or a multipart form with a `file` and a "
            "`course_id` field.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"course_id": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        },
    },
    responses={
        413: {"description": "larger than GRADES_CSV_MAX_BYTES, or more grade rows than GRADES_CSV_MAX_ROWS"},
        422: {"description": "the CSV is invalid (each problem with its line and column); nothing was written"},
    },
)
async def submit_cohort(request: Request, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> CohortResult:
    """A whole cohort's grades from a CSV file, by an assessor of an awarding institution: each row recorded or
    rejected (with its line number and reason). An unreadable file writes nothing."""
    text, fields = await _upload(request)
    course_id = fields.get("course_id") or request.query_params.get("course_id")
    if not course_id:
        missing = "course_id is missing (a form field or a query parameter)"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, missing)
    async with uow:
        await access.authorize(uow, principal, course_id, "grading", Role.ASSESSOR)
        rows = _cohort(text, request.app.state.settings.grades_csv_max_rows)
        with _one_grade_per_enrolment():
            result = await _grade_cohort(uow, course_id, principal.subject, rows)
            await uow.commit()
    return result


def _cohort(text: str, max_rows: int) -> list[CohortRow]:
    try:
        return parse_cohort(text, max_rows)
    except TooManyRows as too_many:
        detail = f"{too_many}, the limit for {COHORT_UPLOAD} (GRADES_CSV_MAX_ROWS); send the cohort in parts"
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail) from too_many
    except InvalidCsv as invalid:
        detail = [{"line": p.line, "column": p.column, "msg": str(p)} for p in invalid.problems]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail) from invalid


async def _grade_cohort(uow: UnitOfWork, course_id: str, assessor: str, rows: list[CohortRow]) -> CohortResult:
    result = CohortResult(course_id=course_id, recorded=[], rejected=[])
    for row in rows:
        submission = Submission(
            submission_id=submission_id(), course_id=course_id, assessor=assessor, channel="csv", **asdict(row)
        )
        match await record_or_reject(uow, submission):
            case GradeRejection() as rejection:
                result.rejected.append(RejectedRow(**rejection.model_dump(include=REJECTED_FIELDS)))
            case GradeBase() as grade:
                recorded = grade.model_dump(include=RECORDED_FIELDS)
                result.recorded.append(RecordedRow(line=row.line, grade_id=grade.id, **recorded))
    return result


async def _upload(request: Request) -> tuple[str, dict[str, str]]:
    """The CSV text and the other form fields, from a text/csv body or a multipart/form-data form."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return _decode(body), {}
    form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in form.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = _decode(part.get_payload(decode=True) or b"")
    if "file" not in fields:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the form has no `file` field with the CSV")
    return fields.pop("file"), fields


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the CSV is not UTF-8: {error}") from error


@router.get("/grades/{grade_id}", tags=["grades"])
async def get_grade(grade_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> GradeDetail:
    """A grade with its amendments, oldest first: for the learner graded, the course's assessors and registrars."""
    async with uow:
        grade = await _grade(uow, grade_id)
        await access.require_reader(uow, principal, grade.learner_id, grade.course_id, f"grade {grade_id}")
        return _detail(grade, await amendments_of(uow, grade_id))


@router.post("/grades/{grade_id}/amendments", tags=["grades"], status_code=status.HTTP_201_CREATED)
async def amend_grade(
    grade_id: str, body: AmendmentCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep
) -> GradeDetail:
    """Change a recorded grade (an assessor of an awarding institution), with a reason; publishes GradeAmended. The
    new grade is judged by the scheme the grade was recorded under (422 naming the scale when it is not on it)."""
    async with uow:
        grade = await _grade(uow, grade_id)
        await access.authorize(uow, principal, grade.course_id, "amending grades of", Role.ASSESSOR)
        try:
            await amend(uow, grade, body.grade, body.reason, principal.subject)
        except GradeOutOfScale as out_of_scale:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(out_of_scale)) from out_of_scale
        await uow.commit()
        return _detail(grade, await amendments_of(uow, grade_id))


async def _grade(uow: UnitOfWork, grade_id: str) -> Grade:
    grade = await uow.session.get(Grade, grade_id)
    if grade is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no grade {grade_id}")
    return grade


def _detail(grade: GradeBase, amendments: list) -> GradeDetail:
    return GradeDetail(
        **grade.model_dump(),
        amendments=[GradeAmendmentPublic.model_validate(a, from_attributes=True) for a in amendments],
    )


@router.get("/grade-rejections", tags=["grades"])
async def list_rejections(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None
) -> list[GradeRejection]:
    """Submissions that were not recorded, with the rule they broke (read as grades are; a submission for a course
    assessment does not know is seen by the learner it names and the node administrator)."""
    scope = access.readable(principal, "rejected grade submissions", learner_id)
    return await _list(
        uow, GradeRejection, GradeRejection.rejected_at, scope, learner_id=learner_id, course_id=course_id
    )


@router.get("/enrolments", tags=["enrolments"])
async def list_gradable(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, learner_id: str | None = None, course_id: str | None = None
) -> list[EnrolledLearnerPublic]:
    """The learners an LMS may submit grades for (this service's read model of enrolments), read as grades are."""
    scope = access.readable(principal, "enrolments", learner_id)
    rows = await _list(
        uow, EnrolledLearner, EnrolledLearner.enrolled_at, scope, learner_id=learner_id, course_id=course_id
    )
    return [EnrolledLearnerPublic.model_validate(row, from_attributes=True) for row in rows]
