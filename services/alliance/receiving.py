"""What this node takes in from the alliance: a member's listing, once its provenance is established (the consumer
checked that it came on a member's catalogue topic from that member's event source) and the registry says the member
hosts the institution it speaks for, is re-published inside the node on `mc.alliance.listings`, for the catalogue.
A listing refused here is dead-lettered with the reason; nothing of it reaches the node."""

from collections.abc import Callable

from services.alliance import domain
from shared.alliance import AllianceRegistry
from shared.consumer import Unprocessable
from shared.db import UnitOfWork
from shared.events import CloudEvent
from shared.events.alliance import Listing


def who_sent(
    envelope: CloudEvent, registry: Callable[[], AllianceRegistry | None]
) -> tuple[str, AllianceRegistry]:
    """The member node an event on the bus came from, by its source, and the registry that says so."""
    current = registry()
    if current is None:  # The consumer runs only once a registry is in use; provenance checked it too.
        raise Unprocessable("no alliance registry is in use")
    return current.node_by_event_source(envelope.source).id, current


async def listing_received(
    listing: Listing,
    envelope: CloudEvent,
    uow: UnitOfWork,
    *,
    node: str,
    registry: Callable[[], AllianceRegistry | None],
) -> None:
    sender, current = who_sent(envelope, registry)
    if sender == node:
        return  # The node's own listings, read back from the bus: it knows them first-hand.
    if problem := domain.refusal(listing, sender, current):
        raise Unprocessable(problem)
    uow.publish(listing)
