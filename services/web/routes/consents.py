"""Joint courses of other members, at this (a partner's) node: the requests of lead universities that an institution
of this node co-awards a course version, for its people to decide. Four eyes: a course designer or QA officer
recommends taking part, a different QA officer consents; a QA officer may decline with a reason, and withdraw a consent
with a reason. The catalogue decides and enforces (services/catalogue/consents.py); the pages show what changed since
the version consented to before, and the four-eyes rule before anyone acts."""

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.web.api import ServiceRefused
from services.web.pages import PageView
from shared.auth import Role

router = APIRouter(tags=["joint courses: consent"])

CASES = "/qa/consents"
# Undecided first, then the decided ones (newest requests first within each).
ORDER = ("received", "recommended", "consented", "declined", "withdrawn")


@router.get(CASES)
async def requests(view: PageView) -> Response:
    person = view.person_with(Role.QA_OFFICER, Role.COURSE_DESIGNER)
    found = await view.api.get("catalogue", "/consents", institution=person.institution) if person.institution else []
    found.sort(key=lambda case: case["received_at"], reverse=True)
    found.sort(key=lambda case: ORDER.index(case["state"]) if case["state"] in ORDER else len(ORDER))
    return view.render("quality/consents.html", title=view._("Joint courses to consent to"), cases=found)


@router.get(CASES + "/{case_id}")
async def request(view: PageView, case_id: str) -> Response:
    person = view.person_with(Role.QA_OFFICER, Role.COURSE_DESIGNER)
    case = await view.api.get("catalogue", f"/consents/{case_id}")
    return view.render(
        "quality/consent.html",
        title=view._("Consent to “%(title)s”", title=case["description"]["title"]),
        case=case,
        d=case["description"],
        ours=case["institution"] == person.institution,
        qa=person.has(Role.QA_OFFICER),
        recommended_it=case["recommended_by"] == person.subject,
    )


async def _act(view: PageView, case_id: str, action: str, done: str, reason: str | None = None) -> Response:
    """Ask the catalogue to take a step on the case (with the `reason` a decline or withdrawal needs), and go back to
    the case with what happened, or with why the catalogue refused it."""
    back = f"{CASES}/{case_id}"
    if reason is not None and not reason.strip():
        return view.redirect(back, view._("Not done: say why, for the lead university."), tone="error")
    try:
        case = await view.api.post("catalogue", f"/consents/{case_id}/{action}",
                                   None if reason is None else {"reason": reason.strip()})
    except ServiceRefused as refused:
        return view.redirect(back, view._("Not done: %(reason)s", reason=refused.detail), tone="error")
    return view.redirect(back, done % {"title": case["description"]["title"], "version": case["version"]})


@router.post(CASES + "/{case_id}/recommend")
async def recommend(view: PageView, case_id: str) -> Response:
    view.person_with(Role.QA_OFFICER, Role.COURSE_DESIGNER)
    return await _act(view, case_id, "recommend", view._(
        "You recommend taking part in “%(title)s”, version %(version)s: another QA officer decides."))


@router.post(CASES + "/{case_id}/consent")
async def consent(view: PageView, case_id: str) -> Response:
    view.person_with(Role.QA_OFFICER)
    return await _act(view, case_id, "consent", view._(
        "Your institution takes part in “%(title)s”, version %(version)s: the lead university is told."))


@router.post(CASES + "/{case_id}/decline")
async def decline(view: PageView, case_id: str, reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    view.person_with(Role.QA_OFFICER)
    return await _act(view, case_id, "decline", view._(
        "Your institution does not take part in “%(title)s”, version %(version)s: the lead university is told why."),
        reason)


@router.post(CASES + "/{case_id}/withdraw")
async def withdraw(view: PageView, case_id: str, reason: Annotated[str, Form(max_length=1000)] = "") -> Response:
    view.person_with(Role.QA_OFFICER)
    return await _act(view, case_id, "withdraw", view._(
        "Your institution withdrew from “%(title)s” from version %(version)s on: no new offerings; credentials "
        "issued stay."), reason)
