"""Kafka topics: one per producing service and aggregate, several event types per topic, keyed by aggregate id.

LMSs are the exception: each LMS writes grade submissions onto a topic of its own, `mc.lms.<lms-id>.grade-submissions`,
which only its Kafka principal may write (deploy/kafka_security.py), so the broker itself tells which LMS sent a
submission. The enum holds that family as a template; `lms_topic` names one LMS's topic.

The alliance bus (the alliance's cluster, shared by its nodes; see services/alliance) is not the node's and is not in
the enum: each node writes only under its own name, `alliance.<node-id>.` (a prefixed ACL), its public catalogue on
`alliance.<node-id>.catalogue` and, for the messages it addresses to one partner, `alliance.<node-id>.to.<partner-id>`
(which only that partner may read). Addressed messages (shared/events/alliance.py) go out and come in through the
gateway: a service of the node writes one on `mc.alliance.outgoing`, the gateway sends it on
`alliance.<node-id>.to.<partner-id>`; the partner's gateway checks who sent it and to whom, and re-publishes it on its
node's `mc.alliance.incoming`, where the partner's services read it.

Topics that hold the current state of things, one message per key (listings, places left), are compacted: a node
that starts empty reads the whole current state from them, however old (`is_compacted`).
"""

import re
from collections.abc import Iterable
from enum import StrEnum


class Topic(StrEnum):
    COURSES = "mc.catalogue.courses"
    OFFERINGS = "mc.catalogue.offerings"
    PROGRAMMES = "mc.catalogue.programmes"
    ENROLMENTS = "mc.enrolment.enrolments"
    # Places taken and left per offering: public counts, no one's name (compacted, keyed by offering).
    AVAILABILITY = "mc.enrolment.availability"
    # Inbound: grade submissions, one topic per LMS. Untrusted until assessment has validated them.
    GRADE_SUBMISSIONS = "mc.lms.{lms}.grade-submissions"
    GRADES = "mc.assessment.grades"
    CREDENTIALS = "mc.certification.credentials"
    NOTIFICATIONS = "mc.notifications.deliveries"
    # The alliance members' listings this node's gateway accepted from the alliance bus, re-published inside the node
    # (compacted, keyed by listing).
    ALLIANCE_LISTINGS = "mc.alliance.listings"
    # Messages this node's services address to one partner node (shared/events/alliance.py AddressedMessage), for the
    # gateway to send on `alliance.<this node>.to.<partner>`.
    ALLIANCE_OUTGOING = "mc.alliance.outgoing"
    # Messages partner nodes addressed to this node, accepted by its gateway (sender and recipient checked).
    ALLIANCE_INCOMING = "mc.alliance.incoming"


# The alliance bus: one catalogue topic per node, written by that node's principal only.
ALLIANCE_CATALOGUE = "alliance.{node}.catalogue"
# The alliance bus: what node `node` addresses to node `recipient` alone.
ADDRESSED = "alliance.{node}.to.{recipient}"
# A node id is one topic-name segment, as the registry's pattern for node ids says.
NODE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
COMPACTED = frozenset({Topic.AVAILABILITY, Topic.ALLIANCE_LISTINGS})


# An LMS id is one topic-name segment: lower-case letters, digits and dashes.
LMS_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_PARAMETER = re.compile(r"\{[a-z_]+\}")


def topic_name(topic: str, prefix: str = "") -> str:
    """The name on the cluster; the prefix isolates a node or a test run sharing one cluster."""
    return f"{prefix}{topic}"


def dead_letter_topic(service_name: str, prefix: str = "") -> str:
    """Each consuming service has its own dead-letter topic, so a replay goes back to that service only."""
    return f"{prefix}mc.{service_name}.dead-letter"


def is_family(topic: str) -> bool:
    """A template such as `mc.lms.{lms}.grade-submissions`: one topic per value of its parameter."""
    return bool(_PARAMETER.search(topic))


def family_prefix(topic: str, prefix: str = "") -> str:
    """What every topic of a family starts with (the name of a prefixed ACL), e.g. `mc.lms.`."""
    return topic_name(topic[: _PARAMETER.search(topic).start()], prefix)  # type: ignore[union-attr]


def subscription_pattern(topics: Iterable[str], prefix: str = "") -> str:
    """A regular expression matching exactly these topics under the prefix, a family standing for all its topics."""
    alternatives = []
    for topic in topics:
        parts = _PARAMETER.split(topic_name(topic, prefix))
        alternatives.append(r"[a-z0-9-]+".join(re.escape(part) for part in parts))
    return f"^(?:{'|'.join(alternatives)})$"


