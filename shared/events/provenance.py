"""Which events a consumer believes: a topic carries only the event types its producer publishes, from that producer.

Kafka's ACLs decide who may write to a topic; this is the other half, checked on every message a service consumes:
what arrives on a topic must be a type its producer publishes (as the contracts say: each event class names its
topic), and its CloudEvents `source` must be that producer. A fact on the wrong topic, or under another name, is
dead-lettered with the rule it broke and changes nothing.

| topic | producer | expected `source` |
|---|---|---|
| `mc.<service>.<aggregate>` (the node's own topics) | that service of this node | this node (`NODE_URI`) |
| `mc.lms.<lms-id>.grade-submissions` | the LMS `<lms-id>` | `urn:microcredentials:lms:<lms-id>` |
| `alliance.<node-id>.catalogue` (the alliance bus) | node `<node-id>` of the alliance | that node's `event_source` in the alliance registry |
| `alliance.<node-id>.to.<partner-id>` (the alliance bus) | node `<node-id>`: messages addressed to one partner | that node's `event_source` in the alliance registry |
| `mc.alliance.outgoing` | any service of this node: messages it addresses to a partner | this node (`NODE_URI`) |

On the alliance bus the registry in use says who a node is; without one (or for a node it does not list) nothing
there is believed. A node the registry in use does not list raises NodeNotInRegistry: it may be a node that just
joined, whose listings arrive before this node has reloaded the registry (the alliance gateway holds them meanwhile).
`mc.alliance.listings` is a topic of this node like the others: its gateway re-publishes there, as this node, what it
accepted from the members.

Another major version of a type a topic carries (a producer publishing `.v2` beside `.v1`) belongs there too.
"""

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.events.envelope import EVENT_TYPES, CloudEvent, InvalidEvent, cached_until_a_contract_registers
from shared.events.topics import (
    Topic,
    addressed_of_topic,
    is_family,
    lms_of_topic,
    lms_source,
    node_of_alliance_catalogue,
)

if TYPE_CHECKING:
    from shared.alliance import AllianceRegistry, Node


@dataclass(frozen=True)
class Provenance:
    """Who may speak on a topic: the producer (in words, for the reasons), its CloudEvents source, the type families."""

    producer: str
    source: str
    families: frozenset[str]


class NodeNotInRegistry(InvalidEvent):
    """An event on an alliance topic (a catalogue or an addressed one) of a node the registry in use does not list
    (or not yet)."""

    def __init__(self, message: str, node: str) -> None:
        super().__init__(message)
        self.node = node


def _family(event_type: str) -> str:
    return re.sub(r"\.v\d+$", "", event_type)


@cached_until_a_contract_registers(maxsize=256)
def _families(topic: Topic) -> frozenset[str]:
    """The types a topic carries: those whose contract names it, and those relayed on it (addressed messages leaving
    the node, whose contract names the topic they arrive on). Asked for every message consumed: computed once per
    topic."""
    return frozenset(
        _family(name)
        for name, event_class in EVENT_TYPES.items()
        if topic in (event_class.topic, getattr(event_class, "relayed_on", None))
    )


def _member_node(topic: str, node_id: str, registry: "AllianceRegistry | None") -> "Node":
    if registry is None:
        raise InvalidEvent(f"topic {topic} is on the alliance bus, and this node follows no alliance registry")
    try:
        return registry.node(node_id)
    except LookupError as unknown:
        raise NodeNotInRegistry(f"topic {topic} belongs to no member: {unknown}", node_id) from None


def provenance(topic: str, node_uri: str, registry: "AllianceRegistry | None" = None) -> Provenance | None:
    """What a topic (named without the deployment's prefix) may carry; None for a topic no producer owns.
    InvalidEvent, naming what is missing, for an alliance topic of a node the registry in use does not list."""
    if (node_id := node_of_alliance_catalogue(topic)) is not None:
        node = _member_node(topic, node_id, registry)
        return Provenance(f"the node {node_id}", node.event_source, _families(Topic.ALLIANCE_LISTINGS))
    if (addressed := addressed_of_topic(topic)) is not None:
        node = _member_node(topic, addressed[0], registry)
        return Provenance(f"the node {node.id}", node.event_source, _families(Topic.ALLIANCE_INCOMING))
    if topic == Topic.ALLIANCE_OUTGOING:
        return Provenance("the services of this node", node_uri, _families(Topic.ALLIANCE_OUTGOING))
    if (lms := lms_of_topic(topic)) is not None:
        # Only LMS x may write LMS x's topic (the broker's ACLs); its events must say they come from LMS x.
        return Provenance(f"the LMS {lms}", lms_source(lms), _families(Topic.GRADE_SUBMISSIONS))
    if topic in _node_topics():
        service = topic.split(".")[1]
        return Provenance(f"the {service} service of this node", node_uri, _families(Topic(topic)))
    return None


@functools.cache
def _node_topics() -> frozenset[str]:
    """The node's own topics (not a family's): asked for every message consumed, so listed once."""
    return frozenset(known.value for known in Topic if not is_family(known))


def check(topic: str, envelope: CloudEvent, node_uri: str, registry: "AllianceRegistry | None" = None) -> None:
    """InvalidEvent naming the topic, the type and the rule, unless the event belongs on the topic. `registry`, the
    alliance registry in use, says who speaks on the alliance bus."""
    try:
        expected = provenance(topic, node_uri, registry)
    except NodeNotInRegistry as unknown:
        raise NodeNotInRegistry(f"{unknown}; {envelope.type} from {envelope.source} is not believed", unknown.node) from None
    except InvalidEvent as unknown:
        raise InvalidEvent(f"{unknown}; {envelope.type} from {envelope.source} is not believed") from None
    if expected is None:
        raise InvalidEvent(f"topic {topic} has no known producer; {envelope.type} from {envelope.source} is not believed")
    if _family(envelope.type) not in expected.families:
        raise InvalidEvent(
            f"{envelope.type} does not belong on topic {topic}: the topic carries only what {expected.producer} "
            f"publishes ({', '.join(sorted(expected.families))})"
        )
    if envelope.source != expected.source:
        raise InvalidEvent(
            f"{envelope.type} on topic {topic} claims the source {envelope.source!r}; only {expected.producer} "
            f"({expected.source}) publishes there"
        )
