"""The assessment rules, as plain functions: what a grade means under a course's grading scheme, and what makes a
grade submission acceptable, whichever way it came in (the LMS topic, one grade over HTTP, or a CSV cohort)."""

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import TypeAdapter

from services.assessment.lms_registry import RegisteredLms
from services.assessment.models import Course, EnrolledLearner, GradeBase
from shared.events.assessment import EctsScheme, GradingScheme, LetterScheme, NumericScheme, PassFailScheme
from shared.events.catalogue import IdentityVerification
from shared.limits import unstorable

SCHEMES: TypeAdapter[GradingScheme] = TypeAdapter(GradingScheme)
ECTS_GRADES = ("A", "B", "C", "D", "E", "FX", "F")
ECTS_PASSING = ("A", "B", "C", "D", "E")


@dataclass(frozen=True)
class Submission:
    """A grade as submitted, before it is judged."""

    submission_id: str
    course_id: str
    learner_id: str
    grade: str
    assessed_on: date
    # As given: the LMS's field, or the subject of the assessor's token.
    assessor: str
    # "lms", "http" or "csv".
    channel: str
    lms: str | None = None
    identity_verification: IdentityVerification | None = None
    # The line of the CSV file it came from.
    line: int | None = None


@dataclass(frozen=True)
class Rejection:
    rule: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    passed: bool


class GradeOutOfScale(ValueError):
    """The grade is not one the scheme knows; the message names the scale."""


def _number(value: float | Decimal) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe(scheme: GradingScheme) -> str:
    """The scale in words, for people reading a rejection."""
    match scheme:
        case NumericScheme():
            better = "lower" if scheme.lower_is_better else "higher"
            text = (
                f"the scale {_number(scheme.minimum)} to {_number(scheme.maximum)} "
                f"({better} is better; {_number(scheme.pass_mark)} or better passes)"
            )
        case LetterScheme():
            text = f"the grades {', '.join(scheme.grades)} (best first; {', '.join(scheme.passing)} pass)"
        case PassFailScheme():
            text = f"{scheme.passing!r} or {scheme.failing!r}"
        case EctsScheme():
            text = f"the ECTS scale {', '.join(ECTS_GRADES)} (A to E pass)"
    return f"{scheme.name}: {text}" if scheme.name else text


def passes(scheme: GradingScheme, grade: str) -> bool:
    """Whether the grade passes under the scheme; GradeOutOfScale, naming the scale, when it is not on the scale."""
    match scheme:
        case NumericScheme():
            value = _numeric(scheme, grade)
            pass_mark = Decimal(str(scheme.pass_mark))
            return value <= pass_mark if scheme.lower_is_better else value >= pass_mark
        case LetterScheme():
            return _label(scheme, grade, scheme.grades) in {g.strip().upper() for g in scheme.passing}
        case PassFailScheme():
            return _label(scheme, grade, [scheme.passing, scheme.failing]) == scheme.passing.strip().upper()
        case EctsScheme():
            return _label(scheme, grade, ECTS_GRADES) in ECTS_PASSING


def _numeric(scheme: NumericScheme, grade: str) -> Decimal:
    try:
        value = Decimal(grade.strip().replace(",", "."))  # "1,7" as German and French transcripts write it.
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise GradeOutOfScale(f"grade {grade!r} is not a number on {describe(scheme)}")
    if not Decimal(str(scheme.minimum)) <= value <= Decimal(str(scheme.maximum)):
        raise GradeOutOfScale(f"grade {grade!r} is outside {describe(scheme)}")
    return value


def _label(scheme: GradingScheme, grade: str, labels: list[str] | tuple[str, ...]) -> str:
    label = grade.strip().upper()
    if label not in {known.strip().upper() for known in labels}:
        raise GradeOutOfScale(f"grade {grade!r} is not on {describe(scheme)}")
    return label


def review_submission(
    submission: Submission,
    enrolment: EnrolledLearner | None,
    scheme: GradingScheme | None,
    recorded: GradeBase | None,
    *,
    course: Course | None = None,
    lms: RegisteredLms | None = None,
) -> Accepted | Rejection:
    """Whether the grade can be recorded and if so whether it passes; else which rule it breaks and why.

    `recorded` is the grade already recorded for this enrolment, if any. `lms` is the registered LMS that sent it,
    as the broker attests (the topic only that LMS may write); `course` is what assessment knows of the course.
    """
    if enrolment is None:
        return Rejection(
            "learner-not-enrolled",
            f"learner {submission.learner_id} is not enrolled in course {submission.course_id}",
        )
    if lms is not None and (unauthorized := _lms_not_authorized(submission, lms, course)):
        return unauthorized
    if scheme is None:
        return Rejection(
            "no-grading-scheme",
            f"course {submission.course_id} has no grading scheme yet; an assessor or registrar of the awarding "
            "institution sets it with PUT /courses/{course_id}/grading-scheme, then the grade can be sent again",
        )
    if recorded is not None:
        return Rejection(
            "already-graded",
            f"learner {submission.learner_id} already has grade {recorded.grade!r} (grade id {recorded.id}) in course "
            f"{submission.course_id}; to change it, POST /grades/{recorded.id}/amendments with the grade and a reason",
        )
    try:
        return Accepted(passes(scheme, submission.grade))
    except GradeOutOfScale as out_of_scale:
        return Rejection("grade-out-of-scale", str(out_of_scale))


