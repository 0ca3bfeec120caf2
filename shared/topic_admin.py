"""The node's topics: which exist, created by the node's administrator with enough partitions to scale a service out.

Creating a topic is an administrative act (its partitions, its replication), so the broker lets only the node's
administrator do it: `python -m deploy.kafka_security init` creates every topic of the node, `lms add` an LMS's topic.
A service only checks at start that the topics it writes and reads are there, and says what to run if not.
"""

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.asyncapi import published_by
from shared.events import Topic, dead_letter_topic, topic_name
from shared.events.topics import is_compacted, is_family
from shared.kafka import client_options
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


# Services that address messages to partner nodes (shared/events/alliance.py AddressedMessage): they write them on
# the node's outgoing topic, from which the alliance gateway sends them.
ADDRESSING_SERVICES = frozenset({"catalogue", "certification"})


def published_topics(service_name: str) -> list[Topic]:
    """The topics a service publishes on, from its contracts (shared/events/<service>.py), and the outgoing topic of
    addressed messages for a service that sends them."""
    topics = {cls.topic for cls in published_by(service_name)}
    if service_name in ADDRESSING_SERVICES:
        topics.add(Topic.ALLIANCE_OUTGOING)
    return sorted(topics)


def node_topics(prefix: str, services: Iterable[str]) -> list[str]:
    """Every topic of a node but the LMSs' (each made when its LMS is registered), dead-letter topics included."""
    return [topic_name(topic, prefix) for topic in Topic if not is_family(topic)] + [
        dead_letter_topic(service, prefix) for service in services
    ]


def topic_config(name: str, prefix: str = "") -> dict[str, str]:
    """A compacted topic keeps the latest message of each key for ever (shared.events.topics.is_compacted)."""
    return {"cleanup.policy": "compact"} if is_compacted(name.removeprefix(prefix)) else {}


async def ensure_topics(settings: ServiceSettings, names: Iterable[str]) -> list[str]:
    """Create those of the topics that do not exist yet (a principal allowed to create them); returns the new ones."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        missing = set(names) - set(await admin.list_topics())
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=settings.topic_partitions,
                    replication_factor=settings.topic_replication,
                    topic_configs=topic_config(name, settings.topic_prefix),
                )
                for name in sorted(missing)
            ]
        )
        created = []
        for name, code, message in response.topic_errors:
            # Another administrator may have created it meanwhile.
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"cannot create topic {name}: {message} (error {code})")
            if code == 0:
                log.info("created topic %s with %d partitions %s", name, settings.topic_partitions, topic_config(name, settings.topic_prefix))
                created.append(name)
        return created
    finally:
        await admin.close()


async def check_topics(settings: ServiceSettings, names: Iterable[str]) -> None:
    """RuntimeError naming the topics that this process's principal cannot see (missing, or no right to them)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        missing = sorted(set(names) - set(await admin.list_topics()))
    finally:
        await admin.close()
    if missing:
        raise RuntimeError(
            f"Kafka topics {', '.join(missing)} do not exist or principal {settings.kafka_username or '(none)'} may "
            f"not use them; the node's administrator creates topics and rights with "
            f"`python -m deploy.kafka_security init` (TOPIC_PREFIX={settings.topic_prefix!r})"
        )