def lms_topic(lms_id: str, prefix: str = "") -> str:
    """The topic that LMS `lms_id`, and only it, writes its grade submissions onto."""
    if not LMS_ID.fullmatch(lms_id):
        raise ValueError(f"LMS id {lms_id!r}: lower-case letters, digits and dashes only, at most 63")
    return topic_name(Topic.GRADE_SUBMISSIONS.format(lms=lms_id), prefix)


def lms_of_topic(topic: str, prefix: str = "") -> str | None:
    """The LMS whose topic this is, or None for any other topic."""
    head, tail = Topic.GRADE_SUBMISSIONS.split("{lms}")
    head = topic_name(head, prefix)
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    lms_id = topic[len(head) : -len(tail)]
    return lms_id if LMS_ID.fullmatch(lms_id) else None


def lms_source(lms_id: str) -> str:
    """The CloudEvents `source` an LMS's events carry."""
    return f"urn:microcredentials:lms:{lms_id}"


def lms_of_source(source: str) -> str | None:
    """The LMS a CloudEvents `source` names, or None when it names no LMS."""
    lms_id = source.removeprefix(lms_source(""))
    return lms_id if lms_id != source and LMS_ID.fullmatch(lms_id) else None


def alliance_prefix(node_id: str, prefix: str = "") -> str:
    """Everything node `node_id` may write on the alliance bus starts with this (its prefixed ACL)."""
    if not NODE_ID.fullmatch(node_id):
        raise ValueError(f"node id {node_id!r}: lower-case letters, digits and dashes only")
    return topic_name(f"alliance.{node_id}.", prefix)


def alliance_catalogue_topic(node_id: str, prefix: str = "") -> str:
    """Where node `node_id` publishes its public catalogue for the alliance."""
    return f"{alliance_prefix(node_id, prefix)}catalogue"


def addressed_topic(sender: str, recipient: str, prefix: str = "") -> str:
    """Messages node `sender` addresses to node `recipient` alone (only the recipient may read them)."""
    alliance_prefix(recipient)
    return f"{alliance_prefix(sender, prefix)}to.{recipient}"


def addressed_of_topic(topic: str, prefix: str = "") -> tuple[str, str] | None:
    """(sender, recipient) of an addressed-message topic, or None for any other topic."""
    head = topic_name("alliance.", prefix)
    if not topic.startswith(head):
        return None
    sender, separator, recipient = topic[len(head) :].partition(".to.")
    if separator and NODE_ID.fullmatch(sender) and NODE_ID.fullmatch(recipient):
        return sender, recipient
    return None


def addressed_to(node_id: str, prefix: str = "") -> str:
    """A subscription pattern for every topic of messages addressed to node `node_id` by another node."""
    head = re.escape(topic_name("alliance.", prefix))
    return f"^{head}(?!{re.escape(node_id)}\\.){NODE_ID.pattern}\\.to\\.{re.escape(node_id)}$"


def gateway_subscription(node_id: str, prefix: str = "") -> str:
    """What node `node_id`'s gateway reads on the alliance bus: the other members' catalogues and what they address
    to it."""
    return f"(?:{other_catalogues(node_id, prefix)})|(?:{addressed_to(node_id, prefix)})"


def alliance_group(node_id: str, prefix: str = "") -> str:
    """The consumer group in which node `node_id`'s gateway reads the alliance bus (its own, not shared)."""
    return f"{alliance_prefix(node_id, prefix)}gateway"


def other_catalogues(node_id: str, prefix: str = "") -> str:
    """A subscription pattern for every node's catalogue topic but node `node_id`'s own (which it may see, as it
    writes there, but not read)."""
    head, tail = ALLIANCE_CATALOGUE.split("{node}")
    return f"^{re.escape(topic_name(head, prefix))}(?!{re.escape(node_id)}{re.escape(tail)}$){NODE_ID.pattern}{re.escape(tail)}$"


def node_of_alliance_catalogue(topic: str, prefix: str = "") -> str | None:
    """The node whose catalogue topic this is, or None for any other topic."""
    head, tail = ALLIANCE_CATALOGUE.split("{node}")
    head = topic_name(head, prefix)
    if not (topic.startswith(head) and topic.endswith(tail)):
        return None
    node_id = topic[len(head) : -len(tail)]
    return node_id if NODE_ID.fullmatch(node_id) else None


def is_compacted(topic: str) -> bool:
    """Whether a topic (named without the deployment's prefix) keeps the latest message per key for ever."""
    return topic in COMPACTED or node_of_alliance_catalogue(topic) is not None
