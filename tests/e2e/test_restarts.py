"""Nothing lost, nothing invented, nothing dead-lettered when PostgreSQL or Kafka dies in the middle of a cohort.

A cohort is enrolled over HTTP; the LMS publishes its grades with kcat (some fail, some are for people who are not
enrolled); while credentials are being issued PostgreSQL's postmaster (or Kafka's broker) is killed with SIGKILL, the
node is left without it for a while, and it is started again with `deploy/infra.sh start`, as an operator would.
Then every passing learner has exactly one credential and one credential email, every failing learner a recorded
fail and no credential, every submission is a grade or a rejection, and no dead letter was written.

These tests kill their infrastructure, so they run on a private one (tests.stack.PrivateInfrastructure) with a node
of their own. `RESTART_COHORT` sets the cohort's size (250 by default). Each test prints its figures.
"""

import asyncio
import collections
import json
import mailbox
import os
import random
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_binary_file, policy
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from deploy.journey import REGISTRAR, Node, grade_submission, sample_course
from shared.kafka import client_options
from shared.events import dead_letter_topic
from tests.e2e.conftest import SERVICES, issuer_keys, running_node
from tests.stack import ROOT, PrivateInfrastructure, Stack, private_infrastructure, unconsumed

pytestmark = pytest.mark.e2e

COHORT = int(os.environ.get("RESTART_COHORT", "250"))
FAILING_EVERY = 5  # one learner in five fails
NOT_ENROLLED = 10  # submissions for people who are not enrolled: rejected
# The consumer used to give a message up after CONSUMER_MAX_ATTEMPTS (5) tries, about 3 s of backoff: each outage
# lasts until the node has waited well beyond that.
WAITED_AT_LEAST = 10.0
CONSUMING = ("enrolment", "assessment", "certification", "notifications")
LOG_PREFIX = "restarts"


