"""The joining race: a node that joins may publish its listings before this node has reloaded the registry that lists
it. The gateway holds them, re-reading the registry, and takes them in once it lists the node; a node the registry
still does not list after the hold is dead-lettered as before (services/alliance/joining.py)."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry
from starlette.datastructures import State

from services.alliance import domain
from services.alliance.joining import JoiningNodes
from services.alliance.tests.test_domain import approved
from shared.alliance import registry_in_use
from shared.alliance.loader import FileSource, RegistryWatcher
from shared.consumer import EventConsumer
from shared.dead_letters import REASON
from shared.events import CloudEvent, dead_letter_topic
from shared.events.alliance import CourseListed
from shared.settings import ServiceSettings
from tests.alliance import alliance_key, publish, three_nodes, trusted
from tests.unit.test_consumer import InMemoryUnitOfWork, RecordingHandler

URLS = {"saarland": "https://mc.uni-saarland.de", "silesia": "https://mc.us.edu.pl", "primorska": "https://mc.upr.si"}
TOPIC = "alliance.primorska.catalogue"


async def following(path: Path, key) -> State:  # type: ignore[no-untyped-def]
    """A node's state following the registry at `path` (as shared.alliance.watch_alliance sets it up)."""
    state = State()
    state.alliance = RegistryWatcher(FileSource(path), trusted(key))
    await state.alliance.refresh()
    return state


def primorskas_listing() -> bytes:
    listing = domain.course_listing("primorska", [domain.CourseVersion(approved())])
    envelope = CloudEvent.wrap(listing, source="urn:microcredentials:node:primorska")
    return json.dumps(envelope.model_dump(mode="json")).encode()


async def gateway_reads(state: State, hold_seconds: float) -> tuple[RecordingHandler, list[str], CollectorRegistry]:
    """Primorska's listing, read by Saarland's gateway: what its handler got, the dead letters' reasons, its metrics."""
    broker, handler, dead_letters, metrics = KafkaBroker(), RecordingHandler(), [], CollectorRegistry()
    uow = InMemoryUnitOfWork()
    EventConsumer(
        ServiceSettings(service_name="alliance", node_uri="urn:microcredentials:node:saarland"), lambda: uow,
        {CourseListed: handler}, [TOPIC], registry=(joining := JoiningNodes(state, hold_seconds, metrics)).registry,
        hold_unknown_node=joining.hold,
    ).subscribe(broker)

    @broker.subscriber(dead_letter_topic("alliance"))
    async def record(message: KafkaMessage) -> None:
        dead_letters.append(message.headers[REASON])

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(primorskas_listing(), TOPIC)
    return handler, dead_letters, metrics


async def test_a_listing_of_a_node_that_just_joined_is_held_until_the_registry_lists_it(tmp_path: Path):
    key, path, now = alliance_key(), tmp_path / "alliance-registry.json", datetime.now(UTC)
    publish(path, three_nodes(URLS, serial=1, issued=now, without="primorska"), key)
    state = await following(path, key)

    async def secretariat_adds_primorska() -> None:
        await asyncio.sleep(0.5)
        publish(path, three_nodes(URLS, serial=2, issued=now), key)

    joined = asyncio.create_task(secretariat_adds_primorska())
    handler, dead_letters, metrics = await gateway_reads(state, hold_seconds=30)
    await joined

    assert [event.node for event in handler.calls] == ["primorska"] and dead_letters == []
    assert registry_in_use(state).serial == 2
    assert metrics.get_sample_value("mc_alliance_listings_held_total", {"outcome": "taken"}) == 1


async def test_a_listing_of_a_node_the_registry_still_does_not_list_after_the_hold_is_dead_lettered(tmp_path: Path):
    key, path = alliance_key(), tmp_path / "alliance-registry.json"
    publish(path, three_nodes(URLS, issued=datetime.now(UTC), without="primorska"), key)
    state = await following(path, key)

    handler, dead_letters, metrics = await gateway_reads(state, hold_seconds=0.3)

    assert handler.calls == []
    [reason] = dead_letters
    assert "topic alliance.primorska.catalogue belongs to no member: 'primorska' is not a node of Transform4Europe" in reason
    assert metrics.get_sample_value("mc_alliance_listings_held_total", {"outcome": "dead-lettered"}) == 1


async def test_a_listing_of_a_node_that_left_the_registry_is_refused_at_once(tmp_path: Path):
    key, path, now = alliance_key(), tmp_path / "alliance-registry.json", datetime.now(UTC)
    publish(path, three_nodes(URLS, serial=1, issued=now), key)
    state = await following(path, key)
    joining = JoiningNodes(state, hold_seconds=30, registry=CollectorRegistry())
    assert joining.registry().serial == 1  # the gateway has read with primorska in the registry
    publish(path, three_nodes(URLS, serial=2, issued=now, without="primorska"), key)
    await state.alliance.refresh()

    assert await asyncio.wait_for(joining.hold("primorska"), timeout=5) is False
