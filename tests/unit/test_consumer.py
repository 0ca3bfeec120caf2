"""EventConsumer with FastStream's in-memory broker: what goes to the dead-letter topic, idempotency, retries.

The unit of work is an in-memory stand-in; the PostgreSQL one is exercised by the integration tests.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.consumer import EventConsumer, Unprocessable
from shared.dead_letters import ORIGINAL_TOPIC, REASON
from shared.events import CloudEvent, Event, Topic, dead_letter_topic
from shared.events.lms import GradeSubmitted
from shared.events.topics import lms_source, lms_topic
from shared.settings import ServiceSettings

# An LMS writes onto its own topic, with its own source.
LMS_TOPIC = lms_topic("moodle-test")
SOURCE = lms_source("moodle-test")


class InMemoryUnitOfWork:
    """Stands in for shared.db.UnitOfWork: like a transaction, claims and publications count only once committed."""

    def __init__(self) -> None:
        self.processed_ids: set[str] = set()
        self.published: list[Event] = []

    async def __aenter__(self) -> "InMemoryUnitOfWork":
        self._claimed: list[str] = []
        self._publishing: list[Event] = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._claimed, self._publishing = [], []  # Whatever was not committed is rolled back.

    async def claim(self, envelope: CloudEvent) -> bool:
        return envelope.id in await self.claim_all([envelope])

    async def claim_all(self, envelopes: list[CloudEvent]) -> set[str]:
        fresh = set()
        for envelope in envelopes:
            if envelope.id not in self.processed_ids and envelope.id not in self._claimed:
                self._claimed.append(envelope.id)
                fresh.add(envelope.id)
        return fresh

    async def commit(self) -> None:
        self.processed_ids.update(self._claimed)
        self.published += self._publishing

    def publish(self, event: Event) -> None:
        self._publishing.append(event)


@dataclass
class RecordingHandler:
    """Records the events it is given; raises the given exceptions first, one per call."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[GradeSubmitted] = field(default_factory=list)

    async def __call__(self, event: GradeSubmitted, envelope: CloudEvent, uow: InMemoryUnitOfWork) -> None:
        self.calls.append(event)
        if self.failures:
            raise self.failures.pop(0)


@dataclass
class Node:
    broker: KafkaBroker
    handler: RecordingHandler
    uow: InMemoryUnitOfWork
    dead_letters: list[tuple[bytes, dict[str, str]]]

    @property
    def reasons(self) -> list[str]:
        return [headers[REASON] for _, headers in self.dead_letters]


def assessment_node(handler: RecordingHandler, **settings: Any) -> Node:
    broker, uow, dead_letters = KafkaBroker(), InMemoryUnitOfWork(), []
    consumer = EventConsumer(
        ServiceSettings(service_name="assessment", topic_prefix="", **settings),
        lambda: uow,
        {GradeSubmitted: handler},
        [Topic.GRADE_SUBMISSIONS],  # The family: every LMS's topic.
    )
    consumer.subscribe(broker)

    @broker.subscriber(dead_letter_topic("assessment"))
    async def record_dead_letter(message: KafkaMessage) -> None:
        dead_letters.append((message.body, message.headers))

    return Node(broker, handler, uow, dead_letters)


def grade_submitted(**changes: Any) -> GradeSubmitted:
    values = dict(
        course_id="course-ai-ethics", learner_id="learner-ada", grade="1.3", passed=True,
        assessed_on=date(2025, 6, 30), assessor="prof-lovelace", lms="moodle.uni-saarland.de",
    )
    return GradeSubmitted(**values | changes)


def envelope_with(**changes: Any) -> bytes:
    """A wrapped GradeSubmitted as JSON; `data=` replaces fields of the data, anything else envelope attributes."""
    document = json.loads(CloudEvent.wrap(grade_submitted(), source=SOURCE).to_bytes())
    document["data"] |= changes.pop("data", {})
    return json.dumps(document | changes).encode()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"\x00\x01 not json", r"not a JSON document"),
        (envelope_with(type="eu.microcredentials.lms.grade.guessed.v1"), r"grade\.guessed\.v1"),
        (envelope_with(data={"passed": "maybe"}), r"lms\.grade\.submitted\.v1 breaks its contract: data\.passed\b"),
        # Written with moodle-test's credentials (only it may write its topic), but claiming another LMS sent it.
        (
            envelope_with(source=lms_source("canvas-other")),
            r"source 'urn:microcredentials:lms:canvas-other'; LMS moodle-test's topic accepts only source "
            r"'urn:microcredentials:lms:moodle-test'",
        ),
    ],
    ids=["not-json", "unknown-type", "data-breaks-contract", "another-lms-source"],
)
async def test_a_message_that_cannot_be_parsed_is_dead_lettered_as_it_came(raw: bytes, problem: str) -> None:
    node = assessment_node(RecordingHandler())
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(raw, LMS_TOPIC, key=b"learner-ada", headers={"traceparent": "00-abc-01"})

    assert len(node.dead_letters) == 1
    body, headers = node.dead_letters[0]
    assert re.search(problem, headers[REASON]), headers[REASON]
    assert headers[ORIGINAL_TOPIC] == "mc.lms.moodle-test.grade-submissions"
    # What a replay needs: the original value and headers, untouched.
    assert body == raw and headers["traceparent"] == "00-abc-01"
    assert node.handler.calls == []