@pytest.fixture(scope="module")
def infrastructure() -> Iterator[PrivateInfrastructure]:
    # Under the worktree, not /tmp: PostgreSQL runs as its own user, who must be able to reach the directory.
    state = ROOT / ".run" / f"restarts-{uuid.uuid4().hex[:8]}"
    try:
        with private_infrastructure(state) as started:
            yield started
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def node(infrastructure: PrivateInfrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    keys = issuer_keys(tmp_path_factory.mktemp("restart-issuer-keys"))
    with running_node(infrastructure.stack, keys, log_prefix=LOG_PREFIX) as started:
        started.timeout = 240.0  # A cohort of hundreds on two cores, after an outage.
        yield started


# --- the cohort and its LMS ---


@dataclass
class Cohort:
    offering: dict
    passing: dict[str, str] = field(default_factory=dict)  # learner id -> email
    failing: dict[str, str] = field(default_factory=dict)
    submissions: list[dict] = field(default_factory=list)  # the LMS's CloudEvents, in the order it sends them

    @property
    def course_id(self) -> str:
        return self.offering["course_id"]


def enrolled_cohort(node: Node, title: str) -> Cohort:
    cohort = Cohort(node.opened_offering(node.approved_course(sample_course(f"{title} {uuid.uuid4().hex[:4]}"))))
    for n in range(COHORT):
        learner = node.registered_learner(f"Learner {n}")
        response = node.apply(learner, cohort.offering)
        assert response.status_code == 201, f"learner {n}: {response.status_code} {response.text}"
        passes = n % FAILING_EVERY != 0
        (cohort.passing if passes else cohort.failing)[learner.subject] = learner.email
        grade = "2.0" if passes else "5.0"
        cohort.submissions.append(grade_submission(cohort.course_id, learner.subject, grade, passes))
    for _ in range(NOT_ENROLLED):
        cohort.submissions.append(grade_submission(cohort.course_id, str(uuid.uuid4()), "1.0", True))
    random.Random(7).shuffle(cohort.submissions)
    node.wait_for(
        f"assessment to know the {COHORT} enrolments",
        lambda: True
        if len(node.ok("GET", "assessment", "/enrolments", by=REGISTRAR, params={"course_id": cohort.course_id})) == COHORT
        else None,
    )
    return cohort


class LMS(threading.Thread):
    """Publishes the cohort's grade submissions with kcat, one after another; can be paused between two."""

    def __init__(self, node: Node, submissions: list[dict]) -> None:
        super().__init__(daemon=True, name="lms")
        self._node, self._submissions = node, submissions
        self._go, self._sending = threading.Event(), threading.Lock()
        self._go.set()
        self.published = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for submission in self._submissions:
                while True:
                    self._go.wait()
                    with self._sending:
                        if self._go.is_set():
                            self._node.produce_with_kcat(
                                self._node.lms.topic, submission["data"]["learner_id"], json.dumps(submission)
                            )
                            self.published += 1
                            break
        except BaseException as error:  # Reported by finish().
            self.error = error

    def pause(self) -> None:
        """Returns once no submission is being sent."""
        self._go.clear()
        with self._sending:
            pass

    def resume(self) -> None:
        self._go.set()

    def finish(self, node: Node) -> None:
        node.wait_for("the LMS to publish every submission", lambda: True if not self.is_alive() else None)
        if self.error is not None:
            raise AssertionError(f"the LMS could not publish: {self.error!r}")


# --- what the node shows ---


def metrics(node: Node, service: str) -> dict[tuple[str, tuple], float]:
    text = node.call("GET", service, "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def metric(node: Node, service: str, name: str, **labels: str) -> float:
    return metrics(node, service).get((name, tuple(sorted(labels.items()))), 0.0)


def credentials_issued(node: Node) -> float:
    return metric(node, "certification", "mc_events_published_total", topic="mc.certification.credentials")


def waited(node: Node, dependency: str) -> dict[str, float]:
    """Seconds each service's parts have waited for `dependency`, by service and part."""
    found = {}
    for service in SERVICES:
        for (name, labels), value in metrics(node, service).items():
            labels = dict(labels)
            if name == "mc_dependency_wait_seconds_total" and labels["dependency"] == dependency and value:
                found[f"{service} {labels['component']}"] = value
    return found


def readiness(node: Node, service: str) -> dict:
    return node.call("GET", service, "/health/ready").json()


def emails_about_credentials(maildir: Path) -> collections.Counter[str]:
    """How many "credential issued" emails each address received."""
    received: collections.Counter[str] = collections.Counter()
    for message in mailbox.Maildir(maildir, factory=lambda f: message_from_binary_file(f, policy=policy.default)):
        if "issued" in (message["Subject"] or ""):
            received[message["To"]] += 1
    return received


async def dead_letters(stack: Stack) -> list[ConsumerRecord]:
    """Everything on the consuming services' dead-letter topics, read from the start to the end."""
    topics = [dead_letter_topic(service, stack.topic_prefix) for service in CONSUMING]
    consumer = AIOKafkaConsumer(*topics, **client_options(stack.harness()), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, number) for topic in topics for number in consumer.partitions_for_topic(topic) or ()
        ]
        assert len(partitions) >= len(topics), f"the dead-letter topics {topics} should exist: deploy.kafka_security init creates them"
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        while [partition for partition, end in ends.items() if await consumer.position(partition) < end]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def settled(node: Node, stack: Stack, cohort: Cohort) -> bool:
    """Every consumer caught up, every outbox and mail queue empty, and the cohort's credential emails all out."""
    if any(asyncio.run(unconsumed(stack, service)) for service in CONSUMING):
        return False
    if any(readiness(node, service).get("outbox_backlog") != 0 for service in SERVICES):
        return False
    for status in ("pending", "sending"):
        if node.ok("GET", "notifications", "/deliveries", by=REGISTRAR, params={"status": status}):
            return False
    received = emails_about_credentials(stack.maildir)
    return all(received[address] for address in cohort.passing.values())


def assert_nothing_lost_nothing_invented(node: Node, stack: Stack, cohort: Cohort) -> dict[str, int]:
    node.wait_for("the node to settle: everything consumed, published and emailed", lambda: settled(node, stack, cohort) or None)

    grades = node.ok("GET", "assessment", "/grades", by=REGISTRAR, params={"course_id": cohort.course_id})
    rejections = node.ok("GET", "assessment", "/grade-rejections", by=REGISTRAR, params={"course_id": cohort.course_id})
    credentials = [c for c in node.ok("GET", "certification", "/credentials", by=REGISTRAR) if c["course_id"] == cohort.course_id]
    emails = emails_about_credentials(stack.maildir)
    letters = asyncio.run(dead_letters(stack))

    submitted = {submission["id"] for submission in cohort.submissions}
    ended = collections.Counter([g["submission_id"] for g in grades] + [r["submission_id"] for r in rejections])
    lost = submitted - set(ended)
    assert not lost, f"{len(lost)} of {len(submitted)} grade submissions ended as neither a grade nor a rejection"
    assert max(ended.values()) == 1, f"submissions recorded twice: {[s for s, n in ended.items() if n > 1][:5]}"
    assert len(rejections) == NOT_ENROLLED, f"{len(rejections)} rejections, expected {NOT_ENROLLED}: {rejections[:3]}"

    passes = {g["learner_id"] for g in grades if g["passed"]}
    fails = {g["learner_id"] for g in grades if not g["passed"]}
    assert passes == set(cohort.passing), (
        f"recorded passes: {len(passes)} of {len(cohort.passing)}; missing {len(set(cohort.passing) - passes)}"
    )
    assert fails == set(cohort.failing), f"recorded fails: {len(fails)} of {len(cohort.failing)}"

    held = collections.Counter(c["learner_id"] for c in credentials)
    doubled = {learner: n for learner, n in held.items() if n > 1}
    without = set(cohort.passing) - set(held)
    invented = set(held) - passes
    assert not doubled, f"{len(doubled)} learners hold more than one credential"
    assert not without, f"{len(without)} of {len(cohort.passing)} passing learners have no credential"
    assert not invented, f"{len(invented)} credentials without a recorded pass (failing learners among them: " \
        f"{len(invented & set(cohort.failing))})"

    counts = [emails[address] for address in cohort.passing.values()]
    assert counts.count(1) == len(counts), (
        f"credential emails per passing learner: {collections.Counter(counts)} (expected exactly 1 for all {len(counts)})"
    )
    assert not any(emails[address] for address in cohort.failing.values()), "a failing learner was told of a credential"

    assert letters == [], f"{len(letters)} dead letters, e.g. " + "; ".join(
        dict(letter.headers).get("x-dead-letter-reason", b"?").decode()[:200] for letter in letters[:3]
    )
    for service in SERVICES:
        assert readiness(node, service)["status"] == "ready", (service, readiness(node, service))
    return {
        "learners": COHORT, "passes": len(passes), "fails": len(fails), "rejections": len(rejections),
        "credentials": len(credentials), "credential emails": sum(counts), "dead letters": len(letters),
    }


class Logs:
    """What the node's services log from the moment this is made."""

    def __init__(self) -> None:
        self._from = {service: self._path(service).stat().st_size for service in SERVICES}

    @staticmethod
    def _path(service: str) -> Path:
        return ROOT / ".run" / "logs" / f"{LOG_PREFIX}-{service}.log"

    def lines(self, service: str) -> list[str]:
        with self._path(service).open(errors="replace") as log:
            log.seek(self._from[service])
            return log.read().splitlines()


def assert_each_outage_logged_once(logs: Logs, dependency: str, services: tuple[str, ...]) -> None:
    """Once when it began and once when it ended, per part of a service; and the Kafka client's repeats held back."""
    for service in services:
        lines = logs.lines(service)
        began = collections.Counter(
            match[1] for line in lines if (match := re.search(rf"shared\.failures: (.+?): {dependency} unavailable", line))
        )
        ended = collections.Counter(
            match[1] for line in lines if (match := re.search(rf"shared\.failures: (.+?): {dependency} back after", line))
        )
        assert began, f"{service} should have logged that it waits for {dependency}"
        assert began == ended and set(began.values()) == {1}, f"{service}: began {dict(began)}, ended {dict(ended)}"
        client_errors = [line for line in lines if " aiokafka" in line and (" ERROR " in line or " WARNING " in line)]
        assert len(client_errors) < 100, f"{service}: {len(client_errors)} lines from the Kafka client"


def report(what: str, outage: float, figures: dict, waits: dict[str, float]) -> None:
    waiting = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in sorted(waits.items()))
    print(f"\n{what}: outage {outage:.1f} s (kill to ready again); {figures}; waited: {waiting}")


