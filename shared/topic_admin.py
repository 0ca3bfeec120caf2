"""Creates the node's topics with enough partitions to scale a service out, before anything produces to them.

Left to broker auto-creation, a topic gets the broker's default partition count the first time any client asks for it.
"""

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events import Topic, dead_letter_topic, topic_name
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


def node_topics(settings: ServiceSettings) -> list[str]:
    return [topic_name(topic, settings.topic_prefix) for topic in Topic] + [
        dead_letter_topic(settings.service_name, settings.topic_prefix)
    ]


async def ensure_topics(settings: ServiceSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        missing = set(node_topics(settings)) - set(await admin.list_topics())
        if not missing:
            return
        response = await admin.create_topics(
            [
                NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=settings.topic_replication)
                for name in sorted(missing)
            ]
        )
        for name, code, message in response.topic_errors:
            # Another service may have created it meanwhile.
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"cannot create topic {name}: {message} (error {code})")
            if code == 0:
                log.info("created topic %s with %d partitions", name, settings.topic_partitions)
    finally:
        await admin.close()
