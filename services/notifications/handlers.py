"""Kafka handlers of the notifications service: each learner-facing event becomes one delivery.

Nothing here talks to SMTP: the handler renders the email and records it, in the consumer's transaction (with the
event's id), so the partition moves on at once whether or not the mail relay is up; the delivery worker sends it,
handed the delivery, recorded claimed for it, once the transaction commits (recorded.py), or told by a NOTIFY when
no worker of this process has room.
"""

import functools
import logging
import time
import uuid

import jinja2

from services.notifications.domain import LEARNER_FACING, message_id, render, template_environment, template_for
from services.notifications.models import Delivery, DeliveryStatus
from services.notifications.preferences import is_optional, opted_out, signing_secret, unsubscribe_url
from services.notifications.recorded import RecordedDeliveries
from services.notifications.settings import NotificationsSettings
from shared.consumer import Handler
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent, Event
from shared.tracing import current_traceparent

log = logging.getLogger(__name__)

# NOTIFY channel that wakes the delivery worker when a transaction that recorded a delivery commits.
DELIVERIES_CHANNEL = "deliveries"
# The transaction's deliveries waiting to be written (UnitOfWork.rows).
DELIVERIES = "deliveries"
SECRET = "unsubscribe secret"


async def tell_the_learner(
    event: Event,
    envelope: CloudEvent,
    uow: UnitOfWork,
    *,
    templates: jinja2.Environment,
    settings: NotificationsSettings,
    recorded: RecordedDeliveries | None = None,
) -> None:
    template = template_for(event)
    optional = is_optional(template)
    link = None
    if optional:
        if SECRET not in uow.cache:  # Once per batch, not once per email.
            uow.cache[SECRET] = await signing_secret(uow.session, settings)
        link = unsubscribe_url(settings, event.learner.learner_id, uow.cache[SECRET])
    email = render(templates, template, event.learner.email, event, unsubscribe_url=link)
    now = utcnow()
    delivery = dict(
        id=str(uuid.uuid4()),
        about_event_id=envelope.id,
        about_event_type=envelope.type,
        recipient=email.recipient,
        subject=email.subject,
        template=email.template,
        language=email.language,
        message_id=message_id(envelope.id, email.template, settings.mail_from),
        unsubscribe_url=email.unsubscribe_url,
        traceparent=current_traceparent(),
        text_body=email.text,
        html_body=email.html,
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    # Written with the rest of the batch's deliveries when the transaction commits (one statement, not one each).
    uow.rows(DELIVERIES, functools.partial(_record_deliveries, uow, recorded)).append(
        (event.learner.learner_id if optional else None, delivery)
    )


async def _record_deliveries(
    uow: UnitOfWork, recorded: RecordedDeliveries | None, rows: list[tuple[str | None, dict]]
) -> None:
    """The batch's deliveries, but those optional emails whose learner opted out: claimed for this process's worker
    and handed to it once committed, when it has room (recorded.py); else pending, announced by a NOTIFY to whichever
    worker listens, or found by this one's next scan."""
    opted = await opted_out(uow.session, {learner for learner, _ in rows if learner})
    kept = []
    for learner, delivery in rows:
        if learner in opted:
            log.info("%s opted out of optional emails: no %s email about %s", learner, delivery["template"],
                     delivery["about_event_id"])
        else:
            kept.append(delivery)
    if not kept:
        return
    claimed_at = time.monotonic()
    # One delivery per event and recipient (unique in the table): the same fact under the same id, delivered twice by
    # Kafka, stops at the consumer's claim; this stops anything else that would record it twice.
    conflict = ["about_event_id", "recipient"]
    if recorded is None or not recorded.claim(kept, utcnow()):
        await uow.insert_unless_known(Delivery, kept, conflict=conflict)
        uow.notify(DELIVERIES_CHANNEL)
        return
    inserted = await uow.insert_unless_known(Delivery, kept, conflict=conflict, returning="id")
    # Not one that was not inserted (its event and recipient were recorded before, under another id): that email is
    # the other delivery's to send.
    handed = [delivery for delivery in kept if delivery["id"] in inserted]
    uow.after_commit(lambda: recorded.add(handed, claimed_at))


def event_handlers(
    settings: NotificationsSettings, recorded: RecordedDeliveries | None = None
) -> dict[type[Event], Handler]:
    handler = functools.partial(
        tell_the_learner, templates=template_environment(override=settings.templates_dir), settings=settings,
        recorded=recorded,
    )
    return {event_class: handler for event_class in LEARNER_FACING}
