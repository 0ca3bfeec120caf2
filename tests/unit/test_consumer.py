"""EventConsumer with FastStream's in-memory broker: what goes to the dead-letter topic, idempotency, retries, and
what an outage of the database or Kafka does (it is waited out, never dead-lettered; shared/failures.py decides).

The unit of work is an in-memory stand-in; the PostgreSQL one is exercised by the integration tests, and real outages
by tests/e2e/test_restarts.py.
"""

import errno
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import aiokafka.errors
import asyncpg
import pytest
import sqlalchemy.exc
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.consumer import EventConsumer, Unprocessable
from shared.dead_letters import ORIGINAL_TOPIC, REASON, DeadLetters
from shared.events import CloudEvent, Event, Topic, dead_letter_topic
from shared.events.lms import GradeSubmitted
from shared.events.topics import lms_source, lms_topic
from shared.failures import Backoff, Dependency, Outages, outage_of
from shared.metrics import ServiceMetrics
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
class Database:
    """Answers the consumer's "does the database answer?" as told: False for the first `silent` questions."""

    silent: int = 0
    asked: int = 0

    async def answers(self) -> bool:
        self.asked += 1
        return self.asked > self.silent


@dataclass
class Node:
    broker: KafkaBroker
    handler: RecordingHandler
    uow: InMemoryUnitOfWork
    dead_letters: list[tuple[bytes, dict[str, str]]]
    metrics: ServiceMetrics
    outages: Outages

    @property
    def reasons(self) -> list[str]:
        return [headers[REASON] for _, headers in self.dead_letters]

    def waited(self, dependency: str) -> float:
        return self.metrics.registry.get_sample_value(
            "mc_dependency_wait_seconds_total", {"component": "consumer", "dependency": dependency}
        ) or 0.0


def assessment_node(handler: RecordingHandler, database: Database | None = None, **settings: Any) -> Node:
    broker, uow, dead_letters, metrics = KafkaBroker(), InMemoryUnitOfWork(), [], ServiceMetrics()
    settings = {"consumer_backoff_seconds": 0.01, "outage_backoff_max_seconds": 0.05} | settings
    consumer = EventConsumer(
        ServiceSettings(service_name="assessment", topic_prefix="", **settings),
        lambda: uow,
        {GradeSubmitted: handler},
        [Topic.GRADE_SUBMISSIONS],  # The family: every LMS's topic.
        # The metrics of outages only: the in-memory broker's consumer has no high-water marks to measure lag by.
        outages=Outages(metrics),
        database_answers=(database or Database()).answers,
    )
    consumer.subscribe(broker)

    @broker.subscriber(dead_letter_topic("assessment"))
    async def record_dead_letter(message: KafkaMessage) -> None:
        dead_letters.append((message.body, message.headers))

    return Node(broker, handler, uow, dead_letters, metrics, consumer.outages)


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
            r"claims the source 'urn:microcredentials:lms:canvas-other'; only the LMS moodle-test "
            r"\(urn:microcredentials:lms:moodle-test\)",
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


async def test_a_newer_version_of_a_type_this_consumer_reads_is_skipped_not_dead_lettered() -> None:
    node = assessment_node(RecordingHandler())
    newer_version = envelope_with(type="eu.microcredentials.lms.grade.submitted.v2", data={"passed": "maybe"})
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(newer_version, LMS_TOPIC)

    assert node.dead_letters == [], "a .v2 published beside .v1 is not an error here"
    assert node.handler.calls == []


async def test_a_type_that_does_not_belong_on_the_topic_is_dead_lettered_not_skipped() -> None:
    node = assessment_node(RecordingHandler())
    someone_elses = envelope_with(type="eu.microcredentials.assessment.grade.recorded.v1", data={"grade": 1})
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(someone_elses, LMS_TOPIC)

    [reason] = node.reasons
    assert f"grade.recorded.v1 does not belong on topic {LMS_TOPIC}" in reason
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


async def test_a_handler_that_keeps_failing_while_the_database_answers_is_retried_then_dead_lettered() -> None:
    failures = [KeyError("learner_id")] * 3  # A bug: no retry will fix it, and nothing says the database is away.
    node = assessment_node(RecordingHandler(failures), consumer_max_attempts=3)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-y"), LMS_TOPIC)

    assert len(node.handler.calls) == 3
    assert len(node.reasons) == 1
    reason = node.reasons[0]
    assert "submission-y" in reason and "learner_id" in reason
    assert re.search(r"\b3 (times|attempts)\b", reason), reason


