"""The gateway's side on the alliance's Kafka cluster: a broker of its own (ALLIANCE_KAFKA_*), the consumer of the
members' catalogue topics and of what they address to this node, and the relay of the alliance outbox. The node's
other services never connect there.

It starts once the registry in use lists this node with this node's event source, and once the node's catalogue
topic exists on the alliance bus (the secretariat makes it: `python -m deploy.kafka_security alliance`). Until then
the node's facts wait in the alliance outbox, and `GET /bus` says what the gateway waits for. Members' listings it
refuses are dead-lettered on the node's own cluster (`mc.alliance.dead-letter`), where its operators look.
"""

import asyncio
import logging
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from starlette.datastructures import State

from services.alliance.domain import membership_problem
from services.alliance.handlers import bus_handlers
from services.alliance.joining import JoiningNodes
from services.alliance.models import AllianceOutboxMessage
from services.alliance.settings import AllianceSettings
from shared.alliance import registry_in_use
from shared.consumer import EventConsumer
from shared.dead_letters import DeadLetters
from shared.events.topics import ALLIANCE_CATALOGUE, alliance_catalogue_topic, gateway_subscription
from shared.failures import Backoff
from shared.kafka import create_broker
from shared.outbox import OutboxRelay
from shared.topic_admin import check_topics

log = logging.getLogger(__name__)

# The alliance outbox's relay: one per node at a time, beside (not instead of) the node's relay.
ALLIANCE_RELAY_LOCK_ID = 0x6D616C6C
COMPONENT = "alliance relay"


@dataclass
class BusState:
    """What the gateway is doing on the alliance bus, for `GET /bus`."""

    node: str | None
    connected: bool = False
    waiting_for: str | None = "the start of the gateway"
    relay: OutboxRelay | None = None


async def alliance_bus(state: State) -> None:
    """A `Service.background` task: join the alliance bus once this node may, then read and publish there."""
    settings: AllianceSettings = state.settings
    status = state.bus = BusState(settings.alliance_node_id)
    node = await _member_node(state, status)
    bus = settings.bus()
    await _catalogue_topic(bus, node, status)

    joining = JoiningNodes(state, settings.alliance_joining_hold_seconds, state.metrics.registry)
    broker = create_broker(bus, client_id=f"mc-alliance-gateway-{node}")
    consumer = EventConsumer(
        bus, state.unit_of_work, bus_handlers(node, joining.registry), [ALLIANCE_CATALOGUE], state.metrics,
        state.outages, state.database_answers, registry=joining.registry,
        pattern=gateway_subscription(node, bus.topic_prefix), hold_unknown_node=joining.hold,
    )
    consumer.subscribe(
        broker, DeadLetters(state.broker, settings.service_name, settings.topic_prefix, bus.consumer_group)
    )
    status.relay = OutboxRelay(
        bus, state.sessionmaker, broker, state.metrics, state.outages,
        table=AllianceOutboxMessage, lock_id=ALLIANCE_RELAY_LOCK_ID, component=COMPONENT,
    )
    await _start(broker, bus, status)
    status.connected, status.waiting_for = True, None
    log.info("on the alliance bus as node %s (%s, group %s)", node, bus.kafka_bootstrap_servers, bus.consumer_group)
    try:
        await status.relay.run()
    finally:
        status.connected = False
        await consumer.close()
        await broker.stop()


async def _start(broker: KafkaBroker, bus: AllianceSettings, status: BusState) -> None:
    """Connect to the alliance's cluster, for as long as it takes (a background task's error would go unseen)."""
    backoff = Backoff.for_outages(bus)
    while True:
        try:
            await broker.start()
            return
        except Exception as error:
            problem = f"the alliance's cluster at {bus.kafka_bootstrap_servers}: {error!r}"
            if problem != status.waiting_for:
                log.error("not on the alliance bus yet: %s", problem)
                status.waiting_for = problem
            await broker.stop()
            await asyncio.sleep(backoff.next())


async def _member_node(state: State, status: BusState) -> str:
    """This node's id, once the registry in use lists it with this node's event source (logged once per reason)."""
    settings: AllianceSettings = state.settings
    while problem := membership_problem(registry_in_use(state), settings.alliance_node_id, settings.node_uri):
        if problem != status.waiting_for:
            log.error("not on the alliance bus yet: %s", problem)
            status.waiting_for = problem
        await asyncio.sleep(min(settings.alliance_registry_poll_seconds, 5.0))
    assert settings.alliance_node_id is not None
    return settings.alliance_node_id


async def _catalogue_topic(bus: AllianceSettings, node: str, status: BusState) -> None:
    """Wait until the node's catalogue topic can be seen on the alliance's cluster (made by the secretariat, with the
    node's rights on it)."""
    backoff = Backoff.for_outages(bus)
    while True:
        try:
            await check_topics(bus, [alliance_catalogue_topic(node, bus.topic_prefix)])
            return
        except Exception as error:
            problem = (
                f"the alliance's cluster at {bus.kafka_bootstrap_servers} (as {bus.kafka_username or 'nobody'}): "
                f"{error}; the secretariat makes the alliance's topics and rights with "
                "`python -m deploy.kafka_security alliance`"
            )
            if problem != status.waiting_for:
                log.error("not on the alliance bus yet: %s", problem)
                status.waiting_for = problem
            await asyncio.sleep(backoff.next())
