"""Who reads which deliveries: the learner an email went to, registrars of the institution the email was about (the
university of the event it told of, from the dashboards' event log), and the node administrator."""

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.dashboards.models import LoggedEvent
from services.notifications.models import Delivery, DeliveryStatus
from shared.auth import Principal, Role, Scope, require_learner_or_staff

READERS = (Role.REGISTRAR, Role.NODE_ADMIN)
# The learner the email told about something, as the event said (every learner-facing event names its learner).
LEARNER_ID = LoggedEvent.data["learner"]["learner_id"].astext


def _with_event() -> Any:
    # Every delivery's event is in the log: the consumer records both in one transaction.
    return select(Delivery).join(LoggedEvent, col(LoggedEvent.event_id) == col(Delivery.about_event_id))


async def listing(
    session: AsyncSession,
    scope: Scope,
    recipient: str | None,
    status: DeliveryStatus | None,
    about_event_id: str | None,
) -> list[Delivery]:
    query = _with_event().where(scope.where(LEARNER_ID, lambda institution: LoggedEvent.university == institution))
    for column, value in ((Delivery.recipient, recipient), (Delivery.status, status), (Delivery.about_event_id, about_event_id)):
        if value:
            query = query.where(column == value)
    return list((await session.exec(query.order_by(col(Delivery.created_at), col(Delivery.id)))).all())


async def readable(session: AsyncSession, principal: Principal, delivery_id: str) -> Delivery | None:
    """The delivery, once the principal may read it (403 otherwise); None when there is none."""
    found = (
        await session.exec(
            select(Delivery, LEARNER_ID, LoggedEvent.university)
            .join(LoggedEvent, col(LoggedEvent.event_id) == col(Delivery.about_event_id))
            .where(Delivery.id == delivery_id)
        )
    ).first()
    if found is None:
        return None
    delivery, learner_id, university = found
    require_learner_or_staff(principal, learner_id, {university}, READERS, f"delivery {delivery_id}")
    return delivery