async def test_a_handler_that_fails_once_then_succeeds_is_not_dead_lettered() -> None:
    node = assessment_node(RecordingHandler([ValueError("a passing glitch")]), consumer_max_attempts=3)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-z"), LMS_TOPIC)

    assert len(node.handler.calls) == 2
    assert node.dead_letters == []
    assert node.uow.processed_ids == {"submission-z"}


# --- outages: the infrastructure's failures, never the message's ---


class FakeSQLSTATE(Exception):
    """What SQLAlchemy's asyncpg adapter keeps in `orig`: the driver's error with its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(sqlstate: str) -> sqlalchemy.exc.DBAPIError:
    return sqlalchemy.exc.OperationalError("INSERT INTO grades ...", None, FakeSQLSTATE(sqlstate))


def raised_from(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


INFRASTRUCTURE_FAILURES = {
    "connection refused": (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 5433)"),
                           Dependency.DATABASE),
    "connection reset": (OSError(errno.ECONNRESET, "Connection reset by peer"), Dependency.DATABASE),
    "timeout": (TimeoutError(), Dependency.DATABASE),
    "asyncpg connection lost": (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
                                Dependency.DATABASE),
    "asyncpg connection closed": (asyncpg.InterfaceError("connection is closed"), Dependency.DATABASE),
    "serialization failure": (asyncpg.exceptions.SerializationError("could not serialize access"),
                              Dependency.DATABASE),
    "deadlock": (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), Dependency.DATABASE),
    "admin shutdown": (asyncpg.exceptions.AdminShutdownError("terminating connection"), Dependency.DATABASE),
    "cannot connect now": (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
                           Dependency.DATABASE),
    "too many connections": (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients"),
                             Dependency.DATABASE),
    "statement timeout": (asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
                          Dependency.DATABASE),
    "lock not available": (asyncpg.exceptions.LockNotAvailableError("could not obtain lock"), Dependency.DATABASE),
    "wrapped by SQLAlchemy (08006)": (wrapped("08006"), Dependency.DATABASE),
    "wrapped by SQLAlchemy (40001)": (wrapped("40001"), Dependency.DATABASE),
    "invalidated connection": (
        sqlalchemy.exc.DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True),
        Dependency.DATABASE,
    ),
    "transaction of a dead connection": (sqlalchemy.exc.PendingRollbackError("Can't reconnect until ..."),
                                         Dependency.DATABASE),
    "pool timeout": (sqlalchemy.exc.TimeoutError("QueuePool limit reached"), Dependency.DATABASE),
    "raised from a lost connection": (raised_from(RuntimeError("commit failed"), ConnectionResetError()),
                                      Dependency.DATABASE),
    "Kafka unreachable": (aiokafka.errors.KafkaConnectionError("Unable to bootstrap"), Dependency.KAFKA),
    "Kafka timeout": (aiokafka.errors.KafkaTimeoutError(), Dependency.KAFKA),
    "Kafka leader moving": (aiokafka.errors.NotLeaderForPartitionError(), Dependency.KAFKA),
    "Kafka coordinator away": (aiokafka.errors.GroupCoordinatorNotAvailableError(), Dependency.KAFKA),
}

MESSAGE_FAILURES = {
    "a bug": KeyError("learner_id"),
    "a constraint the message breaks": asyncpg.exceptions.UniqueViolationError("duplicate key value"),
    "wrapped by SQLAlchemy (23505)": wrapped("23505"),
    "bad data for a column": asyncpg.exceptions.DataError("invalid input syntax"),
    "a file a handler could not open": FileNotFoundError(errno.ENOENT, "No such file", "/keys/uni-x.pem"),
    "a record Kafka will never take": aiokafka.errors.RecordTooLargeError(),
    "the handler's refusal": Unprocessable("course course-x was never approved here"),
}


@pytest.mark.parametrize(("error", "dependency"), INFRASTRUCTURE_FAILURES.values(), ids=INFRASTRUCTURE_FAILURES)
def test_failures_of_the_infrastructure_name_the_dependency_that_is_away(error, dependency) -> None:
    assert outage_of(error) is dependency


@pytest.mark.parametrize("error", MESSAGE_FAILURES.values(), ids=MESSAGE_FAILURES)
def test_failures_that_belong_to_the_message_name_no_outage(error) -> None:
    assert outage_of(error) is None


@pytest.mark.parametrize(("error", "dependency"), INFRASTRUCTURE_FAILURES.values(), ids=INFRASTRUCTURE_FAILURES)
async def test_an_outage_is_waited_out_however_many_attempts_it_takes_and_never_dead_letters(error, dependency) -> None:
    node = assessment_node(RecordingHandler([error] * 8), consumer_max_attempts=3)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-o"), LMS_TOPIC)

    assert node.dead_letters == [], node.reasons
    assert len(node.handler.calls) == 9, "eight failures waited out, then handled"
    assert node.uow.processed_ids == {"submission-o"}
    assert node.waited(dependency) > 0
    assert node.outages.current == [], "the outage is over once the message is handled"


async def test_an_outage_is_logged_once_when_it_begins_and_once_when_it_ends(caplog) -> None:
    node = assessment_node(RecordingHandler([ConnectionRefusedError(errno.ECONNREFUSED, "5433")] * 10))
    with caplog.at_level(logging.INFO):
        async with TestKafkaBroker(node.broker) as broker:
            await broker.publish(envelope_with(), LMS_TOPIC)

    lines = [record.getMessage() for record in caplog.records]
    about_the_database = [line for line in lines if "database" in line]
    assert len(about_the_database) == 2, lines
    assert "unavailable" in about_the_database[0] and "ConnectionRefusedError" in about_the_database[0]
    assert re.search(r"database back after \d+\.\d s", about_the_database[1]), about_the_database[1]
    assert node.metrics.registry.get_sample_value(
        "mc_dependency_outage", {"component": "consumer", "dependency": "database"}
    ) == 0


async def test_an_unrecognised_error_while_the_database_does_not_answer_is_an_outage() -> None:
    # What a statement cut off by a dying server may raise: nothing in it says "connection".
    failures = [RuntimeError("unexpected end of stream")] * 6
    node = assessment_node(RecordingHandler(failures), Database(silent=6), consumer_max_attempts=3)
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-u"), LMS_TOPIC)

    assert node.dead_letters == [], node.reasons
    assert node.uow.processed_ids == {"submission-u"}
    assert node.waited("database") > 0


async def test_a_batch_caught_by_an_outage_is_handled_again_together_and_each_message_once() -> None:
    outage = [ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")] * 7

    @dataclass
    class FailingThenPublishing:
        failures: list[Exception]
        calls: int = 0

        async def __call__(self, event: GradeSubmitted, envelope: CloudEvent, uow: InMemoryUnitOfWork) -> None:
            self.calls += 1
            if self.failures:
                raise self.failures.pop(0)
            uow.publish(event)

    handler = FailingThenPublishing(outage)
    node = assessment_node(handler, consumer_max_attempts=2)  # type: ignore[arg-type]
    grades = [CloudEvent.wrap(grade_submitted(learner_id=f"learner-{n}"), source=SOURCE).to_bytes() for n in range(5)]
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish_batch(*grades, topic=LMS_TOPIC)

    assert node.dead_letters == [], node.reasons
    assert [event.learner_id for event in node.uow.published] == [f"learner-{n}" for n in range(5)]
    # Seven failed tries of the first event of the batch, then the five together: not one at a time.
    assert handler.calls == 7 + 5


async def test_a_dead_letter_waits_for_kafka_when_kafka_is_away(monkeypatch) -> None:
    send = DeadLetters.send
    refusals = [aiokafka.errors.KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9092")] * 3

    async def send_when_kafka_is_back(self: DeadLetters, record: Any, reason: str) -> None:
        if refusals:
            raise refusals.pop(0)
        await send(self, record, reason)

    monkeypatch.setattr(DeadLetters, "send", send_when_kafka_is_back)
    node = assessment_node(RecordingHandler([Unprocessable("grade 9.9 is not on the course's scale")]))
    async with TestKafkaBroker(node.broker) as broker:
        await broker.publish(envelope_with(id="submission-d"), LMS_TOPIC)

    assert refusals == []
    assert len(node.reasons) == 1 and "submission-d" in node.reasons[0], "dead-lettered once, when Kafka was back"
    assert node.waited("kafka") > 0


def test_retries_in_an_outage_back_off_to_the_cap_and_start_again_quick_after_it() -> None:
    backoff = Backoff(0.2, 5.0)
    assert [backoff.next() for _ in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 0.2


def test_outages_tell_who_waits_for_what_since_when_and_why() -> None:
    outages = Outages()
    outages.waiting("consumer", Dependency.DATABASE, ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"))
    outages.waiting("outbox relay", Dependency.KAFKA, aiokafka.errors.KafkaConnectionError("Unable to bootstrap"))

    described = [outage.describe() for outage in outages.current]
    assert re.match(r"consumer waiting for database since \d{4}-\d\d-\d\dT[\d:]+\+00:00: ConnectionRefusedError",
                    described[0]), described
    assert described[1].startswith("outbox relay waiting for kafka since") and "Unable to bootstrap" in described[1]
    outages.resumed("consumer")
    assert [outage.component for outage in outages.current] == ["outbox relay"]


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
