"""The outbox relay: publishes what transactions wrote to the outbox, in order, then marks it published.

It wakes on the NOTIFY that a committing transaction sends, and polls as a fallback. Several instances of a service
may run: an advisory lock lets one relay publish at a time, which keeps each aggregate's events in order.
A crash between publishing and marking means a message is published again; consumers are idempotent. Published rows
are kept for `OUTBOX_RETENTION_HOURS` (a week by default, for looking into what was sent), then deleted.

When the database or Kafka is away, the relay waits for it with a capped backoff (shared/failures.py), says so once
in the log, in `/health/ready` and in `/metrics`, and goes on when it is back; its LISTEN connection comes back too.
"""

import asyncio
import collections
import contextlib
import logging
import time
from datetime import timedelta

from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import OUTBOX_CHANNEL, Listener, OutboxBase, OutboxMessage, database_answers, utcnow
from shared.events import topic_name
from shared.failures import Backoff, Dependency, Outages, diagnose
from shared.metrics import ServiceMetrics
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

# Any constant shared by all instances of one service (each service has its own database).
RELAY_LOCK_ID = 0x6D6F7574
BATCH_SIZE = 500
PRUNE_EVERY_SECONDS = 3600.0
PRUNE_BATCH_SIZE = 5000
PUBLISH_TIMEOUT_SECONDS = 10.0
COMPONENT = "outbox relay"


class OutboxRelay:
    def __init__(
        self,
        settings: ServiceSettings,
        sessionmaker: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        metrics: ServiceMetrics | None = None,
        outages: Outages | None = None,
        *,
        table: type[OutboxBase] = OutboxMessage,
        lock_id: int = RELAY_LOCK_ID,
        component: str = COMPONENT,
    ) -> None:
        """The node's relay by default. A service that also publishes on another cluster (the alliance gateway) runs a
        second relay over an outbox `table` of its own, with its own `lock_id`, `component` name (in outages) and
        broker; `settings` then name that cluster's topic prefix."""
        self._settings = settings
        self._metrics = metrics
        self._sessionmaker = sessionmaker
        self._broker = broker
        self._wake = asyncio.Event()
        self._outages = outages or Outages(metrics)
        self._table, self._lock_id, self._component = table, lock_id, component

    async def run(self) -> None:
        next_prune = time.monotonic()
        backoff = Backoff.for_outages(self._settings)
        async with Listener(self._settings, OUTBOX_CHANNEL, self._wake.set):
            while True:
                self._wake.clear()  # Before reading: a NOTIFY that comes while publishing means another round.
                try:
                    published = await self.publish_batch()
                except Exception as error:  # The rows stay; they are published once the dependency is back.
                    await self._outages.wait(self._component, await self._dependency(error), error, backoff)
                    continue
                self._outages.resumed(self._component)
                backoff.reset()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    try:
                        await self.prune()
                    except Exception as error:  # Not urgent: the next hour will do.
                        log.warning("outbox relay could not delete old published rows: %r", error)
                if published < BATCH_SIZE:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation that stops the
                    # service when a NOTIFY arrives at the same moment, and shutdown then waits forever.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._settings.outbox_poll_seconds):
                            await self._wake.wait()
                    if self._wake.is_set() and self._settings.outbox_gather_seconds:
                        await asyncio.sleep(self._settings.outbox_gather_seconds)

    async def _dependency(self, error: Exception) -> Dependency:
        """Whom the relay waits for: the one the error names, else the database if it does not answer, else Kafka
        (the only other party; a refusal by the broker, e.g. an authorization error, also waits for an operator)."""
        return await diagnose(error, lambda: database_answers(self._sessionmaker)) or Dependency.KAFKA

    async def publish_batch(self) -> int:
        async with self._sessionmaker() as session, session.begin():
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(self._lock_id))):
                return 0  # Another instance is publishing.
            outbox = self._table.__table__.c
            # Plain rows, not ORM objects: a batch of 500 is read, published and marked, never changed otherwise.
            rows = (
                await session.execute(
                    select(outbox.id, outbox.topic, outbox.key, outbox.value, outbox.headers)
                    .where(outbox.published_at.is_(None)).order_by(outbox.id).limit(BATCH_SIZE)
                )
            ).all()
            if not rows:
                return 0
            try:
                # Bounded: while Kafka is away the producer would hold each send for its request timeout (40 s)
                # before saying so; the relay should say it sooner (and wait, see run()).
                async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                    deliveries = [
                        await self._broker.publish(
                            row.value,
                            topic_name(row.topic, self._settings.topic_prefix),
                            key=row.key.encode(),
                            headers=row.headers,
                            no_confirm=True,
                        )
                        for row in rows
                    ]
                    await asyncio.gather(*deliveries)
            except TimeoutError as error:
                raise KafkaTimeoutError(f"Kafka did not confirm {len(rows)} events in {PUBLISH_TIMEOUT_SECONDS:.0f} s") from error
            await session.execute(
                update(self._table.__table__).where(outbox.id.in_([row.id for row in rows])).values(published_at=utcnow())
            )
        if self._metrics:
            for topic, published in collections.Counter(row.topic for row in rows).items():
                self._metrics.events_published.labels(topic).inc(published)
        return len(rows)

    async def prune(self) -> int:
        """Delete published rows older than the retention, a few thousand per transaction; returns how many."""
        cutoff = utcnow() - timedelta(hours=self._settings.outbox_retention_hours)
        pruned = 0
        while True:
            async with self._sessionmaker() as session, session.begin():
                old = select(self._table.id).where(self._table.published_at < cutoff).limit(PRUNE_BATCH_SIZE)
                deleted = (await session.execute(delete(self._table).where(self._table.id.in_(old)))).rowcount
            pruned += deleted
            if deleted < PRUNE_BATCH_SIZE:
                if pruned:
                    log.info("deleted %d outbox rows published before %s", pruned, cutoff.isoformat())
                return pruned

    async def backlog(self) -> int:
        async with self._sessionmaker() as session:
            return await session.scalar(
                select(func.count()).select_from(self._table).where(self._table.published_at.is_(None))
            )
