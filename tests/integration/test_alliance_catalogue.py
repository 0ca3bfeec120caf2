"""One catalogue for the alliance, over the alliance bus: three nodes on the real Kafka and PostgreSQL, each with its
own topic prefix, database prefix and Kafka principals (its services' on the node's side, the node's own on the
alliance bus), following one signed registry. Node A (Saarbrücken) runs a catalogue, enrolment and its gateway;
node B (Katowice) a catalogue and its gateway; node C (Koper) starts later, empty.

What a user would notice: a course approved and offered at A is in B's offerings, courses and catalogue page, under
A's university and country, with places left, and a link to register at A that leads to A's page of the offering; a
place taken at A shows at B; a forged listing is dead-lettered at B with the reason and shows nowhere; C, started
empty, shows the whole alliance's catalogue; a member dropped from the registry disappears from the others' catalogues
and what still comes from it is refused."""

import asyncio
import contextlib
import dataclasses
import html
import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from deploy.kafka_security import read_credentials
from services.alliance.app import create_service as create_gateway
from services.alliance.settings import AllianceSettings
from services.catalogue.app import create_service as create_catalogue
from services.catalogue.settings import CatalogueSettings
from services.catalogue.tests.samples import approved_course, description, designer, qa_officer
from services.enrolment.app import create_service as create_enrolment
from services.enrolment.settings import EnrolmentSettings
from shared.auth import Affiliation, Role
from shared.events import CloudEvent, dead_letter_topic
from shared.events.alliance import OfferingListed
from shared.events.topics import alliance_catalogue_topic
from tests.alliance import alliance_key, publish, three_nodes, write_public_key
from tests.integration.conftest import eventually, running, served
from tests.stack import free_port
from tests.integration.test_metrics import sample
from tests.stack import Stack, header, kafka_security, produce, read_topic, with_kafka_principals

pytestmark = pytest.mark.integration

ALLIANCE_KEY = alliance_key()
NODES = ("saarland", "silesia", "primorska")
SAARLAND = {"id": "uni-saarland", "name": "Saarland University", "country": "DE"}
SILESIA = {"id": "uni-silesia", "name": "University of Silesia", "country": "PL"}
NOW = datetime.now(UTC)
# Node events reach another node's catalogue through two relays and three consumers: generous, for a busy machine.
WAIT = 90.0


def node_uri(node: str) -> str:
    return f"urn:microcredentials:node:{node}"


def alliance_registry(stack: Stack, urls: dict[str, str], serial: int = 1, without: str | None = None) -> dict[str, Any]:
    """Three nodes; each session's Kafka principals are its own (the cleanup drops them by the session's prefix)."""
    return three_nodes(urls, stack.topic_prefix, serial=serial, issued=NOW - timedelta(minutes=5), without=without)


@dataclasses.dataclass
class Node:
    """One node of the test alliance: its stack (prefixes, principals) and the settings its services share."""

    name: str
    stack: Stack
    follows: dict[str, Any]

    def settings(self, settings_class: type, **overrides: Any) -> Any:
        return self.stack.settings(settings_class, node_uri=node_uri(self.name), **(self.follows | overrides))