# --- the tests ---


def test_a_cluster_set_up_by_an_older_infra_sh_gets_durable_commits_back(infrastructure: PrivateInfrastructure):
    """Older versions of deploy/infra.sh created the cluster with synchronous_commit = off; start puts it right."""
    conf = infrastructure.state / "pg" / "postgresql.conf"
    conf.write_text(conf.read_text() + "synchronous_commit = off\n")
    asyncio.run(postgresql(infrastructure.stack, "SELECT pg_reload_conf()"))
    deadline = time.monotonic() + 30
    while asyncio.run(durability(infrastructure.stack)) != ("off", "on"):  # The server reloads it in a moment.
        assert time.monotonic() < deadline, "the old setting should be in force before start fixes it"

    infrastructure.start()

    assert asyncio.run(durability(infrastructure.stack)) == ("on", "on"), "synchronous_commit and fsync"
    assert not re.search(r"^\s*synchronous_commit\s*=", conf.read_text(), re.MULTILINE), "the old line, removed"


async def postgresql(stack: Stack, query: str) -> object:
    server = make_url(stack.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(server)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def durability(stack: Stack) -> tuple[object, object]:
    return await postgresql(stack, "SHOW synchronous_commit"), await postgresql(stack, "SHOW fsync")


def test_postgresql_killed_in_the_middle_of_a_cohort(node: Node, infrastructure: PrivateInfrastructure):
    stack = infrastructure.stack
    cohort = enrolled_cohort(node, "PostgreSQL Restart Course")
    before = credentials_issued(node)
    logs = Logs()
    lms = LMS(node, cohort.submissions)
    lms.start()
    node.wait_for(
        "40 % of the credentials",
        lambda: True if credentials_issued(node) - before >= 0.4 * len(cohort.passing) else None,
    )

    killed = time.monotonic()
    infrastructure.kill("postgresql")
    try:
        # The LMS goes on publishing (Kafka is up): the grades pile up while assessment waits for its database.
        lms.finish(node)
        node.wait_for(
            "assessment to say that its consumer waits for the database",
            lambda: True
            if any("consumer waiting for database" in line for line in readiness(node, "assessment").get("waiting", []))
            else None,
        )
        node.wait_for(
            f"the node to wait for its database for {WAITED_AT_LEAST:.0f} s",
            lambda: True if max(waited(node, "database").values(), default=0) >= WAITED_AT_LEAST else None,
        )
    finally:
        infrastructure.start()
    node.wait_for("every service to be ready again", lambda: True if all(
        readiness(node, service)["status"] == "ready" for service in SERVICES) else None)
    outage = time.monotonic() - killed

    figures = assert_nothing_lost_nothing_invented(node, stack, cohort)
    assert_each_outage_logged_once(logs, "database", SERVICES)
    for service in SERVICES:
        assert any("LISTEN on outbox is back" in line for line in logs.lines(service)), f"{service} listens again"
    report("PostgreSQL killed", outage, figures, waited(node, "database"))


def test_kafka_killed_in_the_middle_of_a_cohort(node: Node, infrastructure: PrivateInfrastructure):
    stack = infrastructure.stack
    cohort = enrolled_cohort(node, "Kafka Restart Course")
    before = credentials_issued(node)
    kafka_waits_before = waited(node, "kafka")
    logs = Logs()
    lms = LMS(node, cohort.submissions)
    lms.start()
    node.wait_for(
        "40 % of the credentials",
        lambda: True if credentials_issued(node) - before >= 0.4 * len(cohort.passing) else None,
    )

    lms.pause()  # An LMS cannot reach a broker that is down; it sends the rest when it is back.
    killed = time.monotonic()
    infrastructure.kill("kafka")
    try:
        node.wait_for(
            "every service to say Kafka is unavailable",
            lambda: True if all(readiness(node, service)["kafka"] == "unavailable" for service in SERVICES) else None,
        )
        node.wait_for(
            f"an outbox relay to wait for Kafka for {WAITED_AT_LEAST:.0f} s",
            lambda: True if any(
                seconds - kafka_waits_before.get(part, 0) >= WAITED_AT_LEAST
                for part, seconds in waited(node, "kafka").items()
            ) else None,
        )
    finally:
        infrastructure.start()
    lms.resume()
    node.wait_for("every service to be ready again", lambda: True if all(
        readiness(node, service)["status"] == "ready" for service in SERVICES) else None)
    outage = time.monotonic() - killed
    lms.finish(node)

    figures = assert_nothing_lost_nothing_invented(node, stack, cohort)
    waiting_relays = {part.split()[0] for part, seconds in waited(node, "kafka").items()
                      if seconds > kafka_waits_before.get(part, 0)}
    assert_each_outage_logged_once(logs, "kafka", tuple(sorted(waiting_relays)))
    report("Kafka killed", outage, figures, waited(node, "kafka"))
