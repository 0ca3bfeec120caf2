"""An outage longer than Kafka's max.poll.interval, on the real Kafka and PostgreSQL.

While the consumer waits out the outage it holds its batch and does not poll, so Kafka takes its partitions away
(the consumer leaves its group). When the outage ends the batch is committed to the database, the offsets are not
(the group moved on), and the partitions come back from the last committed offsets: the messages come again and
are recognised as handled. Nothing lost, nothing doubled, nothing dead-lettered.

(The outage is played by the handler, which raises what asyncpg raises when the server is away; the real thing, a
killed PostgreSQL, is in tests/e2e/test_restarts.py.)
"""

import asyncio
import dataclasses
import errno
import logging
import time
from datetime import date

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select

from services.assessment.app import create_service as create_assessment
from services.assessment.settings import AssessmentSettings
from shared.consumer import EventConsumer
from shared.db import OutboxMessage, ProcessedEvent, UnitOfWork, create_engine, create_sessionmaker, database_answers
from shared.events import CloudEvent, Topic, dead_letter_topic
from shared.events.lms import GradeSubmitted
from shared.events.topics import lms_source
from shared.failures import Outages
from shared.kafka import security
from shared.metrics import ServiceMetrics
from shared.migrations import upgrade
from tests.integration.conftest import eventually
from deploy.journey import NODE_LMS
from tests.stack import Stack, produce, read_topic, unconsumed, with_kafka_principals

pytestmark = pytest.mark.integration

COUNT = 30


async def test_an_outage_longer_than_the_poll_interval_loses_and_doubles_nothing(stack: Stack, caplog) -> None:
    caplog.set_level(logging.INFO, logger="aiokafka.consumer.group_coordinator")
    stack = await asyncio.to_thread(
        with_kafka_principals,
        dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}poll.", database_prefix=f"{stack.database_prefix}_poll")
    )
    settings = stack.settings(
        AssessmentSettings,
        consumer_max_poll_interval_seconds=2.0,
        consumer_backoff_seconds=0.1,
        outage_backoff_max_seconds=0.5,
    )
    # The assessment service's database: it has the outbox and processed-event tables.
    await asyncio.to_thread(upgrade, settings, create_assessment(settings).migrations)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)

    outage_ends: list[float] = []
    handled: list[str] = []

    async def handler(event: GradeSubmitted, envelope: CloudEvent, uow: UnitOfWork) -> None:
        if not outage_ends:
            outage_ends.append(time.monotonic() + 3 * settings.consumer_max_poll_interval_seconds)
        if time.monotonic() < outage_ends[0]:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 5433)")
        handled.append(envelope.id)
        uow.publish(event)  # The effect, counted in the outbox.

    metrics = ServiceMetrics()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, security=security(settings))
    consumer = EventConsumer(
        settings,
        lambda: UnitOfWork(sessionmaker, settings.node_uri),
        {GradeSubmitted: handler},
        [Topic.GRADE_SUBMISSIONS],
        metrics,
        Outages(metrics),
        database_answers=lambda: database_answers(sessionmaker),
    )
    consumer.subscribe(broker)
    submissions = [
        GradeSubmitted(
            course_id="course-poll", learner_id=f"learner-{n}", grade="2.0", passed=True, assessed_on=date(2025, 7, 1),
            assessor="prof-x", lms="moodle.test",
        )
        for n in range(COUNT)
    ]
    await broker.start()
    try:
        for submission in submissions:
            envelope = CloudEvent.wrap(submission, source=lms_source(NODE_LMS.id))
            await produce(stack, NODE_LMS.topic, envelope.to_bytes(), key=submission.learner_id)

        async def all_done() -> bool:
            async with sessionmaker() as session:
                processed = await session.scalar(select(func.count()).select_from(ProcessedEvent))
            return processed == COUNT and await unconsumed(stack, "assessment") == 0

        await eventually(all_done, timeout=120)
    finally:
        await consumer.close()
        await broker.stop()

    async with sessionmaker() as session:
        effects = await session.scalar(select(func.count()).select_from(OutboxMessage))
    await engine.dispose()
    letters = await read_topic(stack, dead_letter_topic("assessment"), until=lambda records: bool(records), timeout=3)

    assert effects == COUNT, f"{effects} effects for {COUNT} submissions"
    assert len(handled) >= COUNT and letters == []
    waited = metrics.registry.get_sample_value(
        "mc_dependency_wait_seconds_total", {"component": "consumer", "dependency": "database"}
    )
    assert waited >= 2 * settings.consumer_max_poll_interval_seconds, waited
    joins = [record for record in caplog.records if record.getMessage().startswith("Joined group")]
    assert len(joins) >= 2, "the consumer should have left its group while it waited, and joined it again"
