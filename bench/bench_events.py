"""How fast the event plumbing moves events on the real Kafka and PostgreSQL, beside raw aiokafka on the same broker.

    .venv/bin/python bench/bench_events.py --count 5000

Publishing: raw aiokafka (acks=all, idempotent, batched) against the outbox path (events written to the outbox in
transactions, then published by the relay), for one large transaction and for many small concurrent ones (as HTTP
requests write them). Consuming: a raw aiokafka consumer group reading the topic against the EventConsumer (parse,
idempotency claim in PostgreSQL, a handler that does nothing, commit). A benchmark, not a test: nothing asserts a time.
It uses the stack the tests use (deploy/infra.sh), under its own topic and database prefix, and drops them afterwards.
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from faststream.kafka import KafkaBroker  # noqa: E402

from shared.consumer import EventConsumer  # noqa: E402
from shared.db import UnitOfWork, create_engine, create_sessionmaker  # noqa: E402
from shared.events import CloudEvent, Topic, topic_name  # noqa: E402
from shared.events.common import LearnerIdentity  # noqa: E402
from shared.events.enrolment import LearnerEnrolled  # noqa: E402
from shared.migrations import upgrade  # noqa: E402
from shared.outbox import OutboxRelay  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from shared.kafka import client_options, security  # noqa: E402
from shared.topic_admin import ensure_topics, node_topics  # noqa: E402
from tests.stack import clean_up, start_stack  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "notifications" / "migrations"


def event(index: int) -> LearnerEnrolled:
    learner = LearnerIdentity(learner_id=f"learner-{index}", name="Bench Learner", email=f"l{index}@bench.example")
    return LearnerEnrolled(
        enrolment_id=f"enrolment-{index}",
        course_id="course-bench",
        course_version=1,
        course_title="Benchmarking Event-Driven Systems",
        learner=learner,
        enrolled_at=datetime.now(UTC),
    )


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>10,.0f} /s  ({seconds:.2f} s)"


async def raw_publish(settings: ServiceSettings, topic: str, count: int) -> float:
    values = [CloudEvent.wrap(event(i), source="urn:bench").to_bytes() for i in range(count)]
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        started = time.perf_counter()
        deliveries = [await producer.send(topic, value, key=f"enrolment-{i}".encode()) for i, value in enumerate(values)]
        await asyncio.gather(*deliveries)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def outbox_publish(settings: ServiceSettings, count: int, per_transaction: int, writers: int) -> float:
    """Write `count` events in transactions of `per_transaction`, from `writers` concurrent tasks; until published."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    broker = KafkaBroker(settings.kafka_bootstrap_servers, security=security(settings), acks="all", enable_idempotence=True)
    relay = OutboxRelay(settings, sessionmaker, broker)
    await broker.start()
    relay_task = asyncio.create_task(relay.run())
    batches = [range(start, min(start + per_transaction, count)) for start in range(0, count, per_transaction)]
    queue: asyncio.Queue[range] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def writer() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            async with UnitOfWork(sessionmaker, "urn:bench") as uow:
                for index in batch:
                    uow.publish(event(index))
                await uow.commit()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        while await relay.backlog():
            await asyncio.sleep(0.01)
        return time.perf_counter() - started
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)
        await broker.stop()
        await engine.dispose()


async def raw_consume(settings: ServiceSettings, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += len(records)
            await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def event_consumer(settings: ServiceSettings, count: int) -> float:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    handled = 0
    done = asyncio.Event()

    async def handler(event: LearnerEnrolled, envelope: CloudEvent, uow: UnitOfWork) -> None:
        nonlocal handled
        handled += 1
        if handled >= count:
            done.set()

    broker = KafkaBroker(settings.kafka_bootstrap_servers, security=security(settings))
    EventConsumer(settings, lambda: UnitOfWork(sessionmaker, "urn:bench"), {LearnerEnrolled: handler}, [Topic.ENROLMENTS]).subscribe(broker)
    started = time.perf_counter()
    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
        return time.perf_counter() - started
    finally:
        await broker.stop()
        await engine.dispose()


async def main(count: int) -> None:
    stack = start_stack()
    # The benchmark's own clients connect as the cluster's administrator, as the tests' harness does.
    settings = stack.harness(
        ServiceSettings,
        service_name="bench",
        database_url=stack.database_url,
        database_prefix=stack.database_prefix,
    )
    await asyncio.to_thread(upgrade, settings, MIGRATIONS)
    await ensure_topics(settings, node_topics(settings.topic_prefix, ["bench"]))
    topic = topic_name(Topic.ENROLMENTS, settings.topic_prefix)
    try:
        print(f"{count} LearnerEnrolled events (~{len(CloudEvent.wrap(event(0), source='urn:bench').to_bytes())} bytes)")
        print("publishing")
        print(f"  raw aiokafka, batched                        {rate(count, await raw_publish(settings, topic, count))}")
        print(f"  outbox, one transaction, relay               {rate(count, await outbox_publish(settings, count, count, 1))}")
        print(f"  outbox, 1 event/transaction, 20 writers      {rate(count, await outbox_publish(settings, count, 1, 20))}")
        total = 3 * count  # Everything published above is on the topic now.
        print(f"consuming ({total} messages)")
        print(f"  raw aiokafka, commit per batch               {rate(total, await raw_consume(settings, topic, total))}")
        print(f"  EventConsumer: parse, claim in PostgreSQL    {rate(total, await event_consumer(settings, total))}")
    finally:
        await clean_up(stack)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000)
    asyncio.run(main(parser.parse_args().count))