@pytest.fixture(scope="module")
async def alliance(stack: Stack, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("alliance-catalogue")
    ports = {node: free_port() for node in NODES}
    urls = {node: f"http://127.0.0.1:{port}" for node, port in ports.items()}
    registry = folder / "alliance-registry.json"
    publish(registry, alliance_registry(stack, urls), ALLIANCE_KEY)
    public_key = write_public_key(folder / "alliance-public.json", ALLIANCE_KEY)
    # The secretariat makes the alliance bus from the registry: topics, each node's principal and rights.
    bus_credentials = folder / "bus"
    await asyncio.to_thread(
        kafka_security, stack, "alliance", "--registry", str(registry), "--public-key", str(public_key),
        "--dir", str(bus_credentials),
    )
    nodes = {}
    for name in NODES:
        node_stack = await asyncio.to_thread(
            with_kafka_principals,
            dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}{name}.",
                                database_prefix=f"{stack.database_prefix}_{name}"),
        )
        follows = dict(alliance_registry_url=str(registry), alliance_public_key_file=str(public_key),
                       alliance_registry_poll_seconds=0.2)
        nodes[name] = Node(name, node_stack, follows)

    def gateway(name: str) -> Any:
        bus = read_credentials(bus_credentials / f"{stack.topic_prefix}{name}.properties")
        return create_gateway(nodes[name].settings(
            AllianceSettings, alliance_node_id=name, alliance_topic_prefix=stack.topic_prefix,
            alliance_kafka_username=bus["kafka_username"], alliance_kafka_password=bus["kafka_password"],
        ))

    def catalogue(name: str) -> Any:
        return create_catalogue(nodes[name].settings(CatalogueSettings))

    async with contextlib.AsyncExitStack() as running_nodes:
        async def start(name: str, *services: Any) -> None:
            for service in services:
                await running_nodes.enter_async_context(running(service))

        world = SimpleNamespace(
            stack=stack, urls=urls, registry=registry, nodes=nodes,
            # A's catalogue is served on A's base URL: the registration links of every node lead there.
            a=await running_nodes.enter_async_context(served(catalogue("saarland"), ports["saarland"])),
            a_enrolment=await running_nodes.enter_async_context(
                running(create_enrolment(nodes["saarland"].settings(EnrolmentSettings)))
            ),
            b=await running_nodes.enter_async_context(running(catalogue("silesia"))),
            start_c=lambda: start_c(),
            gateways={},
        )
        for name in ("saarland", "silesia"):
            world.gateways[name] = await running_nodes.enter_async_context(running(gateway(name)))

        async def start_c() -> Any:
            client = await running_nodes.enter_async_context(running(catalogue("primorska")))
            await running_nodes.enter_async_context(running(gateway("primorska")))
            return client

        yield world


async def offered(client, stack: Stack, body: dict[str, Any], capacity: int = 2) -> tuple[dict, dict]:
    """A course approved at a node, and an offering of it open for registration now."""
    course = await approved_course(client, stack, body)
    lead = body["awarding_bodies"][0]["id"]
    response = await client.post("/offerings", headers=stack.bearer(f"registrar@{lead}", Role.REGISTRAR, institution=lead), json={
        "course_id": course["id"], "delivery_mode": "online", "pace": "self-paced", "capacity": capacity,
        "registration_opens_at": (NOW - timedelta(days=1)).isoformat(),
        "registration_closes_at": (NOW + timedelta(days=20)).isoformat(),
        "fee": {"amount": 120, "currency": "EUR"},
    })
    assert response.status_code == 201, response.text
    return course, response.json()


async def listed(client, offering_id: str, **expected: Any) -> dict[str, Any] | None:
    """The offering as a node's search shows it, once it shows it with these values."""
    found = (await client.get("/offerings", params={"page_size": 100})).json()["items"]
    item = next((item for item in found if item["id"] == offering_id), None)
    if item is not None and all(item[name] == value for name, value in expected.items()):
        return item
    return None


async def dead_letters(stack: Stack, key: str) -> list[str]:
    """The reasons of the dead letters of a node's gateway (on the node's own cluster) for messages with this key."""
    records = await read_topic(stack, dead_letter_topic("alliance"), until=lambda rs: any(r.key == key.encode() for r in rs))
    return [header(record, "x-dead-letter-reason") or "" for record in records if record.key == key.encode()]


