"""The registrar's pages: their institution's offerings (opening one: dates, capacity, fee, who it is open to), each
offering's applications and waitlist (recording fees paid), the credentials the institution issued (revoking,
suspending, reinstating with a reason), and the emails that could not be delivered. The services decide who may do
what (a registrar of the offering's or credential's institution); the pages call them with the registrar's token."""

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.web.api import ServiceRefused
from services.web.pages import PageView, View
from shared.auth import Role

router = APIRouter(tags=["registrar"])

OFFERINGS = "/registrar/offerings"
CREDENTIALS = "/registrar/credentials"
EMAILS = "/registrar/emails"
DELIVERY_MODES = ("on-campus", "online", "blended")
PACES = ("time-bound", "self-paced")
CATEGORIES = ("alliance-student", "alliance-staff", "external")
STATUS_ACTIONS = ("revoke", "suspend", "unsuspend")


@router.get(OFFERINGS)
async def offerings(view: PageView) -> Response:
    person = view.person_with(Role.REGISTRAR)
    found = await view.api.get("enrolment", "/offerings", institution=person.institution) if person.institution else []
    return view.render("registrar/offerings.html", title=view._("Offerings"), offerings=found)


async def approved_courses(view: View, institution: str | None) -> list[dict[str, Any]]:
    """The courses the registrar's institution leads that may be offered (approved: the newest version of each)."""
    if not institution:
        return []
    found = await view.api.get("catalogue", "/courses", status="approved", institution=institution)
    return sorted((c for c in found if c["institutions"][:1] == [institution]), key=lambda c: c["description"]["title"])


# The form's fields, empty until filled in (or sent back with what was given).
FORM_FIELDS = ("course_id", "delivery_mode", "pace", "registration_opens_on", "registration_closes_on", "starts_on",
               "ends_on", "capacity", "fee_amount", "fee_currency")


def new_offering_page(
    view: View, courses: list[dict[str, Any]], values: dict[str, Any], status_code: int = 200, problem: str | None = None
) -> Response:
    return view.render(
        "registrar/new_offering.html", status_code, title=view._("Open an offering"), courses=courses,
        course_options=[(c["id"], view._("%(title)s (version %(version)s)", title=c["description"]["title"],
                                         version=c["version"])) for c in courses],
        delivery_modes=DELIVERY_MODES, paces=PACES, categories=CATEGORIES,
        values=dict.fromkeys(FORM_FIELDS) | {"open_to": list(CATEGORIES)} | values, problem=problem,
    )


@router.get(OFFERINGS + "/new")
async def new_offering(view: PageView, course_id: str | None = None) -> Response:
    person = view.person_with(Role.REGISTRAR)
    return new_offering_page(view, await approved_courses(view, person.institution), {"course_id": course_id})


def moment(day: date, at: time, zone: str) -> str:
    """A day's start or end where the front end is (WEB_TIMEZONE), as the catalogue wants it (with its offset)."""
    return datetime.combine(day, at, ZoneInfo(zone)).isoformat()


@router.post(OFFERINGS)
async def open_offering(
    view: PageView,
    course_id: Annotated[str, Form(max_length=200)],
    delivery_mode: Annotated[str, Form(max_length=40)],
    pace: Annotated[str, Form(max_length=40)],
    registration_opens_on: Annotated[date, Form()],
    registration_closes_on: Annotated[date, Form()],
    starts_on: Annotated[date | None, Form()] = None,
    ends_on: Annotated[date | None, Form()] = None,
    capacity: Annotated[int | None, Form(ge=1, le=2_000_000_000)] = None,
    fee_amount: Annotated[float | None, Form(ge=0, le=1_000_000)] = None,
    fee_currency: Annotated[str, Form(max_length=3)] = "EUR",
    open_to: Annotated[list[str] | None, Form()] = None,
) -> Response:
    person = view.person_with(Role.REGISTRAR)
    zone = view.settings.web_timezone
    body = {
        "course_id": course_id,
        "delivery_mode": delivery_mode,
        "pace": pace,
        "starts_on": starts_on.isoformat() if starts_on else None,
        "ends_on": ends_on.isoformat() if ends_on else None,
        "registration_opens_at": moment(registration_opens_on, time.min, zone),
        # Open to the end of its last day: the next day's first moment.
        "registration_closes_at": moment(registration_closes_on + timedelta(days=1), time.min, zone),
        "capacity": capacity,
        "fee": {"amount": fee_amount, "currency": fee_currency.strip().upper()} if fee_amount else None,
        "open_to": open_to or [],
    }
    try:
        offering = await view.api.post("catalogue", "/offerings", body)
    except ServiceRefused as refused:
        values = body | {"registration_opens_on": registration_opens_on, "registration_closes_on": registration_closes_on,
                         "fee_amount": fee_amount, "fee_currency": fee_currency}
        return new_offering_page(view, await approved_courses(view, person.institution), values, refused.status,
                                 refused.detail)
    return view.redirect(f"{OFFERINGS}/{offering['id']}",
                         view._("“%(title)s” is open: learners can apply from %(day)s.", title=offering["title"],
                                day=view.request.app.state.templates[view.language].filters["day"](
                                    registration_opens_on)))


