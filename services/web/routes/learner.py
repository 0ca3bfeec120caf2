"""The learner's pages: applying, their applications and waitlist places, their wallet (credentials, certificates,
share links) and their email preferences. Each calls the services with the learner's own token."""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from services.web import domain
from services.web.api import NodeApi, ServiceRefused
from services.web.pages import PageView, View
from shared.auth import Role

router = APIRouter(tags=["learner"])

SHARE_DAYS = (7, 30, 90, 365)


async def registered(view: View, person: domain.Person) -> None:
    """The learner's record at enrolment, made on their first application (who they are comes from their token;
    the page's language becomes the language of their emails)."""
    try:
        await view.api.get("enrolment", f"/learners/{person.subject}")
    except ServiceRefused as refused:
        if refused.status not in (404, 409):
            raise
        await view.api.post("enrolment", "/learners", {"preferred_language": view.language})


@router.post("/catalogue/{offering_id}/apply")
async def apply(
    view: PageView, offering_id: str, declared_qualification: Annotated[str | None, Form(max_length=2000)] = None
) -> Response:
    person = view.person_with(Role.LEARNER)
    offering = await view.api.get("catalogue", f"/offerings/{offering_id}")
    title = offering["description"]["title"]
    await registered(view, person)
    body = {"offering_id": offering_id, "declared_qualification": declared_qualification or None}
    try:
        response = await view.api.call("POST", "enrolment", "/applications", json=body)
    except ServiceRefused as refused:
        return view.redirect(
            f"/catalogue/{offering_id}", view._("Your application was not accepted: %(reason)s", reason=refused.detail),
            tone="error",
        )
    application = response.json()
    if application["status"] == "waitlisted":
        notice = view._("“%(title)s” is full: you are number %(position)s on the waitlist. We will email you if a "
                        "place opens up.", title=title, position=application["position"])
    else:
        notice = view._("You have a place in “%(title)s”.", title=title)
        if application.get("fee_status") == "due" and application.get("fee"):
            fee = application["fee"]
            notice += " " + view._("The fee of %(fee)s is to be paid.",
                                   fee=view.request.app.state.templates[view.language].filters["money"](
                                       fee["amount"], fee["currency"]))
    return view.redirect("/learner/applications", notice)


async def offerings_of(api: NodeApi, ids: set[str]) -> dict[str, dict[str, Any] | None]:
    """The offerings applications are about (enrolment's view: title, dates, places), fetched at once."""

    async def one(offering_id: str) -> dict[str, Any] | None:
        try:
            return await api.get("enrolment", f"/offerings/{offering_id}")
        except ServiceRefused:
            return None

    found = await asyncio.gather(*(one(offering_id) for offering_id in sorted(ids)))
    return dict(zip(sorted(ids), found, strict=True))


@router.get("/learner/applications")
async def applications(view: PageView) -> Response:
    view.person_with(Role.LEARNER)
    found = await view.api.get("enrolment", "/applications")
    found.sort(key=lambda application: application["applied_at"], reverse=True)
    return view.render(
        "learner/applications.html",
        title=view._("My applications"),
        applications=found,
        offerings=await offerings_of(view.api, {application["offering_id"] for application in found}),
    )


@router.post("/learner/applications/{application_id}/withdraw")
async def withdraw(view: PageView, application_id: str) -> Response:
    view.person_with(Role.LEARNER)
    try:
        await view.api.post("enrolment", f"/applications/{application_id}/withdraw")
    except ServiceRefused as refused:
        return view.redirect("/learner/applications", view._("Not withdrawn: %(reason)s", reason=refused.detail),
                             tone="error")
    return view.redirect("/learner/applications", view._("Your application is withdrawn."))


@router.get("/learner/wallet")
async def wallet(view: PageView) -> Response:
    view.person_with(Role.LEARNER)
    credentials = await view.api.get("certification", "/wallet")
    credentials.sort(key=lambda credential: credential["issued_at"], reverse=True)

    async def links(credential: dict[str, Any]) -> list[dict[str, Any]]:
        found = await view.api.get("certification", f"/credentials/{credential['id']}/shares")
        for link in found:
            link["page"] = domain.share_page_url(view.settings.public_url, link["url"])
        return found

    shares = await asyncio.gather(*(links(credential) for credential in credentials))
    return view.render(
        "learner/wallet.html",
        title=view._("My wallet"),
        credentials=credentials,
        shares=dict(zip([credential["id"] for credential in credentials], shares, strict=True)),
        share_days=SHARE_DAYS,
    )


@router.post("/learner/wallet/{credential_id}/share")
async def share(view: PageView, credential_id: str, days: Annotated[int, Form(ge=1, le=365)] = 30) -> Response:
    view.person_with(Role.LEARNER)
    link = await view.api.post("certification", f"/credentials/{credential_id}/share", {"expires_in_days": days})
    page = domain.share_page_url(view.settings.public_url, link["url"])
    formats = view.request.app.state.templates[view.language].filters
    return view.redirect(
        f"/learner/wallet#credential-{credential_id}",
        view._("New share link, valid until %(until)s: %(url)s", until=formats["moment"](link["expires_at"]), url=page),
    )


@router.post("/learner/wallet/{credential_id}/shares/{token}/revoke")
async def revoke_share(view: PageView, credential_id: str, token: str) -> Response:
    view.person_with(Role.LEARNER)
    try:
        await view.api.post("certification", f"/credentials/{credential_id}/shares/{token}/revoke")
    except ServiceRefused as refused:
        return view.redirect("/learner/wallet", view._("Not revoked: %(reason)s", reason=refused.detail), tone="error")
    return view.redirect(
        f"/learner/wallet#credential-{credential_id}", view._("The share link is revoked: it no longer shows anything.")
    )


@router.get("/learner/preferences")
async def preferences(view: PageView) -> Response:
    view.person_with(Role.LEARNER)
    found = await view.api.get("notifications", "/preferences")
    return view.render("learner/preferences.html", title=view._("Email preferences"), preferences=found)


@router.post("/learner/preferences")
async def save_preferences(view: PageView, optional_emails: Annotated[str, Form(pattern="^(yes|no)$")]) -> Response:
    view.person_with(Role.LEARNER)
    await view.api.post("notifications", "/preferences", {"optional_emails": optional_emails == "yes"})
    return view.redirect("/learner/preferences", view._("Your email preferences are saved."))
