"""The kit's Kafka roles: the auditor, who reads everything the node publishes from the moment the run starts (its
topics and its dead-letter topics), the LMS, who sends grade submissions onto its own topic, and, on the alliance bus,
the partner node (conformance/partner.py), who reads what the node addresses to it and answers."""

import asyncio
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.kafka import client_options
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Message:
    """One Kafka message as it was read: where, its key and headers, its bytes, and its JSON (None if not JSON)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    value: bytes

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def document(self) -> Any:
        try:
            return json.loads(self.value)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.value.decode(errors="replace")

    def field(self, path: str) -> Any:
        """A value in the document by dotted path ("data.learner.learner_id"); None where there is none."""
        value = self.document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value


class CannotRead(RuntimeError):
    """The auditor cannot read what it must (topics missing, or no right to them)."""


class EventLog:
    """What the auditor has read so far, in arrival order; filled in the background while the checks run."""

    def __init__(self, settings: ServiceSettings, topics: Iterable[str], dead_letters: str) -> None:
        self._settings = settings
        self.principal = settings.kafka_username or "(no principal)"
        self._topics = [settings.topic_prefix + topic for topic in topics]
        # A regular expression for the node's dead-letter topics (the prefix included), found among those it may read.
        self._dead_letters = re.compile(re.escape(settings.topic_prefix) + dead_letters)
        self.messages: list[Message] = []
        self.dead_letter_topics: list[str] = []
        self._arrived = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin at the end of every topic: what the node publishes from now on is read."""
        self._consumer = AIOKafkaConsumer(
            **client_options(self._settings), group_id=None, enable_auto_commit=False, auto_offset_reset="latest"
        )
        await self._consumer.start()
        visible = await self._consumer.topics()
        if missing := sorted(set(self._topics) - visible):
            raise CannotRead(
                f"the auditor {self.principal} cannot see topics {', '.join(missing)}: they do not exist, or it may not "
                "read them"
            )
        dead_letter_topics = sorted(topic for topic in visible if self._dead_letters.fullmatch(topic))
        # Named as the contract names them, without the node's prefix (as Message.topic).
        self.dead_letter_topics = [topic.removeprefix(self._settings.topic_prefix) for topic in dead_letter_topics]
        topics = set(self._topics + dead_letter_topics)
        # Without a consumer group every partition of the subscribed topics is assigned to this consumer; asking each
        # one's position fixes it at the partition's end now, before the kit makes the node publish anything.
        self._consumer.subscribe(sorted(topics))
        while {partition.topic for partition in self._consumer.assignment()} != topics:
            await asyncio.sleep(0.1)
        for partition in self._consumer.assignment():
            await self._consumer.position(partition)
        self._reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            if not batches:
                continue
            async with self._arrived:
                for records in batches.values():
                    self.messages.extend(
                        Message(
                            topic=record.topic.removeprefix(self._settings.topic_prefix),
                            partition=record.partition,
                            offset=record.offset,
                            key=record.key.decode(errors="replace") if record.key is not None else None,
                            headers={name: value.decode(errors="replace") for name, value in record.headers},
                            value=record.value or b"",
                        )
                        for record in records
                    )
                self._arrived.notify_all()

    def found(self, matches: Callable[[Message], bool]) -> list[Message]:
        return [message for message in self.messages if matches(message)]

    async def wait_for(self, matches: Callable[[Message], bool], timeout: float) -> Message | None:
        """The first message that matches, waiting up to `timeout` seconds for it; None if none came."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                while not (found := self.found(matches)):
                    await self._arrived.wait()
                return found[0]
        except TimeoutError:
            return None


class Producer:
    """Sends as one principal onto one topic: the LMS onto its own, the kit's partner node onto its topic to the node."""

    def __init__(self, settings: ServiceSettings, topic: str) -> None:
        self.principal = settings.kafka_username or "(no principal)"
        self.topic = topic
        self._producer = AIOKafkaProducer(**client_options(settings), acks="all")

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, key: str, value: bytes) -> str:
        """Where the broker put it ("topic[partition]@offset")."""
        metadata = await self._producer.send_and_wait(
            self.topic, value, key=key.encode(), headers=[("content-type", b"application/cloudevents+json")]
        )
        return f"{metadata.topic}[{metadata.partition}]@{metadata.offset}"
