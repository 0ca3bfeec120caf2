"""At-least-once, idempotent consumption of events, with retries and a dead-letter topic.

The consumer takes what is waiting on its topics in batches (up to `consumer_batch_size` messages). Handling a batch
means, in one transaction: for each event, record its id (a redelivery stops there), apply the handler's effect and
write what it publishes to the outbox; then one commit for all of them. If a message of the batch fails, that
transaction is rolled back and the batch is handled again one message per transaction, with retries, so that one bad
message costs only itself. A message that cannot be parsed, that a handler refuses (`Unprocessable`), or that still
fails after the retries, goes to the dead-letter topic with the reason and the consumer moves on.

An outage of the database or Kafka is never a message's failure (shared/failures.py says which is which): the
consumer keeps the batch it holds, takes nothing new from its partitions, and tries again with a capped backoff for
as long as the outage lasts, then goes on where it stopped. An error that names no outage counts against the message
only if the database answers right after it. Waiting longer than Kafka's max.poll.interval.ms makes the consumer
leave its group; it joins again when the outage ends, and its partitions (to it or another instance) resume from
the last committed offsets: a message handled meanwhile whose offset was not committed comes again and is recognised
as a redelivery (`consumer_max_poll_interval_seconds`; tests/integration/test_consumer_outage.py).

Offsets are committed only after handling, in batches (FastStream's default would commit first and lose the message
on a crash).
"""

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind

from shared.db import UnitOfWork
from shared.dead_letters import DeadLetters
from shared.events import (
    CloudEvent,
    Event,
    InvalidEvent,
    Topic,
    is_known_kind,
    parse_data,
    parse_envelope,
    provenance,
    topic_name,
)
from shared.events.topics import is_family, subscription_pattern
from shared.failures import Backoff, Outages, diagnose, outage_of
from shared.metrics import ServiceMetrics
from shared.settings import ServiceSettings
from shared.tracing import continuing

if TYPE_CHECKING:
    from shared.alliance import AllianceRegistry

log = logging.getLogger(__name__)

Handler = Callable[[Any, CloudEvent, UnitOfWork], Awaitable[None]]

# How long an idle consumer waits for messages before asking again. (Fetches keep Kafka's defaults: a fetch that
# waits at most 50 ms for 64 KiB doubled what idle consumers cost the broker, and tripled their own CPU.)
POLL_TIMEOUT_MS = 50
# How this part of a service is named in outages (health, metrics, logs).
COMPONENT = "consumer"


async def _undecoded(message: Any) -> None:
    return None


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

    async def handled(self, consumer: Any, records: Sequence[ConsumerRecord]) -> None:
        self._consumer = consumer
        for record in records:
            self._handled[TopicPartition(record.topic, record.partition)] = record.offset + 1
        self._since_commit += len(records)
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


