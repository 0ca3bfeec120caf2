"""The course designer's pages: their institution's courses by state (drafts, submitted, approved, sent back with
QA's reasons), describing a micro-credential with every element of Annex I and the T4EU template in one form,
saving it as a draft, submitting it for QA and revising an approved or rejected course (a new version, reviewed
again). The catalogue judges (its policy rules, who may design, the workflow); a refused form comes back with each
rule next to its field (course_form.py), the reader's input kept."""

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web import course_form
from services.web.api import ServiceRefused
from services.web.pages import PageView, View
from shared.auth import Role

router = APIRouter(tags=["course designer"])

COURSES = "/designer/courses"
# The order "my courses" shows the states in.
STATES = ("draft", "submitted", "awaiting-consent", "rejected", "approved", "retired")


@router.get(COURSES)
async def my_courses(view: PageView) -> Response:
    person = view.person_with(Role.COURSE_DESIGNER)
    found = await view.api.get("catalogue", "/courses", institution=person.institution) if person.institution else []
    by_state: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for course in sorted(found, key=lambda course: course["updated_at"], reverse=True):
        by_state[course["status"]].append(course)
    return view.render("designer/courses.html", title=view._("My courses"), by_state=by_state, states=STATES)


def _form_page(
    view: View, *, action: str, description: dict[str, Any] | None, course: dict[str, Any] | None = None,
    problems: course_form.Problems | None = None, revising: bool = False,
) -> Response:
    if course is None:
        title = view._("Describe a new micro-credential")
    elif revising:
        title = view._("Revise “%(title)s”", title=course["description"]["title"])
    else:
        title = view._("Draft “%(title)s”", title=course["description"]["title"])
    return view.render(
        "designer/edit.html", status_code=422 if problems else 200, title=title, action=action, course=course,
        revising=revising, values=course_form.values(description), problems=problems or course_form.Problems(),
        choices=course_form.CHOICES, inclusions=course_form.CURRICULUM_INCLUSIONS,
    )


async def _sent(request: Request) -> tuple[dict[str, Any], course_form.Problems]:
    # The route's own request: its form was read (and cached) there by the CSRF check; view.request is the
    # middleware's, whose body stream is spent.
    form = await request.form()
    multi = {name: [str(value) for value in form.getlist(name)] for name in ("curriculum_inclusion",)}
    return course_form.read({name: value for name, value in form.items() if isinstance(value, str)}, multi)


async def _save(
    view: View, request: Request, method: str, path: str, action: str, course: dict[str, Any] | None,
    revising: bool = False,
) -> Response:
    """Sends the form's description to the catalogue; the draft's page when it took it, else the form again with
    every rule it broke beside its field."""
    description, problems = await _sent(request)
    try:
        saved = (await view.api.call(method, "catalogue", path, json={"description": description})).json()
    except ServiceRefused as refused:
        if refused.status != 422:
            return view.redirect(course and f"{COURSES}/{course['id']}" or COURSES,
                                 view._("Not saved: %(reason)s", reason=refused.detail), tone="error")
        return _form_page(view, action=action, description=description, course=course, revising=revising,
                          problems=course_form.refusals(refused.errors, problems))
    if problems:  # The catalogue took what it could read, but a number was not one: the form says which.
        return _form_page(view, action=f"{COURSES}/{saved['id']}", description=description, course=saved,
                          problems=problems)
    return view.redirect(f"{COURSES}/{saved['id']}", view._("Draft saved: “%(title)s”, version %(version)s.",
                                                            title=saved["description"]["title"],
                                                            version=saved["version"]))


@router.get(COURSES + "/new")
async def new(view: PageView) -> Response:
    person = view.person_with(Role.COURSE_DESIGNER)
    return _form_page(view, action=f"{COURSES}/new", description=course_form.blank(person.institution))


@router.post(COURSES + "/new")
async def create(view: PageView, request: Request) -> Response:
    view.person_with(Role.COURSE_DESIGNER)
    return await _save(view, request, "POST", "/courses", f"{COURSES}/new", None)


@router.get(COURSES + "/{course_id}")
async def course(view: PageView, course_id: str) -> Response:
    """A draft opens in the form; any other state is shown as it stands, with what the designer can do next."""
    view.person_with(Role.COURSE_DESIGNER)
    versions = await view.api.get("catalogue", f"/courses/{course_id}/versions")
    newest = versions[-1]
    if newest["status"] == "draft":
        return _form_page(view, action=f"{COURSES}/{course_id}", description=newest["description"], course=newest)
    # A joint course's partners hosted by other nodes: asked to consent to which version, and what they answered.
    consents = [asked for asked in await view.api.get("catalogue", f"/courses/{course_id}/consents")
                if asked["version"] == newest["version"]]
    return view.render("designer/course.html", title=newest["description"]["title"], course=newest,
                       d=newest["description"], versions=versions, consents=consents)


@router.post(COURSES + "/{course_id}")
async def save_draft(view: PageView, request: Request, course_id: str) -> Response:
    view.person_with(Role.COURSE_DESIGNER)
    newest = await view.api.get("catalogue", f"/courses/{course_id}")
    return await _save(view, request, "PUT", f"/courses/{course_id}", f"{COURSES}/{course_id}", newest)


@router.post(COURSES + "/{course_id}/submit")
async def submit(view: PageView, course_id: str) -> Response:
    view.person_with(Role.COURSE_DESIGNER)
    try:
        submitted = await view.api.post("catalogue", f"/courses/{course_id}/submit")
    except ServiceRefused as refused:
        return view.redirect(f"{COURSES}/{course_id}", view._("Not submitted: %(reason)s", reason=refused.detail),
                             tone="error")
    return view.redirect(COURSES, view._("“%(title)s”, version %(version)s, is submitted: a QA officer of the lead "
                                         "institution reviews it.", title=submitted["description"]["title"],
                                         version=submitted["version"]))


@router.get(COURSES + "/{course_id}/revise")
async def revision_form(view: PageView, course_id: str) -> Response:
    view.person_with(Role.COURSE_DESIGNER)
    newest = await view.api.get("catalogue", f"/courses/{course_id}")
    return _form_page(view, action=f"{COURSES}/{course_id}/revise", description=newest["description"], course=newest,
                      revising=True)


@router.post(COURSES + "/{course_id}/revise")
async def revise(view: PageView, request: Request, course_id: str) -> Response:
    view.person_with(Role.COURSE_DESIGNER)
    newest = await view.api.get("catalogue", f"/courses/{course_id}")
    return await _save(view, request, "POST", f"/courses/{course_id}/revisions", f"{COURSES}/{course_id}/revise", newest,
                       revising=True)