async def test_a_course_offered_at_a_is_in_bs_catalogue_under_as_university_with_places_and_a_link_to_a(alliance):
    a, b, stack = alliance.a, alliance.b, alliance.nodes["saarland"].stack
    course, offering = await offered(a, stack, description(SAARLAND, title=f"Hydrogen Valleys {uuid.uuid4().hex[:6]}"))
    alliance.offering = offering

    item = await eventually(lambda: listed(b, offering["id"]), timeout=WAIT)
    page_url = f"{alliance.urls['saarland']}/catalogue/{offering['id']}"
    assert (item["node"], item["university"], item["country"]) == ("saarland", "Universität des Saarlandes", "DE")
    assert (item["registration_url"], item["places_left"], item["capacity"]) == (page_url, 2, 2)
    assert item["opened_by"] is None, "who opened it stays at A"
    assert item["description"]["title"] == course["description"]["title"] and item["open_for_registration"]
    # B's own offerings are B's; A's appear beside them with the same filters.
    assert await listed(b, offering["id"]) and (await b.get("/offerings", params={"university": "uni-saarland"})).json()["total"] >= 1
    assert (await b.get("/offerings", params={"university": "uni-silesia", "q": course["description"]["title"]})).json()["total"] == 0
    assert (await b.get(f"/offerings/{offering['id']}")).json()["university"] == "Universität des Saarlandes"

    courses = (await b.get("/alliance/courses", params={"q": course["description"]["title"]})).json()
    assert [(c["course_id"], c["node"], c["university"]) for c in courses["items"]] == [
        (course["id"], "saarland", "Universität des Saarlandes")
    ]

    page = (await b.get("/catalogue", params={"q": course["description"]["title"]})).text
    assert html.escape(course["description"]["title"]) in page and "Universität des Saarlandes (Germany)" in page
    assert f'href="{page_url}"' in page, "B's catalogue page sends the learner to register at A"
    # The link is A's front end's page of the offering; A here is its catalogue alone, whose own page is beside it.
    at_a = await a.get(f"/catalogue/offerings/{offering['id']}")
    assert at_a.status_code == 200 and "at this node" in at_a.text and html.escape(course["description"]["title"]) in at_a.text

    # A learner of B's university takes a place at A: B's catalogue shows one place left.
    learner = stack.bearer(f"ana-{uuid.uuid4().hex[:6]}", Role.LEARNER, institution="uni-silesia", name="Ana Nowak",
                           email=f"ana.{uuid.uuid4().hex[:6]}@us.edu.pl", affiliation=[Affiliation.STUDENT])
    assert (await alliance.a_enrolment.post("/learners", headers=learner, json={})).status_code == 201

    async def placed() -> Any:
        response = await alliance.a_enrolment.post("/applications", headers=learner, json={"offering_id": offering["id"]})
        return response if response.status_code == 201 else None  # 409 until enrolment knows the offering

    await eventually(placed, timeout=WAIT)
    item = await eventually(lambda: listed(b, offering["id"], places_left=1), timeout=WAIT)
    assert (item["enrolled"], item["waitlisted"]) == (1, 0)
    assert (await eventually(lambda: listed(a, offering["id"], places_left=1)))["node"] == "saarland"


async def test_a_forged_listing_is_dead_lettered_at_b_with_the_reason_and_shows_nowhere(alliance):
    """A listing on A's topic can come only from A's principal (the broker's ACLs, tests/e2e/test_alliance_bus.py);
    here the cluster's administrator puts there what a compromised or mistaken A might: a listing claiming to come
    from B, and one of A's speaking for B's university."""
    real = await eventually(lambda: listed(alliance.b, alliance.offering["id"]), timeout=WAIT)
    forged_id, stolen_id = f"forged-{uuid.uuid4().hex[:6]}", f"stolen-{uuid.uuid4().hex[:6]}"
    listing = OfferingListed.model_validate(
        {name: value for name, value in real.items() if name in OfferingListed.model_fields}
        | {"node": "saarland", "offering_id": forged_id, "institutions": ["uni-saarland"]}
    )
    stolen = listing.model_copy(update={"offering_id": stolen_id, "institution": "uni-silesia"})
    topic = alliance_catalogue_topic("saarland")
    for event, source in ((listing, node_uri("silesia")), (stolen, node_uri("saarland"))):
        await produce(alliance.stack, topic, CloudEvent.wrap(event, source=source).to_bytes(), event.key)

    b = alliance.nodes["silesia"].stack
    [claimed] = await dead_letters(b, listing.key)
    assert f"on topic {topic} claims the source '{node_uri('silesia')}'; only the node saarland" in claimed
    [speaks] = await dead_letters(b, stolen.key)
    assert "speaks for uni-silesia (University of Silesia in Katowice), which node silesia hosts, not node saarland" in speaks
    for offering_id in (forged_id, stolen_id):
        assert (await alliance.b.get(f"/offerings/{offering_id}")).status_code == 404
    # Counted where B's operators look: the gateway's metrics, by the topic they came on.
    async def counted() -> bool:
        text = (await alliance.gateways["silesia"].get("/metrics")).text
        return sample(text, "mc_dead_lettered_total", topic=f"{alliance.stack.topic_prefix}{topic}") == 2

    await eventually(counted)
    metrics = (await alliance.b.get("/metrics")).text  # B's catalogue saw nothing to refuse: the gateway kept it out.
    assert "mc_dead_lettered_total{" not in metrics
    bus = (await alliance.gateways["silesia"].get("/bus")).json()
    assert (bus["node"], bus["connected"], bus["members"], bus["outbox_backlog"]) == (
        "silesia", True, ["primorska", "saarland"], 0
    )


