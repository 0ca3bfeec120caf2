"""The QA officer's pages: the queue of courses submitted for review that their institution leads, one course with
what changed since its approved version and who designed and submitted it, and approving it or sending it back with
reasons. The catalogue decides and enforces (who may review, four eyes); the pages show it before anyone acts."""

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.web import domain
from services.web.api import ServiceRefused
from services.web.pages import PageView
from shared.auth import Role

router = APIRouter(tags=["quality assurance"])

QUEUE = "/qa/courses"


@router.get(QUEUE)
async def queue(view: PageView) -> Response:
    person = view.person_with(Role.QA_OFFICER)
    courses = []
    if person.institution:
        submitted = await view.api.get("catalogue", "/courses", status="submitted", institution=person.institution)
        # Reviewing belongs to the lead (the first awarding body): a course co-awarded and led elsewhere is not here.
        courses = [course for course in submitted if course["institutions"][:1] == [person.institution]]
    courses.sort(key=lambda course: course["submitted_at"] or course["updated_at"])
    return view.render(
        "quality/queue.html",
        title=view._("Courses to review"),
        courses=courses,
        own_part={course["id"]: domain.own_part(person.subject, course["designed_by"], course["submitted_by"])
                  for course in courses},
    )


@router.get(QUEUE + "/{course_id}")
async def review(view: PageView, course_id: str) -> Response:
    person = view.person_with(Role.QA_OFFICER)
    versions = await view.api.get("catalogue", f"/courses/{course_id}/versions")
    course = versions[-1]
    approved = domain.last_approved(versions)
    description = course["description"]
    return view.render(
        "quality/review.html",
        title=view._("Review “%(title)s”", title=description["title"]),
        course=course,
        approved=approved,
        changes=domain.changed_fields(approved["description"] if approved else None, description),
        own_part=domain.own_part(person.subject, course["designed_by"], course["submitted_by"]),
        leads=course["institutions"][:1] == [person.institution],
    )


@router.post(QUEUE + "/{course_id}/approve")
async def approve(view: PageView, course_id: str) -> Response:
    view.person_with(Role.QA_OFFICER)
    try:
        course = await view.api.post("catalogue", f"/courses/{course_id}/approve")
    except ServiceRefused as refused:
        return view.redirect(f"{QUEUE}/{course_id}", view._("Not approved: %(reason)s", reason=refused.detail),
                             tone="error")
    return view.redirect(QUEUE, view._("“%(title)s”, version %(version)s, is approved: it is in the catalogue now.",
                                       title=course["description"]["title"], version=course["version"]))


@router.post(QUEUE + "/{course_id}/reject")
async def reject(
    view: PageView, course_id: str, reasons: Annotated[str, Form(max_length=10_000)] = ""
) -> Response:
    view.person_with(Role.QA_OFFICER)
    # One reason a line, as the form asks; blank lines are nobody's reason.
    given = [line.strip() for line in reasons.splitlines() if line.strip()]
    if not given:
        return view.redirect(f"{QUEUE}/{course_id}",
                             view._("Not sent back: say what the designers must change (one reason a line)."),
                             tone="error")
    try:
        course = await view.api.post("catalogue", f"/courses/{course_id}/reject", {"reasons": given})
    except ServiceRefused as refused:
        return view.redirect(f"{QUEUE}/{course_id}", view._("Not sent back: %(reason)s", reason=refused.detail),
                             tone="error")
    return view.redirect(QUEUE, view._("“%(title)s”, version %(version)s, is sent back to its designers with your "
                                       "reasons.", title=course["description"]["title"], version=course["version"]))