async def test_events_this_consumer_does_not_handle_are_skipped_not_dead_lettered() -> None:
    node = assessment_node(RecordingHandler())
    newer_version = envelope_with(type="eu.microcredentials.lms.grade.submitted.v2", data={"passed": "maybe"})
    someone_elses = envelope_with(type="eu.microcredentials.assessment.grade.recorded.v1", data={"grade": 1})
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(newer_version, LMS_TOPIC)
        await broker.publish(someone_elses, LMS_TOPIC)

    assert node.dead_letters == [], "a .v2 published beside .v1, or a type for other consumers, is not an error here"
    assert node.handler.calls == []


async def test_an_event_delivered_twice_is_handled_once() -> None:
    node = assessment_node(RecordingHandler())
    raw = CloudEvent.wrap(grade_submitted(), source=SOURCE).to_bytes()
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(raw, LMS_TOPIC)
        await broker.publish(raw, LMS_TOPIC)
        await broker.publish(envelope_with(), LMS_TOPIC)  # Same data, another CloudEvent: handled.

    assert node.handler.calls == [grade_submitted(), grade_submitted()]
    assert node.dead_letters == []


async def test_an_unprocessable_event_is_dead_lettered_with_the_handlers_reason_and_not_retried() -> None:
    node = assessment_node(RecordingHandler([Unprocessable("course course-ai-ethics was never approved here")]))
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-x"), LMS_TOPIC)

    assert len(node.handler.calls) == 1
    assert len(node.reasons) == 1
    assert "submission-x" in node.reasons[0] and "course course-ai-ethics was never approved here" in node.reasons[0]
    assert node.uow.processed_ids == set(), "a dead-lettered event must be handled again when it is replayed"


async def test_a_failing_handler_is_retried_then_dead_lettered_with_the_attempt_count() -> None:
    failures = [ConnectionError("database is away")] * 3
    node = assessment_node(RecordingHandler(failures), consumer_max_attempts=3, consumer_backoff_seconds=0.01)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-y"), LMS_TOPIC)

    assert len(node.handler.calls) == 3
    assert len(node.reasons) == 1
    reason = node.reasons[0]
    assert "submission-y" in reason and "database is away" in reason
    assert re.search(r"\b3 (times|attempts)\b", reason), reason


async def test_a_handler_that_fails_once_then_succeeds_is_not_dead_lettered() -> None:
    node = assessment_node(RecordingHandler([ConnectionError("database is away")]), consumer_max_attempts=3,
                           consumer_backoff_seconds=0.01)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-z"), LMS_TOPIC)

    assert len(node.handler.calls) == 2
    assert node.dead_letters == []
    assert node.uow.processed_ids == {"submission-z"}


@dataclass
class PublishingHandler:
    """Publishes what it is given (as the real handlers write their outcome to the outbox); fails on some grades."""

    unprocessable_grades: set[str] = field(default_factory=set)

    async def __call__(self, event: GradeSubmitted, envelope: CloudEvent, uow: InMemoryUnitOfWork) -> None:
        if event.grade in self.unprocessable_grades:
            raise Unprocessable(f"grade {event.grade} is not on the course's scale")
        uow.publish(event)


async def test_one_bad_message_in_a_batch_costs_only_itself() -> None:
    node = assessment_node(PublishingHandler({"9.9"}))  # type: ignore[arg-type]
    good = [CloudEvent.wrap(grade_submitted(learner_id=f"learner-{n}"), source=SOURCE).to_bytes() for n in range(3)]
    bad = envelope_with(id="submission-bad", data={"grade": "9.9"})
    async with TestKafkaBroker(node.broker) as broker:
        # Arrive together, as a cohort's grades do; the first one again at the end (a redelivery).
        await broker.publish_batch(good[0], bad, good[1], good[2], good[0], topic=LMS_TOPIC)

    assert sorted(event.learner_id for event in node.uow.published) == ["learner-0", "learner-1", "learner-2"]
    assert len(node.reasons) == 1 and "submission-bad" in node.reasons[0] and "9.9" in node.reasons[0]


async def test_a_batch_of_good_messages_is_handled_once_each() -> None:
    node = assessment_node(PublishingHandler())  # type: ignore[arg-type]
    grades = [CloudEvent.wrap(grade_submitted(learner_id=f"learner-{n}"), source=SOURCE).to_bytes() for n in range(5)]
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish_batch(*grades, topic=LMS_TOPIC)

    assert [event.learner_id for event in node.uow.published] == [f"learner-{n}" for n in range(5)]
    assert node.dead_letters == []