async def names_of(view: View, learner_ids: set[str]) -> dict[str, str]:
    """Applicants' names (enrolment lets a registrar read those who applied to their institution's offerings)."""

    async def one(learner_id: str) -> str:
        try:
            return (await view.api.get("enrolment", f"/learners/{learner_id}"))["name"]
        except ServiceRefused:
            return learner_id

    ordered = sorted(learner_ids)
    return dict(zip(ordered, await asyncio.gather(*(one(learner_id) for learner_id in ordered)), strict=True))


@router.get(OFFERINGS + "/{offering_id}")
async def offering(view: PageView, offering_id: str) -> Response:
    view.person_with(Role.REGISTRAR)
    found = await view.api.get("catalogue", f"/offerings/{offering_id}")
    applications = await view.api.get("enrolment", "/applications", offering_id=offering_id)
    applications.sort(key=lambda a: a["applied_at"])
    waitlist = sorted((a for a in applications if a["status"] == "waitlisted"), key=lambda a: a["position"])
    return view.render(
        "registrar/offering.html",
        title=found["title"],
        offering=found,
        enrolled=[a for a in applications if a["status"] == "enrolled"],
        waitlist=waitlist,
        others=[a for a in applications if a["status"] not in ("enrolled", "waitlisted")],
        names=await names_of(view, {a["learner_id"] for a in applications}),
    )


@router.post(OFFERINGS + "/{offering_id}/applications/{application_id}/fee")
async def record_fee(
    view: PageView, offering_id: str, application_id: str, status: Annotated[str, Form(pattern="^(paid|waived)$")]
) -> Response:
    view.person_with(Role.REGISTRAR)
    back = f"{OFFERINGS}/{offering_id}#application-{application_id}"
    try:
        await view.api.post("enrolment", f"/applications/{application_id}/fee", {"status": status})
    except ServiceRefused as refused:
        return view.redirect(back, view._("Not recorded: %(reason)s", reason=refused.detail), tone="error")
    return view.redirect(back, view._("The fee is recorded as paid.") if status == "paid"
                         else view._("The fee is waived."))


@router.get(CREDENTIALS)
async def credentials(view: PageView) -> Response:
    view.person_with(Role.REGISTRAR)
    found = await view.api.get("certification", "/credentials")
    found.sort(key=lambda credential: credential["issued_at"], reverse=True)
    return view.render("registrar/credentials.html", title=view._("Credentials issued"), credentials=found)


@router.post(CREDENTIALS + "/{credential_id}/{action}")
async def change_status(
    view: PageView, credential_id: str, action: str, reason: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    view.person_with(Role.REGISTRAR)
    back = f"{CREDENTIALS}#credential-{credential_id}"
    if action not in STATUS_ACTIONS:
        return view.redirect(back, view._("Nothing changed: there is no such action."), tone="error")
    if len(reason.strip()) < 3:
        return view.redirect(back, view._("Nothing changed: give a reason (at least 3 characters)."), tone="error")
    try:
        changed = await view.api.post("certification", f"/credentials/{credential_id}/{action}",
                                      {"reason": reason.strip()})
    except ServiceRefused as refused:
        return view.redirect(back, view._("Nothing changed: %(reason)s", reason=refused.detail), tone="error")
    title = changed["record"]["title"]
    done = {
        "revoke": view._("The credential “%(title)s” is revoked: verifiers now see it as revoked.", title=title),
        "suspend": view._("The credential “%(title)s” is suspended until you reinstate it.", title=title),
        "unsuspend": view._("The credential “%(title)s” is valid again.", title=title),
    }
    return view.redirect(back, done[action])


@router.get(EMAILS)
async def failed_emails(view: PageView) -> Response:
    view.person_with(Role.REGISTRAR)
    found = await view.api.get("notifications", "/deliveries", status="failed")
    found.sort(key=lambda delivery: delivery["failed_at"] or delivery["created_at"], reverse=True)
    return view.render("registrar/emails.html", title=view._("Emails that could not be delivered"), deliveries=found)
