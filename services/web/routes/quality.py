"""The QA officer's pages: the queue of courses submitted for review that their institution leads, one course with
what changed since its approved version and who designed and submitted it, and approving it or sending it back with
reasons. The catalogue decides and enforces (who may review, four eyes); the pages show it before anyone acts."""

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.web import domain
from services.web.api import NodeApi, ServiceRefused
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


async def course_titles(api: NodeApi, course_ids: Iterable[str]) -> dict[str, str]:
    """The titles of the courses a description names (courses to take first), so the page shows titles, not ids;
    an id the catalogue does not know stays as it is."""

    async def title(course_id: str) -> str:
        try:
            return (await api.get("catalogue", f"/courses/{course_id}"))["description"]["title"]
        except ServiceRefused:
            return course_id

    ids = sorted(set(course_ids))
    return dict(zip(ids, await asyncio.gather(*(title(course_id) for course_id in ids)), strict=True))


def named(description: dict[str, Any], titles: dict[str, str]) -> dict[str, Any]:
    """The description as the page shows it: courses to take first by their titles."""
    ids = description.get("prerequisite_course_ids") or []
    return description | {"prerequisite_course_ids": [titles.get(course_id, course_id) for course_id in ids]}


@router.get(QUEUE + "/{course_id}")
async def review(view: PageView, course_id: str) -> Response:
    person = view.person_with(Role.QA_OFFICER)
    versions = await view.api.get("catalogue", f"/courses/{course_id}/versions")
    course = versions[-1]
    approved = domain.last_approved(versions)
    description = course["description"]
    changes = domain.changed_fields(approved["description"] if approved else None, description)
    titles = await course_titles(view.api, [
        *(description.get("prerequisite_course_ids") or []),
        *((approved["description"].get("prerequisite_course_ids") or []) if approved else []),
    ])
    course = course | {"description": named(description, titles)}
    if approved:
        approved = approved | {"description": named(approved["description"], titles)}
    return view.render(
        "quality/review.html",
        title=view._("Review “%(title)s”", title=description["title"]),
        course=course,
        approved=approved,
        changes=changes,
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
    if course["status"] == "awaiting-consent":
        return view.redirect(QUEUE, view._(
            "“%(title)s”, version %(version)s, is approved here: it is in the catalogue once every partner university "
            "has consented at its own node.", title=course["description"]["title"], version=course["version"]))
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
