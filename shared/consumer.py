"""At-least-once, idempotent consumption of events, with retries and a dead-letter topic.

Offsets are committed only after a message has been handled, in batches (FastStream's default would commit first and
lose the message on a crash). Handling means: in one transaction, record the event id (a redelivery stops there), apply the handler's
effect, write what it publishes to the outbox. A message that cannot be parsed, or still fails after the retries,
goes to the dead-letter topic with the reason and the consumer moves on.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind

from shared.db import UnitOfWork
from shared.dead_letters import DeadLetters
from shared.events import CloudEvent, Event, InvalidEvent, Topic, is_known_kind, parse_data, parse_envelope, topic_name
from shared.metrics import ServiceMetrics
from shared.settings import ServiceSettings
from shared.tracing import context_from_traceparent, tracer

log = logging.getLogger(__name__)

Handler = Callable[[Any, CloudEvent, UnitOfWork], Awaitable[None]]


class Unprocessable(Exception):
    """Raised by a handler for a message that no retry will fix; it goes straight to the dead-letter topic."""


class OffsetCommits:
    """Commits the offsets of handled messages in batches: every `every` messages, and at least every `interval` s.

    A commit per message costs a broker round trip and halved the consumer's throughput (bench/bench_events.py).
    Committing later only means that after a crash a few handled messages come again, and the idempotency claim
    turns those into no-ops. Only offsets of messages already handled are ever committed.
    """

    def __init__(self, every: int = 200, interval: float = 0.2) -> None:
        self._every, self._interval = every, interval
        self._handled: dict[TopicPartition, int] = {}
        self._since_commit = 0
        self._consumer: Any = None
        self._flusher: asyncio.Task[None] | None = None

    async def handled(self, message: KafkaMessage) -> None:
        record = message.raw_message
        self._consumer = message.consumer
        self._handled[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self._since_commit += 1
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically(), name="offset-commits")
        if self._since_commit >= self._every:
            await self.flush()

    async def flush(self) -> None:
        if not self._handled or self._consumer is None:
            return
        offsets, self._handled, self._since_commit = self._handled, {}, 0
        try:
            await self._consumer.commit(offsets)
        except Exception as error:  # A rebalance took the partition: its new owner re-reads, idempotently.
            log.info("offsets not committed (%r); those messages may be delivered again", error)

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        await self.flush()


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        unit_of_work: Callable[[], UnitOfWork],
        handlers: dict[type[Event], Handler],
        topics: Iterable[Topic],
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._unit_of_work = unit_of_work
        self._handlers = {event_class.type: handler for event_class, handler in handlers.items()}
        self._topics = [topic_name(topic, settings.topic_prefix) for topic in topics]
        self._dead_letters: DeadLetters | None = None
        self._commits = OffsetCommits()
        self.metrics = metrics

    def subscribe(self, broker: KafkaBroker) -> None:
        self._dead_letters = DeadLetters(
            broker, self._settings.service_name, self._settings.topic_prefix, self._settings.consumer_group
        )
        broker.subscriber(
            *self._topics,
            group_id=self._settings.consumer_group,
            # Offsets are committed here, after handling (OffsetCommits), never before: FastStream's default would
            # commit on receipt and lose the message on a crash.
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
        )(self.on_message)

    async def on_message(self, message: KafkaMessage) -> None:
        try:
            outcome, event_type = await self._consume(message)
        except BaseException:
            # Not handled (shutdown, or the dead-letter topic unreachable): seek back so that it comes again.
            await message.nack()
            raise
        await self._commits.handled(message)
        if self.metrics:
            record = message.raw_message
            self.metrics.events_consumed.labels(event_type, outcome).inc()
            partition = TopicPartition(record.topic, record.partition)
            if (end := message.consumer.highwater(partition)) is not None:
                self.metrics.consumer_lag.labels(record.topic, str(record.partition)).set(max(end - record.offset - 1, 0))

    async def _consume(self, message: KafkaMessage) -> tuple[str, str]:
        """Handle one message; returns its outcome and type, for the metrics."""
        try:
            envelope = parse_envelope(message.body)
            handler = self._handlers.get(envelope.type)
            if handler is None and is_known_kind(envelope.type):
                return "skipped", envelope.type  # Another service's concern, or a version this code cannot read yet.
            event = parse_data(envelope)
        except InvalidEvent as error:
            await self._dead_letter(message, str(error))
            return "dead-lettered", "invalid"
        assert handler is not None
        with tracer(__name__).start_as_current_span(
            f"{self._settings.service_name} consume {envelope.type}",
            context=context_from_traceparent(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.message.id": envelope.id},
        ):
            return await self._handle_with_retries(message, handler, envelope, event), envelope.type

    async def _handle_with_retries(
        self, message: KafkaMessage, handler: Handler, envelope: CloudEvent, event: Event
    ) -> str:
        attempts = self._settings.consumer_max_attempts
        for attempt in range(1, attempts + 1):
            try:
                async with self._unit_of_work() as uow:
                    if not await uow.claim(envelope):
                        return "redelivered"
                    await handler(event, envelope, uow)
                    await uow.commit()
                return "handled"
            except Unprocessable as error:
                await self._dead_letter(message, f"{envelope.type} {envelope.id}: {error}")
                return "dead-lettered"
            except Exception as error:  # Transient until proven otherwise: the database or broker may be back soon.
                if attempt == attempts:
                    reason = f"{envelope.type} {envelope.id}: failed {attempts} times, last: {error!r}"
                    await self._dead_letter(message, reason)
                    return "dead-lettered"
                delay = min(self._settings.consumer_backoff_seconds * 2 ** (attempt - 1), 30.0)
                log.warning("handling %s failed (attempt %d), retrying in %.1fs: %r", envelope.id, attempt, delay, error)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        """Commit what was handled; called when the service stops."""
        await self._commits.close()

    async def _dead_letter(self, message: KafkaMessage, reason: str) -> None:
        assert self._dead_letters is not None, "subscribe() first"
        await self._dead_letters.send(message, reason)
        if self.metrics:
            self.metrics.dead_lettered.labels(message.raw_message.topic).inc()