async def test_a_node_started_empty_shows_the_whole_alliances_catalogue(alliance):
    b, b_stack = alliance.b, alliance.nodes["silesia"].stack
    _, theirs = await offered(b, b_stack, description(SILESIA, title=f"Post-Mining Landscapes {uuid.uuid4().hex[:6]}"))
    a_stack = alliance.nodes["saarland"].stack
    course_id = alliance.offering["course_id"]
    programme = await alliance.a.post("/programmes", headers=designer(a_stack, "uni-saarland"), json={
        "title": f"Energy Transition {uuid.uuid4().hex[:6]}", "awarding_bodies": [SAARLAND],
        "rule": {"kind": "all-of", "course_ids": [course_id]},
    })
    assert programme.status_code == 201, programme.text
    programme_id = programme.json()["id"]
    await alliance.a.post(f"/programmes/{programme_id}/submit", headers=designer(a_stack, "uni-saarland"))
    assert (await alliance.a.post(f"/programmes/{programme_id}/approve", headers=qa_officer(a_stack, "uni-saarland"))).status_code == 200
    await eventually(lambda: listed(alliance.a, theirs["id"], university="University of Silesia in Katowice"), timeout=WAIT)

    c = await alliance.start_c()

    mine = await eventually(lambda: listed(c, alliance.offering["id"], places_left=1), timeout=WAIT)
    assert (mine["university"], mine["registration_url"]) == (
        "Universität des Saarlandes", f"{alliance.urls['saarland']}/catalogue/{alliance.offering['id']}"
    )
    assert (await eventually(lambda: listed(c, theirs["id"]), timeout=WAIT))["country"] == "PL"

    async def programme_at_c() -> Any:
        found = (await c.get("/alliance/programmes", params={"university": "uni-saarland"})).json()["items"]
        return next((p for p in found if p["programme_id"] == programme_id), None)

    shown = await eventually(programme_at_c, timeout=WAIT)
    assert (shown["node"], shown["university"], shown["rule"]["course_ids"]) == ("saarland", "Universität des Saarlandes", [course_id])
    page = (await c.get("/catalogue")).text
    assert f'id="offering-{theirs["id"]}"' in page and f'id="programme-{programme_id}"' in page


async def test_a_member_dropped_from_the_registry_disappears_and_what_still_comes_from_it_is_refused(alliance):
    b_offering = next(
        item for item in (await alliance.a.get("/offerings", params={"page_size": 100})).json()["items"]
        if item["node"] == "silesia"
    )
    publish(alliance.registry, alliance_registry(alliance.stack, alliance.urls, serial=2, without="silesia"), ALLIANCE_KEY)

    async def gone() -> bool:
        return (await alliance.a.get(f"/offerings/{b_offering['id']}")).status_code == 404

    await eventually(gone, timeout=WAIT)
    # The secretariat has not taken B's rights away yet: what B still publishes reaches A's gateway, which refuses it.
    late = OfferingListed.model_validate(
        {name: value for name, value in b_offering.items() if name in OfferingListed.model_fields}
        | {"node": "silesia", "offering_id": f"late-{uuid.uuid4().hex[:6]}", "institutions": ["uni-silesia"]}
    )
    await produce(alliance.stack, alliance_catalogue_topic("silesia"), CloudEvent.wrap(late, source=node_uri("silesia")).to_bytes(), late.key)
    [reason] = await dead_letters(alliance.nodes["saarland"].stack, late.key)
    assert f"topic {alliance_catalogue_topic('silesia')} belongs to no member: 'silesia' is not a node of Transform4Europe (registry serial 2)" in reason
    assert json.loads((await alliance.a.get(f"/offerings/{alliance.offering['id']}")).text)["node"] == "saarland"
