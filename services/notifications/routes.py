"""HTTP routes of the notifications service: what was sent to whom, what waits, what failed."""

import html
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from services.notifications import deliveries
from services.notifications.models import DeliveryPublic, DeliveryStatus, PreferencePublic, PreferenceUpdate
from services.notifications.preferences import learner_of, set_optional_emails, signing_secret, wants_optional_emails
from shared.auth import CurrentPrincipal, Role, reader_scope, require_role
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("")
async def list_deliveries(
    uow: UnitOfWorkDep,
    principal: CurrentPrincipal,
    recipient: str | None = None,
    status: DeliveryStatus | None = None,  # noqa: F811 (the query parameter's name; the module is not used here)
    about_event_id: str | None = None,
) -> list[DeliveryPublic]:
    """Deliveries, oldest first: `status=failed` lists the emails that could not be delivered, with the reason
    (`last_error`); `pending`/`sending` those still on their way (retried after `next_attempt_at`).

    A learner's own emails; a registrar's: those about their institution's offerings, courses and credentials; the
    node administrator's: all."""
    scope = reader_scope(principal, deliveries.READERS, "deliveries")
    async with uow:
        found = await deliveries.listing(uow.session, scope, recipient, status, about_event_id)
    return [DeliveryPublic.model_validate(row, from_attributes=True) for row in found]


@router.get("/{delivery_id}")
async def get_delivery(delivery_id: str, uow: UnitOfWorkDep, principal: CurrentPrincipal) -> DeliveryPublic:
    async with uow:
        delivery = await deliveries.readable(uow.session, principal, delivery_id)
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} does not exist")
    return DeliveryPublic.model_validate(delivery, from_attributes=True)


preferences_router = APIRouter(tags=["preferences"])

UNSUBSCRIBED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribed</title></head>
<body>
  <p>You will receive no more emails about enrolments, waitlists and withdrawals. You will still be told when a
    micro-credential is issued to you.</p>
  <p lang="de">Sie erhalten keine E-Mails zu Einschreibungen, Wartelisten und Abmeldungen mehr. Über ausgestellte
    Microcredentials informieren wir Sie weiterhin.</p>
  <p lang="fr">Vous ne recevrez plus de messages sur les inscriptions, les listes d'attente et les retraits. Vous serez
    toujours informé de la délivrance de vos microcertifications.</p>
</body></html>
"""


CONFIRM_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>
<body>
  <form method="post" action="{action}">
    <input type="hidden" name="List-Unsubscribe" value="One-Click">
    <p>Stop emails about enrolments, waitlists and withdrawals? You will still be told when a micro-credential is
      issued to you.</p>
    <p lang="de">Keine E-Mails zu Einschreibungen, Wartelisten und Abmeldungen mehr erhalten? Über ausgestellte
      Microcredentials informieren wir Sie weiterhin.</p>
    <p lang="fr">Ne plus recevoir de messages sur les inscriptions, les listes d'attente et les retraits ? Vous serez
      toujours informé de la délivrance de vos microcertifications.</p>
    <button type="submit">Unsubscribe · Abbestellen · Se désabonner</button>
  </form>
</body></html>
"""


@preferences_router.get("/preferences")
async def get_preferences(principal: CurrentPrincipal, uow: UnitOfWorkDep) -> PreferencePublic:
    """The calling learner's choice about optional emails (all but a credential's issue or revocation)."""
    require_role(principal, Role.LEARNER)
    async with uow:
        wanted = await wants_optional_emails(uow.session, principal.subject)
    return PreferencePublic(learner_id=principal.subject, optional_emails=wanted)


@preferences_router.post("/preferences")
async def set_preferences(body: PreferenceUpdate, principal: CurrentPrincipal, uow: UnitOfWorkDep) -> PreferencePublic:
    """The calling learner opts out of optional emails (`optional_emails: false`), or back in."""
    require_role(principal, Role.LEARNER)
    async with uow:
        await set_optional_emails(uow.session, principal.subject, body.optional_emails)
        await uow.commit()
    return PreferencePublic(learner_id=principal.subject, optional_emails=body.optional_emails)


def _learner_of(token: str, secret: bytes) -> str:
    learner_id = learner_of(token, secret)
    if learner_id is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "this unsubscribe link is not valid (altered or incomplete)")
    return learner_id


@preferences_router.get("/unsubscribe", response_class=HTMLResponse, responses={400: {"description": "not a valid link"}})
async def unsubscribe_page(request: Request, token: str, uow: UnitOfWorkDep) -> HTMLResponse:
    """The link in every optional email: a page that asks to confirm. It changes nothing itself, since mail scanners
    and link previews follow links; the button on it POSTs to the same link."""
    async with uow:
        _learner_of(token, await signing_secret(uow.session, request.app.state.settings))
    action = html.escape(f"?{urlencode({'token': token})}")
    return HTMLResponse(CONFIRM_PAGE.replace("{action}", action))


@preferences_router.post("/unsubscribe", response_class=HTMLResponse, responses={400: {"description": "not a valid link"}})
async def unsubscribe(request: Request, token: str, uow: UnitOfWorkDep) -> HTMLResponse:
    """Opts the learner out of optional emails, no login needed: the confirmation page's button, or RFC 8058's
    one-click unsubscribe (what a mail client's own button POSTs to the List-Unsubscribe link)."""
    async with uow:
        learner_id = _learner_of(token, await signing_secret(uow.session, request.app.state.settings))
        await set_optional_emails(uow.session, learner_id, False)
        await uow.commit()
    return HTMLResponse(UNSUBSCRIBED_PAGE)