def _lms_not_authorized(submission: Submission, lms: RegisteredLms, course: Course | None) -> Rejection | None:
    """An LMS grades only the courses of the institutions it is registered for."""
    awarding = list(course.awarding_institutions) if course else []
    if set(awarding) & set(lms.institutions):
        return None
    awarded_by = (
        f"is awarded by {', '.join(awarding)}" if awarding else "has awarding bodies that assessment does not know yet"
    )
    return Rejection(
        "lms-not-authorized-for-course",
        f"LMS {lms.id} ({lms.name}) is registered to grade for {', '.join(lms.institutions)}, but course "
        f"{submission.course_id} {awarded_by}",
    )


# CSV cohorts: POST /grades/bulk.

COHORT_COLUMNS = ("learner_id", "grade", "assessed_on")
OPTIONAL_COLUMNS = ("identity_verification",)


@dataclass(frozen=True)
class CohortRow:
    line: int
    learner_id: str
    grade: str
    assessed_on: date
    identity_verification: IdentityVerification | None


@dataclass(frozen=True)
class CsvProblem:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f", column {self.column}" if self.column else "") + f": {self.message}"


class InvalidCsv(ValueError):
    def __init__(self, problems: list[CsvProblem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class TooManyRows(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the CSV has more than {limit} grade rows")
        self.limit = limit


def parse_cohort(text: str, max_rows: int) -> list[CohortRow]:
    """The rows of a cohort's CSV file (a header line, then one grade a line), or InvalidCsv naming every problem, or
    TooManyRows past `max_rows` grade rows (then the rest is not read).

    Columns: learner_id, grade, assessed_on (ISO date), and optionally identity_verification. Commas or semicolons
    (as spreadsheets in much of Europe write CSV) separate them; blank lines are skipped.
    """
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    problems: list[CsvProblem] = []
    rows: list[CohortRow] = []
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        if missing := [name for name in COHORT_COLUMNS if name not in header]:
            raise InvalidCsv([CsvProblem(1, name, "the header has no such column") for name in missing])
        position = {name: header.index(name) for name in (*COHORT_COLUMNS, *OPTIONAL_COLUMNS) if name in header}
        for count, record in enumerate((record for record in reader if any(value.strip() for value in record)), 1):
            if count > max_rows:
                raise TooManyRows(max_rows)
            values = {name: (record[i].strip() if i < len(record) else "") for name, i in position.items()}
            row, row_problems = _cohort_row(reader.line_num, values)
            problems += row_problems
            if row:
                rows.append(row)
    except csv.Error as error:
        problems.append(CsvProblem(reader.line_num, None, f"not readable as CSV: {error}"))
    if not rows and not problems:
        problems.append(CsvProblem(2, None, "the file has no grades"))
    if problems:
        raise InvalidCsv(problems)
    return rows


def _cohort_row(line: int, values: dict[str, str]) -> tuple[CohortRow | None, list[CsvProblem]]:
    problems = [CsvProblem(line, name, "is empty") for name in COHORT_COLUMNS if not values[name]]
    problems += [CsvProblem(line, name, reason) for name, value in values.items() if (reason := unstorable(value))]
    if len(values["grade"]) > 20:
        problems.append(CsvProblem(line, "grade", "is longer than 20 characters"))
    assessed_on = None
    if values["assessed_on"]:
        try:
            assessed_on = date.fromisoformat(values["assessed_on"])
        except ValueError:
            problems.append(CsvProblem(line, "assessed_on", f"{values['assessed_on']!r} is not a date (YYYY-MM-DD)"))
    verification = None
    if given := values.get("identity_verification"):
        try:
            verification = IdentityVerification(given)
        except ValueError:
            allowed = ", ".join(level.value for level in IdentityVerification)
            problems.append(CsvProblem(line, "identity_verification", f"{given!r} is not one of {allowed}"))
    if problems or assessed_on is None:
        return None, problems
    return CohortRow(line, values["learner_id"], values["grade"], assessed_on, verification), []
