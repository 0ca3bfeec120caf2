"""The assessor's pages: the courses their institution awards, a course's grading scheme, its learners and grades,
recording one grade, and a whole cohort's grades from a CSV file with what became of each line while it is processed
(grade_uploads.py). Assessment judges every grade and decides who may grade."""

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from services.web import domain, grade_uploads
from services.web.api import ServiceRefused
from services.web.pages import PageView, View
from shared.auth import Role
from shared.events.catalogue import IdentityVerification

router = APIRouter(tags=["assessor"])

COURSES = "/assessor/courses"
UPLOADS = "/assessor/uploads"
VERIFICATIONS = [level.value for level in IdentityVerification]
# A cohort's file: well within the front end's body limit (HTTP_MAX_BODY_BYTES) with the form around it.
CSV_LIMIT = 512 * 1024


def sending(view: View) -> set[asyncio.Task[None]]:
    """The uploads this front-end process is sending (the uploads themselves are in its database)."""
    state = view.request.app.state
    if not hasattr(state, "grade_uploads_sending"):
        state.grade_uploads_sending = set()
    return state.grade_uploads_sending


@router.get(COURSES)
async def courses(view: PageView) -> Response:
    person = view.person_with(Role.ASSESSOR)
    found = []
    if person.institution:
        found = await view.api.get("catalogue", "/courses", status="approved", institution=person.institution)
    found.sort(key=lambda course: course["description"]["title"])
    return view.render("assessor/courses.html", title=view._("Grading"), courses=found)


@router.get(COURSES + "/{course_id}")
async def course(view: PageView, course_id: str) -> Response:
    person = view.person_with(Role.ASSESSOR)
    found = await view.api.get("catalogue", f"/courses/{course_id}")

    async def scheme() -> dict | None:
        try:
            return (await view.api.get("assessment", f"/courses/{course_id}/grading-scheme"))["scheme"]
        except ServiceRefused as refused:
            if refused.status != 404:
                raise
            return None

    grading, enrolments, grades = await asyncio.gather(
        scheme(),
        view.api.get("assessment", "/enrolments", course_id=course_id),
        view.api.get("assessment", "/grades", course_id=course_id),
    )
    async with view.request.app.state.sessionmaker() as db:
        uploads = await grade_uploads.of_course(db, course_id, person.subject)
    graded = {grade["learner_id"] for grade in grades}
    grades.sort(key=lambda grade: grade["recorded_at"], reverse=True)
    return view.render(
        "assessor/course.html",
        title=found["description"]["title"],
        course=found,
        scheme=grading,
        ungraded=[e for e in enrolments if e["learner_id"] not in graded],
        grades=grades,
        verifications=VERIFICATIONS,
        scheme_kinds=domain.SCHEME_KINDS,
        today=date.today().isoformat(),
        uploads=uploads,
    )


@router.post(COURSES + "/{course_id}/grades")
async def record_grade(
    view: PageView,
    course_id: str,
    learner_id: Annotated[str, Form(max_length=200)],
    grade: Annotated[str, Form(max_length=20)],
    assessed_on: Annotated[date, Form()],
    identity_verification: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    view.person_with(Role.ASSESSOR)
    body = {"course_id": course_id, "learner_id": learner_id, "grade": grade.strip(),
            "assessed_on": assessed_on.isoformat(), "identity_verification": identity_verification or None}
    back = f"{COURSES}/{course_id}"
    try:
        recorded = await view.api.post("assessment", "/grades", body)
    except ServiceRefused as refused:
        reason = refused.body["detail"].get("reason") if isinstance(refused.body, dict) and isinstance(
            refused.body.get("detail"), dict) else refused.detail
        return view.redirect(back, view._("The grade was not recorded: %(reason)s", reason=reason), tone="error")
    return view.redirect(back, view._("Grade %(grade)s is recorded for %(learner)s (%(outcome)s).",
                                      grade=recorded["grade"], learner=learner_id,
                                      outcome=view._("passed") if recorded["passed"] else view._("not passed")))


@router.post(COURSES + "/{course_id}/grading-scheme")
async def set_grading_scheme(
    view: PageView, course_id: str, kind: Annotated[str, Form(max_length=20)],
    name: Annotated[str, Form(max_length=100)] = "", minimum: Annotated[str, Form(max_length=20)] = "",
    maximum: Annotated[str, Form(max_length=20)] = "", pass_mark: Annotated[str, Form(max_length=20)] = "",
    lower_is_better: Annotated[str, Form(max_length=3)] = "", grades: Annotated[str, Form(max_length=500)] = "",
    passing_grades: Annotated[str, Form(max_length=500)] = "", passing_word: Annotated[str, Form(max_length=40)] = "",
    failing_word: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    view.person_with(Role.ASSESSOR)
    scheme = domain.grading_scheme({
        "kind": kind, "name": name, "minimum": minimum, "maximum": maximum, "pass_mark": pass_mark,
        "lower_is_better": lower_is_better, "grades": grades, "passing_grades": passing_grades,
        "passing_word": passing_word, "failing_word": failing_word,
    })
    back = f"{COURSES}/{course_id}"
    try:
        await view.api.put("assessment", f"/courses/{course_id}/grading-scheme", {"scheme": scheme})
    except ServiceRefused as refused:
        return view.redirect(back + "#scheme-heading",
                             view._("The grading scheme was not saved: %(reason)s", reason=refused.detail), tone="error")
    return view.redirect(back, view._("The grading scheme is saved: grades are judged by it from now on."))


@router.post(COURSES + "/{course_id}/uploads")
async def upload_cohort(view: PageView, course_id: str, file: Annotated[UploadFile | None, File()] = None) -> Response:
    person = view.person_with(Role.ASSESSOR)
    back = f"{COURSES}/{course_id}#cohort"
    if file is None or not file.filename:
        return view.redirect(back, view._("Choose the cohort's CSV file, then press Upload."), tone="error")
    raw = await file.read(CSV_LIMIT + 1)
    if len(raw) > CSV_LIMIT:
        return view.redirect(back, view._("The file is larger than 512 KiB: upload the cohort in parts."), tone="error")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return view.redirect(back, view._("The file is not UTF-8 text: save it from the spreadsheet as CSV UTF-8."),
                             tone="error")
    try:
        upload = await grade_uploads.started(view.request.app.state.sessionmaker, sending(view), view.api, course_id,
                                             person.subject, file.filename, text)
    except grade_uploads.NoGrades:
        return view.redirect(back, view._("The file has no grades: a header line, then one grade a line."),
                             tone="error")
    return view.redirect(f"{UPLOADS}/{upload.id}")


@router.get(UPLOADS + "/{upload_id}")
async def upload_results(view: PageView, upload_id: str) -> Response:
    person = view.person_with(Role.ASSESSOR)
    async with view.request.app.state.sessionmaker() as db:
        upload = await grade_uploads.found(db, upload_id, person.subject)
    if upload is None:
        return view.render("assessor/upload.html", 404, title=view._("Upload not found"), upload=None)
    page = view.render("assessor/upload.html", title=view._("Grades from “%(file)s”", file=upload.filename),
                       upload=upload)
    if not upload.finished and not upload.cut_off:
        # Browsers load the page again by themselves while the upload is processed (no script needed).
        page.headers["Refresh"] = "2"
    return page
