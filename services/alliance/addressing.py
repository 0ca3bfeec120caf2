"""Messages between this node and one partner (shared/events/alliance.py AddressedMessage), routed by the gateway.

Out: what a service of this node wrote on `mc.alliance.outgoing` goes, once it names this node as its sender and a
partner of the registry as its recipient, into the alliance outbox for `alliance.<this node>.to.<partner>`.
In: what came on `alliance.<partner>.to.<this node>` (provenance has checked its source is the topic's owner) is
re-published on the node's `mc.alliance.incoming`, once it names the topic's owner as its sender and this node as its
recipient. Each message is routed once per event id (the consumer's claim: a redelivery changes nothing); a refused
one is dead-lettered with the reason.
"""

from collections.abc import Callable

from services.alliance import domain
from services.alliance.models import AllianceOutboxMessage
from services.alliance.receiving import who_sent
from shared.alliance import AllianceRegistry
from shared.consumer import Unprocessable
from shared.db import UnitOfWork
from shared.events import CloudEvent
from shared.events.alliance import AddressedMessage
from shared.events.topics import addressed_topic


async def message_to_send(
    message: AddressedMessage,
    envelope: CloudEvent,
    uow: UnitOfWork,
    *,
    node: str | None,
    registry: Callable[[], AllianceRegistry | None],
) -> None:
    if node is None:
        raise Unprocessable("ALLIANCE_NODE_ID is not set: the gateway sends nothing under no name")
    if problem := domain.sending_refusal(message, node, registry()):
        raise Unprocessable(problem)
    uow.publish(
        message, topic=addressed_topic(node, message.recipient), outbox=AllianceOutboxMessage,
        traceparent=envelope.traceparent,
    )


async def message_received(
    message: AddressedMessage,
    envelope: CloudEvent,
    uow: UnitOfWork,
    *,
    node: str,
    registry: Callable[[], AllianceRegistry | None],
) -> None:
    sender, _ = who_sent(envelope, registry)
    if problem := domain.receiving_refusal(message, sender, node):
        raise Unprocessable(problem)
    uow.publish(message, traceparent=envelope.traceparent)
