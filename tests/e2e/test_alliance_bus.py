"""The alliance bus, as the broker enforces it, with kcat (librdkafka, the documented settings) and each node's own
credentials as the secretariat's command made them from the signed registry: a node writes under its own name and no
other, and reads what is addressed to it and no one else's."""

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.journey import Node
from shared.events import CloudEvent
from shared.events.alliance import CourseDelisted
from tests.alliance import alliance_key, publish, three_nodes, write_public_key
from tests.stack import Stack, kafka_security

pytestmark = pytest.mark.e2e

REFUSED = "Broker: Topic authorization failed"


@pytest.fixture(scope="module")
def bus(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Node:
    """The alliance bus of three nodes, made by `python -m deploy.kafka_security alliance` from a signed registry;
    kcat reaches it as any of the nodes' principals (`<prefix><node-id>`)."""
    folder = tmp_path_factory.mktemp("alliance-bus")
    key = alliance_key()
    urls = {node: f"https://mc.{node}.example.eu" for node in ("saarland", "silesia", "primorska")}
    registry = folder / "alliance-registry.json"
    publish(registry, three_nodes(urls, stack.topic_prefix, issued=datetime.now(UTC) - timedelta(minutes=1)), key)
    credentials = folder / "bus"
    kafka_security(stack, "alliance", "--registry", str(registry),
                   "--public-key", str(write_public_key(folder / "alliance-public.json", key)), "--dir", str(credentials))
    return Node(urls={}, kafka=stack.kafka, maildir=stack.maildir, auth_key=stack.auth_private_key,
                topic_prefix=stack.topic_prefix, kafka_credentials=credentials)


def listing(node: str) -> tuple[str, str]:
    """A listing as a node's gateway publishes it: key and CloudEvent."""
    event = CourseDelisted(node=node, course_id=f"course-{uuid.uuid4().hex[:6]}", reason="retired")
    return event.key, CloudEvent.wrap(event, source=f"urn:microcredentials:node:{node}").to_bytes().decode()


def read_with_kcat(bus: Node, principal: str, topic: str) -> subprocess.CompletedProcess[str]:
    """Everything on a topic, read with kcat as the principal, up to its end."""
    return subprocess.run(
        ["kcat", "-F", str(bus.kcat_config(principal)), "-b", bus.kafka, "-C", "-t", f"{bus.topic_prefix}{topic}",
         "-o", "beginning", "-e", "-q", "-f", "%k\n"],
        capture_output=True, text=True, timeout=60,
    )


def test_a_node_cannot_write_under_another_nodes_name(bus: Node):
    silesia = f"{bus.topic_prefix}silesia"
    key, value = listing("saarland")
    refused = bus.produce_with_kcat("alliance.saarland.catalogue", key, value, principal=silesia, check=False)
    assert refused.returncode != 0 and REFUSED in refused.stderr, refused.stderr

    # Nor under a third node's name, nor on what another node addresses to it: the same refusal, from the broker.
    for topic in ("alliance.primorska.catalogue", "alliance.saarland.to.silesia"):
        other = bus.produce_with_kcat(topic, key, value, principal=silesia, check=False)
        assert other.returncode != 0 and REFUSED in other.stderr, (topic, other.stderr)

    # The same kcat and message as the node whose name it is: accepted, and read by a member.
    bus.produce_with_kcat("alliance.saarland.catalogue", key, value, principal=f"{bus.topic_prefix}saarland")
    read = read_with_kcat(bus, silesia, "alliance.saarland.catalogue")
    assert read.returncode == 0 and key in read.stdout.split(), read.stderr
    assert json.loads(value)["source"] == "urn:microcredentials:node:saarland"


def test_what_a_node_addresses_to_a_partner_is_read_by_that_partner_alone(bus: Node):
    saarland, silesia, primorska = (f"{bus.topic_prefix}{node}" for node in ("saarland", "silesia", "primorska"))
    key = f"for-silesia-{uuid.uuid4().hex[:6]}"
    bus.produce_with_kcat("alliance.saarland.to.silesia", key, json.dumps({"to": "silesia"}), principal=saarland)

    addressed = read_with_kcat(bus, silesia, "alliance.saarland.to.silesia")
    assert addressed.returncode == 0 and key in addressed.stdout.split(), addressed.stderr
    overheard = read_with_kcat(bus, primorska, "alliance.saarland.to.silesia")
    assert key not in overheard.stdout and REFUSED in overheard.stderr, (overheard.stdout, overheard.stderr)


def test_the_secretariat_hands_each_node_its_credentials_readable_by_its_owner_only(bus: Node):
    files = sorted(Path(bus.kafka_credentials or "").glob("*.properties"))
    assert [file.name for file in files] == [f"{bus.topic_prefix}{node}.properties" for node in ("primorska", "saarland", "silesia")]
    assert all(file.stat().st_mode & 0o077 == 0 for file in files)
