"""A cohort's credentials issued by the certification service on the real Kafka and PostgreSQL, and where the time goes.

    .venv/bin/python bench/bench_issuing.py --count 10000

As at the end of a semester, the LMS has published a cohort's passing grades (`count` GradeRecorded events) and the
certification service works through them: consume, build, canonicalize, sign, store, outbox, relay, until it has
published as many CredentialIssued. Printed: the time from the service's start (joining the consumer group and starting
its signing worker included) and the rate while it drains the backlog (first to last CredentialIssued). In the same
run, as baselines: raw Ed25519 signatures with the same key, and the same credentials built and signed without the
service (canonicalization and signing alone). `PROOF_PROCESSES` and `CONSUMER_BATCH_SIZE` change the service's
settings. A benchmark, not a test.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pydantic_core  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from services.certification import domain  # noqa: E402
from services.certification.app import create_service  # noqa: E402
from services.certification.settings import CertificationSettings  # noqa: E402
from services.certification.signing_keys import create_key  # noqa: E402
from services.certification.tests.test_vc import SAARLAND, SAARLAND_KEY, SAARLAND_METHOD  # noqa: E402
from services.certification.vc.credential import open_badge_credential_json  # noqa: E402
from services.certification.vc.proof import sign  # noqa: E402
from shared.events import CloudEvent, Topic  # noqa: E402
from shared.events.assessment import GradeRecorded  # noqa: E402
from shared.events.catalogue import CourseApproved, MicroCredentialDescription  # noqa: E402
from shared.events.common import LearnerIdentity  # noqa: E402
from deploy.journey import sample_course  # noqa: E402
from tests.integration.conftest import running  # noqa: E402
from shared.kafka import client_options  # noqa: E402
from tests.stack import clean_up, read_topic, start_stack, with_kafka_principals  # noqa: E402


def grades(course_id: str, count: int, first: int = 0, source: str = "urn:bench:assessment") -> list[CloudEvent]:
    """GradeRecorded events as this node's assessment publishes them (`source`: the node's URI, which certification
    checks against the topic's producer)."""
    events = []
    for index in range(first, first + count):
        learner = LearnerIdentity(learner_id=f"learner-{index}", name=f"Learner {index}", email=f"l{index}@bench.example")
        events.append(CloudEvent.wrap(GradeRecorded(
            grade_id=str(uuid.uuid4()), enrolment_id=str(uuid.uuid4()), course_id=course_id, course_version=1,
            learner_id=learner.learner_id, learner=learner, grade="1.7", passed=True, assessed_on=date.today(),
            submission_id=str(uuid.uuid4()),
        ), source=source))
    return events


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f} /s   {seconds * 1000 / count:6.2f} ms each   ({seconds:.1f} s)"


def baselines(count: int, description: MicroCredentialDescription) -> tuple[float, float]:
    started = time.perf_counter()
    for index in range(count):
        SAARLAND_KEY.sign(f"message {index}".encode())
    raw = time.perf_counter() - started
    record_event = grades("course-bench", 1)[0]
    started = time.perf_counter()
    for index in range(count):
        record = domain.credential_record(GradeRecorded.model_validate(record_event.data), description, datetime.now(UTC))
        credential = open_badge_credential_json(record, f"urn:uuid:{uuid.uuid4()}", SAARLAND, datetime.now(UTC))
        sign(pydantic_core.from_json(credential), SAARLAND_KEY, SAARLAND_METHOD)
    return raw, time.perf_counter() - started


async def main(count: int) -> None:
    # Certification runs as its own principal, as on a node (made with asyncio.run of its own: in a thread).
    stack = await asyncio.to_thread(with_kafka_principals, start_stack())
    keys = Path(tempfile.mkdtemp(prefix="mc-bench-keys-"))
    create_key(keys, "uni-saarland")
    settings = stack.settings(CertificationSettings, issuer_keys_dir=str(keys))
    description = MicroCredentialDescription.model_validate(sample_course("Benchmarking a Cohort"))
    course_id = f"course-{uuid.uuid4().hex[:6]}"
    approved = CloudEvent.wrap(CourseApproved(
        course_id=course_id, version=1, description=description, approved_by="qa", approved_at=datetime.now(UTC)
    ), source=settings.node_uri)
    producer = AIOKafkaProducer(**client_options(stack.harness()), acks="all", linger_ms=5)
    try:
        raw, signed = baselines(min(count, 300), description)
        await producer.start()
        async with running(create_service(settings)):
            await producer.send_and_wait(f"{stack.topic_prefix}{Topic.COURSES}", approved.to_bytes(), key=course_id.encode())
            await asyncio.sleep(2)  # The course reaches the service's read model before any grade, as in real life.
        deliveries = [
            await producer.send(f"{stack.topic_prefix}{Topic.GRADES}", event.to_bytes(), key=event.subject.encode())
            for event in grades(course_id, count, source=settings.node_uri)
        ]
        await asyncio.gather(*deliveries)
        started, cpu_started = time.perf_counter(), time.process_time()
        async with running(create_service(settings)):
            issued = await read_topic(
                stack, Topic.CREDENTIALS, until=lambda records: len(records) >= count, timeout=max(120, count)
            )
            from_start = time.perf_counter() - started
            # This process's CPU (the service's consumer, handlers, relay; and the reading of the topic above), not
            # the signing processes'.
            cpu = time.process_time() - cpu_started
        published_at = sorted(record.timestamp for record in issued)  # when the relay published each, in ms
        draining = (published_at[-1] - published_at[0]) / 1000
        sample = min(count, 300)
        print(f"{count} credentials (one instance of the service, {settings.proof_processes} proof worker processes, "
              f"batches of up to {settings.consumer_batch_size}, {os.cpu_count()} cores); issued: {len(issued)}")
        print(f"  raw Ed25519 signature, same key               {rate(sample, raw)}")
        print(f"  build + canonicalize (RDFC-1.0) + sign         {rate(sample, signed)}")
        print(f"  through the service, draining the cohort       {rate(len(issued) - 1, draining)}")
        print(f"  through the service, from its start            {rate(len(issued), from_start)}")
        print(f"  CPU of the service's process (signing processes apart) {cpu * 1000 / len(issued):6.2f} ms each")
        print(f"  -> 10,000 credentials: about {10_000 * draining / max(len(issued) - 1, 1):.0f} s of draining "
              "on one instance")
    finally:
        await producer.stop()
        await clean_up(stack)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    asyncio.run(main(parser.parse_args().count))
