"""The dead-letter topic: where a message goes that its consumer cannot process, with the reason in its headers.

The original value, key and headers are kept as they were, so `python -m shared.dead_letters replay` can put the
messages back on their original topic once the cause is fixed. A replay writes onto other services' and LMSs' topics,
which no service's principal may do, so it runs as the node's administrator (the credentials `deploy/infra.sh` writes
into `.run/env`).
"""

import argparse
import asyncio
import logging
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker

from shared.events import dead_letter_topic
from shared.kafka import client_options
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

REASON = "x-dead-letter-reason"
ORIGINAL_TOPIC = "x-dead-letter-original-topic"
ORIGINAL_PARTITION = "x-dead-letter-original-partition"
ORIGINAL_OFFSET = "x-dead-letter-original-offset"
CONSUMER_GROUP = "x-dead-letter-consumer-group"
DEAD_LETTERED_AT = "x-dead-letter-time"
DEAD_LETTER_HEADERS = (REASON, ORIGINAL_TOPIC, ORIGINAL_PARTITION, ORIGINAL_OFFSET, CONSUMER_GROUP, DEAD_LETTERED_AT)


class DeadLetters:
    def __init__(self, broker: KafkaBroker, service_name: str, topic_prefix: str, consumer_group: str) -> None:
        self._broker = broker
        self._group = consumer_group
        self.topic = dead_letter_topic(service_name, topic_prefix)

    async def send(self, record: ConsumerRecord, reason: str) -> None:
        original_headers = {name: value.decode(errors="replace") for name, value in record.headers}
        headers = original_headers | {
            REASON: reason[:4000],
            ORIGINAL_TOPIC: record.topic,
            ORIGINAL_PARTITION: str(record.partition),
            ORIGINAL_OFFSET: str(record.offset),
            CONSUMER_GROUP: self._group,
            DEAD_LETTERED_AT: datetime.now(UTC).isoformat(),
        }
        await self._broker.publish(record.value or b"", self.topic, key=record.key, headers=headers)
        # After the publish: a send retried while Kafka is away is logged once, when it is done.
        log.warning("dead-lettered %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)


async def replay(settings: ServiceSettings, service_name: str) -> int:
    """Put every dead-lettered message of a service back on its original topic, once; returns how many.

    `settings` name the cluster, the topic prefix and a principal that may read the dead-letter topic and write the
    original topics (the node's administrator).
    """
    topic_prefix = settings.topic_prefix
    topic = dead_letter_topic(service_name, topic_prefix)
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=f"{topic_prefix}mc-{service_name}-dead-letter-replay",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            for records in batch.values():
                for record in records:
                    headers = [(k, v) for k, v in record.headers if k not in DEAD_LETTER_HEADERS]
                    original = dict(record.headers)[ORIGINAL_TOPIC].decode()
                    await producer.send_and_wait(original, record.value, key=record.key, headers=headers)
                    replayed += 1
            await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return replayed


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay a service's dead-lettered messages onto their topics.")
    parser.add_argument("command", choices=["replay"])
    parser.add_argument("service", help="e.g. assessment")
    args = parser.parse_args()
    settings = ServiceSettings()
    count = asyncio.run(replay(settings, args.service))
    print(f"replayed {count} message(s) from {dead_letter_topic(args.service, settings.topic_prefix)}")


if __name__ == "__main__":
    main()
