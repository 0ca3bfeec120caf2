"""Kafka handlers of the notifications service."""

import functools
import uuid

import jinja2
from sqlmodel import select

from services.notifications.domain import LEARNER_FACING, Email, render, template_environment, template_for, to_message
from services.notifications.mailer import Mailer
from services.notifications.models import Delivery
from services.notifications.settings import NotificationsSettings
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.notifications import NotificationSent


async def notify(
    email: Email, envelope: CloudEvent, uow: UnitOfWork, *, mailer: Mailer, settings: NotificationsSettings
) -> None:
    """Send one email about one event, unless it was sent before, and record it in the same transaction."""
    sent_before = (
        await uow.session.exec(
            select(Delivery.id).where(Delivery.about_event_id == envelope.id, Delivery.recipient == email.recipient)
        )
    ).first()
    if sent_before:
        return
    delivery = Delivery(
        id=str(uuid.uuid4()),
        about_event_id=envelope.id,
        about_event_type=envelope.type,
        recipient=email.recipient,
        subject=email.subject,
        template=email.template,
    )
    domain_part = settings.mail_from.rsplit("@", 1)[-1].rstrip(">")
    await mailer.send(to_message(email, settings.mail_from, f"<{envelope.id}.{email.template}@{domain_part}>"))
    uow.session.add(delivery)
    uow.publish(
        NotificationSent(
            notification_id=delivery.id,
            about_event_id=envelope.id,
            about_event_type=envelope.type,
            recipient=email.recipient,
            template=email.template,
        )
    )


async def tell_the_learner(
    event: Event,
    envelope: CloudEvent,
    uow: UnitOfWork,
    *,
    templates: jinja2.Environment,
    mailer: Mailer,
    settings: NotificationsSettings,
) -> None:
    email = render(templates, template_for(event), event.learner.email, event)
    await notify(email, envelope, uow, mailer=mailer, settings=settings)


def event_handlers(settings: NotificationsSettings) -> dict[type[Event], Handler]:
    handler = functools.partial(
        tell_the_learner, templates=template_environment(), mailer=Mailer(settings), settings=settings
    )
    return {event_class: handler for event_class in LEARNER_FACING}
