"""The assessment rules: what passes under each kind of grading scheme, which grades a scheme knows, who can be
graded, and what makes a cohort's CSV file unreadable."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.assessment.domain import (
    SCHEMES,
    Accepted,
    GradeOutOfScale,
    InvalidCsv,
    Rejection,
    Submission,
    TooManyRows,
    parse_cohort,
    passes,
    review_submission,
)
from services.assessment.lms_registry import RegisteredLms
from services.assessment.models import Course, EnrolledLearner, Grade
from shared.events.assessment import EctsScheme, LetterScheme, NumericScheme, PassFailScheme
from shared.events.catalogue import IdentityVerification

GERMAN = NumericScheme(name="German 1.0-5.0", minimum=1.0, maximum=5.0, pass_mark=4.0, lower_is_better=True)
TWENTY = NumericScheme(name="Belgian/French 0-20", minimum=0, maximum=20, pass_mark=10)
TEN = NumericScheme(minimum=0, maximum=10, pass_mark=5.5)
LETTERS = LetterScheme(grades=["A+", "A", "B", "C", "D", "F"], passing=["A+", "A", "B", "C", "D"])
PASS_FAIL = PassFailScheme()
ECTS = EctsScheme()


@pytest.mark.parametrize(
    ("scheme", "grade", "passed"),
    [
        (GERMAN, "1.0", True), (GERMAN, "1,7", True), (GERMAN, "4.0", True), (GERMAN, "4", True),
        (GERMAN, "4.1", False), (GERMAN, "4.3", False), (GERMAN, "5.0", False),
        (TWENTY, "20", True), (TWENTY, "10", True), (TWENTY, "10.0", True), (TWENTY, "9.99", False),
        (TWENTY, "0", False),
        (TEN, "5.5", True), (TEN, "5.49", False), (TEN, "10", True),
        (LETTERS, "A+", True), (LETTERS, "d", True), (LETTERS, "F", False),
        (PASS_FAIL, "pass", True), (PASS_FAIL, "PASS", True), (PASS_FAIL, "fail", False),
        (ECTS, "A", True), (ECTS, "E", True), (ECTS, "FX", False), (ECTS, "fx", False), (ECTS, "F", False),
    ],
)
def test_the_scheme_decides_who_passes(scheme, grade: str, passed: bool) -> None:
    assert passes(scheme, grade) is passed


@pytest.mark.parametrize(
    ("scheme", "grade", "scale"),
    [
        (GERMAN, "0.7", "German 1.0-5.0: the scale 1 to 5 (lower is better; 4 or better passes)"),
        (GERMAN, "6", "the scale 1 to 5"),
        (GERMAN, "sehr gut", "is not a number on German 1.0-5.0"),
        (GERMAN, "NaN", "is not a number"),
        (TWENTY, "21", "the scale 0 to 20 (higher is better; 10 or better passes)"),
        (TWENTY, "-1", "the scale 0 to 20"),
        (LETTERS, "E", "the grades A+, A, B, C, D, F"),
        (PASS_FAIL, "passed", "'pass' or 'fail'"),
        (ECTS, "G", "the ECTS scale A, B, C, D, E, FX, F"),
        (ECTS, "1.3", "the ECTS scale"),
    ],
)
def test_a_grade_outside_the_scale_is_refused_naming_the_scale(scheme, grade: str, scale: str) -> None:
    with pytest.raises(GradeOutOfScale, match="grade .* ") as refusal:
        passes(scheme, grade)
    assert scale in str(refusal.value) and repr(grade) in str(refusal.value)


@pytest.mark.parametrize(
    "scheme",
    [
        {"kind": "numeric", "minimum": 5, "maximum": 1, "pass_mark": 4},
        {"kind": "numeric", "minimum": 0, "maximum": 20, "pass_mark": 25},
        {"kind": "letters", "grades": ["A", "B"], "passing": ["C"]},
        {"kind": "letters", "grades": ["A", "a"], "passing": ["A"]},
        {"kind": "stars"},
    ],
    ids=["inverted", "pass-mark-off-scale", "passing-not-a-grade", "repeated", "unknown-kind"],
)
def test_a_scheme_that_makes_no_sense_is_refused(scheme: dict) -> None:
    with pytest.raises(ValidationError):
        SCHEMES.validate_python(scheme)


def submission(learner_id: str = "learner-ada", grade: str = "1.3") -> Submission:
    return Submission(
        submission_id="s-1", course_id="course-ai-ethics", learner_id=learner_id, grade=grade,
        assessed_on=date(2025, 6, 30), assessor="prof-lovelace", channel="lms", lms="moodle.uni-saarland.de",
    )


def enrolment() -> EnrolledLearner:
    return EnrolledLearner(
        enrolment_id="enrolment-7", course_id="course-ai-ethics", course_version=1, learner_id="learner-ada",
        learner={"learner_id": "learner-ada", "name": "Ada Lovelace", "email": "ada@example.org"},
        enrolled_at=datetime(2025, 3, 1, tzinfo=UTC),
    )


def recorded() -> Grade:
    return Grade(
        id="grade-1", submission_id="s-0", enrolment_id="enrolment-7", course_id="course-ai-ethics",
        learner_id="learner-ada", grade="2.0", passed=True, assessed_on=date(2025, 6, 1), assessor="prof-lovelace",
    )


def test_a_grade_for_a_learner_not_enrolled_is_rejected_saying_who_and_where() -> None:
    rejection = review_submission(submission("learner-charles"), enrolment=None, scheme=GERMAN, recorded=None)

    assert isinstance(rejection, Rejection)
    assert rejection.rule == "learner-not-enrolled"
    assert "learner-charles" in rejection.reason and "course-ai-ethics" in rejection.reason


def test_a_grade_for_an_enrolled_learner_is_judged_by_the_scheme_not_by_the_lms() -> None:
    assert review_submission(submission(grade="1.3"), enrolment(), GERMAN, recorded=None) == Accepted(passed=True)
    assert review_submission(submission(grade="4.3"), enrolment(), GERMAN, recorded=None) == Accepted(passed=False)


def test_without_a_grading_scheme_a_grade_is_rejected_saying_how_to_set_one() -> None:
    rejection = review_submission(submission(), enrolment(), scheme=None, recorded=None)

    assert isinstance(rejection, Rejection) and rejection.rule == "no-grading-scheme"
    assert "PUT /courses/{course_id}/grading-scheme" in rejection.reason


def test_a_second_grade_for_an_enrolment_is_rejected_pointing_to_amendments() -> None:
    rejection = review_submission(submission(), enrolment(), GERMAN, recorded=recorded())

    assert isinstance(rejection, Rejection) and rejection.rule == "already-graded"
    assert "POST /grades/grade-1/amendments" in rejection.reason


SAARLAND_MOODLE = RegisteredLms(id="moodle-saarland", name="Moodle of Saarland University", institutions=("uni-saarland",))
SOFIA_CANVAS = RegisteredLms(id="canvas-sofia", name="Canvas of Sofia University", institutions=("uni-sofia",))


def course(*awarding: str) -> Course:
    return Course(course_id="course-ai-ethics", version=1, title="AI Ethics", awarding_institutions=list(awarding))


def test_an_lms_grades_the_courses_of_the_institutions_it_is_registered_for() -> None:
    verdict = review_submission(
        submission(), enrolment(), GERMAN, recorded=None, course=course("uni-saarland"), lms=SAARLAND_MOODLE
    )
    joint = review_submission(
        submission(), enrolment(), GERMAN, recorded=None, course=course("uni-saarland", "uni-sofia"), lms=SOFIA_CANVAS
    )

    assert verdict == Accepted(passed=True)
    assert joint == Accepted(passed=True), "a co-awarding institution's LMS may grade a joint course"


def test_an_lms_of_another_institution_is_rejected_naming_the_lms_and_the_institutions() -> None:
    rejection = review_submission(
        submission(), enrolment(), GERMAN, recorded=None, course=course("uni-saarland"), lms=SOFIA_CANVAS
    )

    assert isinstance(rejection, Rejection) and rejection.rule == "lms-not-authorized-for-course"
    assert rejection.reason == (
        "LMS canvas-sofia (Canvas of Sofia University) is registered to grade for uni-sofia, but course "
        "course-ai-ethics is awarded by uni-saarland"
    )


def test_an_lms_cannot_grade_a_course_whose_awarding_bodies_are_not_known() -> None:
    rejection = review_submission(submission(), enrolment(), GERMAN, recorded=None, course=None, lms=SAARLAND_MOODLE)

    assert isinstance(rejection, Rejection) and rejection.rule == "lms-not-authorized-for-course"
    assert "awarding bodies that assessment does not know yet" in rejection.reason


def test_an_out_of_scale_grade_is_rejected_naming_the_scale() -> None:
    rejection = review_submission(submission(grade="0.5"), enrolment(), GERMAN, recorded=None)

    assert isinstance(rejection, Rejection) and rejection.rule == "grade-out-of-scale"
    assert "the scale 1 to 5" in rejection.reason


# CSV cohorts.


def test_a_cohort_csv_gives_one_row_per_grade_with_its_line() -> None:
    rows = parse_cohort(
        "\ufefflearner_id,grade,assessed_on,identity_verification\n"
        "ada,1.3,2026-11-20,supervised-online\n"
        "\n"
        "bob,\"2,7\",2026-11-20,\n",
        max_rows=2,
    )
    assert [(r.line, r.learner_id, r.grade, r.identity_verification) for r in rows] == [
        (2, "ada", "1.3", IdentityVerification.SUPERVISED_ONLINE),
        (4, "bob", "2,7", None),
    ]
    assert rows[0].assessed_on == date(2026, 11, 20)


def test_a_cohort_csv_may_use_semicolons_and_any_column_order() -> None:
    [row] = parse_cohort("Assessed_On;Grade;Learner_ID\n2026-11-20;1,7;ada\n", max_rows=10)
    assert (row.learner_id, row.grade) == ("ada", "1,7")


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("learner_id,assessed_on\nada,2026-11-20\n", ["line 1, column grade: the header has no such column"]),
        (
            "learner_id,grade,assessed_on\nada,1.3,2026-11-20\nbob,2.0,20.11.2026\n",
            ["line 3, column assessed_on: '20.11.2026' is not a date (YYYY-MM-DD)"],
        ),
        (
            "learner_id,grade,assessed_on\n,1.3,2026-11-20\ncy,2.0\n",
            ["line 2, column learner_id: is empty", "line 3, column assessed_on: is empty"],
        ),
        (
            "learner_id,grade,assessed_on,identity_verification\nada,1.3,2026-11-20,passport\n",
            ["line 2, column identity_verification: 'passport' is not one of"],
        ),
        ("learner_id,grade,assessed_on\n", ["line 2: the file has no grades"]),
        ("", ["line 1, column learner_id: the header has no such column"]),
        (
            "learner_id,grade,assessed_on\nada\x00,1.3,2026-11-20\n",
            ["line 2, column learner_id: holds a NUL character (U+0000)"],
        ),
    ],
    ids=["missing-column", "bad-date", "empty-values", "unknown-verification", "no-rows", "empty-file", "nul"],
)
def test_an_invalid_cohort_csv_is_refused_naming_line_and_column(text: str, problems: list[str]) -> None:
    with pytest.raises(InvalidCsv) as refusal:
        parse_cohort(text, max_rows=10)
    found = [str(problem) for problem in refusal.value.problems]
    assert len(found) >= len(problems)
    for expected, actual in zip(problems, found, strict=False):
        assert actual.startswith(expected)


def test_a_cohort_csv_with_more_grade_rows_than_the_limit_is_refused_whole() -> None:
    header = "learner_id,grade,assessed_on\n"
    three = header + "".join(f"learner-{n},1.3,2026-11-20\n\n" for n in range(3))
    assert len(parse_cohort(three, max_rows=3)) == 3, "blank lines do not count"
    with pytest.raises(TooManyRows, match="more than 2 grade rows"):
        parse_cohort(three, max_rows=2)
