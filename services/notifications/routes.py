"""HTTP routes of the notifications service: what was sent to whom."""

from fastapi import APIRouter
from sqlmodel import select

from services.notifications.models import Delivery
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/deliveries", tags=["deliveries"])


@router.get("")
async def list_deliveries(uow: UnitOfWorkDep, recipient: str | None = None) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.sent_at)
    if recipient:
        query = query.where(Delivery.recipient == recipient)
    async with uow:
        return list((await uow.session.exec(query)).all())