@dataclass
class Delivery:
    """One message of a batch, as far as it got: parsed (envelope, event, handler) and its outcome for the metrics."""

    record: ConsumerRecord
    event_type: str = "invalid"
    envelope: CloudEvent | None = None
    event: Event | None = None
    handler: Handler | None = None
    outcome: str = ""


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        unit_of_work: Callable[[], UnitOfWork],
        handlers: dict[type[Event], Handler],
        topics: Iterable[Topic],
        metrics: ServiceMetrics | None = None,
        outages: Outages | None = None,
        database_answers: Callable[[], Awaitable[bool]] | None = None,
        registry: Callable[[], "AllianceRegistry | None"] = lambda: None,
        pattern: str | None = None,
        hold_unknown_node: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """`database_answers` (shared.db.database_answers) tells an outage from a handler's own error when the error
        does not say; without it, an error that names no outage counts against the message. `registry` gives the
        alliance registry in use, which says who may speak on the alliance bus (only the alliance gateway reads it);
        `pattern`, a subscription pattern of the caller's instead of the one the topics make (the gateway reads every
        node's catalogue topic but its own); `hold_unknown_node(node)`, for a message on the catalogue topic of a node
        the registry does not list: True once the registry lists it (the message is then checked again), False to
        dead-letter it (the gateway waits a while for a node that just joined)."""
        self._settings = settings
        self._unit_of_work = unit_of_work
        self._handlers = {event_class.type: handler for event_class, handler in handlers.items()}
        topics = list(topics)
        # A family of topics (one per LMS) is read through a pattern, so that a newly registered LMS's topic is
        # picked up without a restart; Kafka takes either topics or one pattern, so then all of them go in it.
        self._pattern = pattern or (
            subscription_pattern(topics, settings.topic_prefix) if any(map(is_family, topics)) else None
        )
        self._topics = [] if self._pattern else [topic_name(topic, settings.topic_prefix) for topic in topics]
        self._dead_letters: DeadLetters | None = None
        self._commits = OffsetCommits()
        self.metrics = metrics
        self.outages = outages or Outages(metrics)
        self._database_answers = database_answers
        self._registry = registry
        self._hold_unknown_node = hold_unknown_node

    def subscribe(self, broker: KafkaBroker, dead_letters: DeadLetters | None = None) -> None:
        """Read the topics through `broker`; dead letters go to the service's dead-letter topic through the same broker,
        unless `dead_letters` send them elsewhere (the alliance gateway reads another cluster than its own)."""
        self._dead_letters = dead_letters or DeadLetters(
            broker, self._settings.service_name, self._settings.topic_prefix, self._settings.consumer_group
        )
        broker.subscriber(
            *self._topics,
            pattern=self._pattern,
            group_id=self._settings.consumer_group,
            # Offsets are committed here, after handling (OffsetCommits), never before: FastStream's default would
            # commit on receipt and lose the message on a crash.
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            batch=True,
            max_records=self._settings.consumer_batch_size,
            batch_timeout_ms=POLL_TIMEOUT_MS,
            max_poll_interval_ms=int(self._settings.consumer_max_poll_interval_seconds * 1000),
            # on_batch parses the records itself (_parse); FastStream's own decoding of the batch would parse each
            # record's headers and JSON body once more, for nothing.
            decoder=_undecoded,
        )(self.on_batch)

    async def on_batch(self, message: KafkaMessage) -> None:
        records: tuple[ConsumerRecord, ...] = message.raw_message
        try:
            deliveries = await self._consume(records)
        except BaseException:
            # Not handled (shutdown, or a dead letter Kafka refused): seek back so that the batch comes again; what
            # was already committed of it is recognised as a redelivery.
            await message.nack()
            raise
        await self._commits.handled(message.consumer, records)
        if self.metrics:
            self._measure(message.consumer, deliveries)

    async def close(self) -> None:
        """Commit what was handled; called when the service stops."""
        await self._commits.close()

    async def _consume(self, records: Sequence[ConsumerRecord]) -> list[Delivery]:
        deliveries = [await self._parse(record) for record in records]
        waiting = [delivery for delivery in deliveries if delivery.handler is not None]
        if len(waiting) > 1 and await self._handle_together(waiting):
            return deliveries
        for delivery in waiting:
            delivery.outcome = await self._handle_alone(delivery)
        return deliveries

    async def _parse(self, record: ConsumerRecord) -> Delivery:
        delivery = Delivery(record)
        try:
            envelope = parse_envelope(record.value)
            delivery.event_type = envelope.type
            provenance.check(
                record.topic.removeprefix(self._settings.topic_prefix), envelope, self._settings.node_uri, self._registry()
            )
            handler = self._handlers.get(envelope.type)
            if handler is None and is_known_kind(envelope.type):
                delivery.outcome = "skipped"  # Another service's concern, or a version this code cannot read yet.
                return delivery
            delivery.event = parse_data(envelope)
        except InvalidEvent as error:
            if isinstance(error, provenance.NodeNotInRegistry) and await self._held_until_listed(error.node):
                return await self._parse(record)  # checked again, with the registry that lists the node now
            delivery.event_type = "invalid"
            await self._dead_letter(delivery, str(error))
            return delivery
        delivery.envelope, delivery.handler = envelope, handler
        return delivery

    async def _held_until_listed(self, node: str) -> bool:
        return self._hold_unknown_node is not None and await self._hold_unknown_node(node)

    async def _handle_together(self, deliveries: Sequence[Delivery]) -> bool:
        """Handle the deliveries in one transaction, waiting out outages; False, with nothing written, when one of
        them fails on its own account."""
        backoff = self._backoff()
        while True:
            try:
                async with self._unit_of_work() as uow:
                    fresh = await uow.claim_all([delivery.envelope for delivery in deliveries if delivery.envelope])
                    uow.events = [d.event for d in deliveries if d.envelope is not None and d.envelope.id in fresh]
                    for delivery in deliveries:
                        assert delivery.envelope is not None and delivery.handler is not None
                        if delivery.envelope.id not in fresh:
                            delivery.outcome = "redelivered"
                            continue
                        fresh.discard(delivery.envelope.id)  # The same event twice in one batch: the second repeats.
                        with self._span(delivery):
                            await delivery.handler(delivery.event, delivery.envelope, uow)
                        delivery.outcome = "handled"
                    await uow.commit()
                self.outages.resumed(COMPONENT)
                return True
            except Exception as error:
                if (dependency := await diagnose(error, self._database_answers)) is None:
                    log.info("a batch of %d messages failed (%r); handling them one at a time", len(deliveries), error)
                    return False
                # Rolled back whole; the same batch, together, once the dependency is back.
                await self.outages.wait(COMPONENT, dependency, error, backoff)

    async def _handle_alone(self, delivery: Delivery) -> str:
        """Handle one delivery in its own transaction, with retries, waiting out outages; returns its outcome."""
        assert delivery.envelope is not None
        event_id = f"{delivery.envelope.type} {delivery.envelope.id}"
        attempts = self._settings.consumer_max_attempts
        failures, retry, wait = 0, self._backoff(), self._backoff()
        with self._span(delivery):
            while True:
                try:
                    async with self._unit_of_work() as uow:
                        handled = await self._apply(delivery, uow)
                        await uow.commit()
                    self.outages.resumed(COMPONENT)
                    return "handled" if handled else "redelivered"
                except Unprocessable as error:
                    return await self._dead_letter(delivery, f"{event_id}: {error}")
                except Exception as error:
                    if (dependency := await diagnose(error, self._database_answers)) is not None:
                        await self.outages.wait(COMPONENT, dependency, error, wait)
                        continue
                    failures += 1
                    if failures == attempts:
                        return await self._dead_letter(delivery, f"{event_id}: failed {attempts} times, last: {error!r}")
                    delay = retry.next()
                    log.warning("handling %s failed (attempt %d), retrying in %.1fs: %r", event_id, failures, delay, error)
                    await asyncio.sleep(delay)

    def _backoff(self) -> Backoff:
        return Backoff.for_outages(self._settings)

    @staticmethod
    async def _apply(delivery: Delivery, uow: UnitOfWork) -> bool:
        """Claim the event and apply its handler in the unit of work; False when it was handled before."""
        assert delivery.envelope is not None and delivery.handler is not None
        if not await uow.claim(delivery.envelope):
            return False
        uow.events = [delivery.event]
        await delivery.handler(delivery.event, delivery.envelope, uow)
        return True

    def _span(self, delivery: Delivery) -> contextlib.AbstractContextManager[None]:
        """The consumer span of one event, continuing the trace its producer started (a span of its own only when
        spans are exported: shared.tracing.continuing)."""
        assert delivery.envelope is not None
        return continuing(
            delivery.envelope.traceparent,
            f"{self._settings.service_name} consume {delivery.envelope.type}",
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.message.id": delivery.envelope.id},
        )

    async def _dead_letter(self, delivery: Delivery, reason: str) -> str:
        """Send the message to the dead-letter topic; while Kafka is away, wait for it (the batch waits with it)."""
        assert self._dead_letters is not None, "subscribe() first"
        backoff = self._backoff()
        while True:
            try:
                await self._dead_letters.send(delivery.record, reason)
                break
            except Exception as error:
                if (dependency := outage_of(error)) is None:
                    raise  # Not handled: on_batch seeks back and the batch comes again.
                await self.outages.wait(COMPONENT, dependency, error, backoff)
        self.outages.resumed(COMPONENT)
        delivery.outcome = "dead-lettered"
        return delivery.outcome

    def _measure(self, consumer: Any, deliveries: Sequence[Delivery]) -> None:
        assert self.metrics is not None
        last: dict[TopicPartition, int] = {}
        # Counted per batch: a labelled counter's lookup per event was a visible share of a cohort's consumption.
        consumed = collections.Counter((delivery.event_type, delivery.outcome) for delivery in deliveries)
        for (event_type, outcome), count in consumed.items():
            self.metrics.events_consumed.labels(event_type, outcome).inc(count)
        for delivery in deliveries:
            record = delivery.record
            if delivery.outcome == "dead-lettered":
                self.metrics.dead_lettered.labels(record.topic).inc()
            last[TopicPartition(record.topic, record.partition)] = record.offset
        for partition, offset in last.items():
            if (end := consumer.highwater(partition)) is not None:
                self.metrics.consumer_lag.labels(partition.topic, str(partition.partition)).set(max(end - offset - 1, 0))
