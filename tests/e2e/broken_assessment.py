"""A deliberately broken stand-in for the assessment service, for the conformance kit's test: a small FastAPI and aiokafka
process that answers the HTTP calls of a learner's journey and turns each grade an LMS sends into a GradeRecorded
event that breaks its contract: it has no `passed` (a required field of the type's JSON Schema).

Everything else about it looks right (the node's source, the grades topic, the learner as key), so the kit must find the
flaw in the event itself. It runs as the assessment service's own Kafka principal, with the same environment as the
real service: `python -m tests.e2e.broken_assessment`.
"""

import asyncio
import contextlib
import json
import os
import uuid
from datetime import UTC, date, datetime

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from shared.events import topic_name
from shared.events.topics import Topic, subscription_pattern
from shared.kafka import client_options
from shared.settings import ServiceSettings

GRADE_RECORDED = "eu.microcredentials.assessment.grade.recorded.v1"


def grade_recorded(submission: dict, source: str) -> dict:
    """What the stub publishes for a grade submission: a GradeRecorded without `passed`."""
    data = submission.get("data", {})
    learner_id = data.get("learner_id", "unknown")
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": GRADE_RECORDED,
        "time": datetime.now(UTC).isoformat(),
        "subject": learner_id,
        "datacontenttype": "application/json",
        "data": {
            "grade_id": str(uuid.uuid4()),
            "enrolment_id": str(uuid.uuid4()),
            "course_id": data.get("course_id"),
            "course_version": 1,
            "learner_id": learner_id,
            "learner": {"learner_id": learner_id, "name": "Learner", "email": "learner@example.org"},
            "grade": data.get("grade"),
            "assessed_on": data.get("assessed_on") or date.today().isoformat(),
            "submission_id": submission.get("id"),
        },
    }


async def relay_grades(settings: ServiceSettings) -> None:
    """Reads every LMS's topic as the assessment service would, and publishes the flawed GradeRecorded."""
    pattern = subscription_pattern([Topic.GRADE_SUBMISSIONS], settings.topic_prefix)
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=settings.consumer_group, auto_offset_reset="earliest",
        metadata_max_age_ms=5000,
    )
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await consumer.start()
    await producer.start()
    consumer.subscribe(pattern=pattern)
    try:
        async for record in consumer:
            try:
                submission = json.loads(record.value)
            except ValueError:
                continue  # Not even dead-lettered: another of the stub's flaws.
            if not isinstance(submission, dict) or not isinstance(submission.get("data"), dict):
                continue
            event = grade_recorded(submission, settings.node_uri)
            await producer.send_and_wait(
                topic_name(Topic.GRADES, settings.topic_prefix), json.dumps(event).encode(), key=record.key
            )
    finally:
        await consumer.stop()
        await producer.stop()


def create_app(settings: ServiceSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(relay_grades(settings))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app = FastAPI(title="Broken assessment (a stub)", lifespan=lifespan)

    @app.get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/courses/{course_id}")
    async def course(course_id: str) -> dict[str, str]:
        return {"id": course_id}

    @app.put("/courses/{course_id}/grading-scheme")
    async def grading_scheme(course_id: str, body: dict) -> dict:
        return {"course_id": course_id, **body}

    @app.get("/enrolments")
    async def enrolments(learner_id: str = "", course_id: str = "") -> list[dict[str, str]]:
        # It claims to know every enrolment, so that the journey goes on to the grade.
        return [{"learner_id": learner_id, "course_id": course_id}]

    return app


if __name__ == "__main__":
    service_settings = ServiceSettings(service_name="assessment")
    uvicorn.run(create_app(service_settings), host=service_settings.http_host, port=int(os.environ["HTTP_PORT"]))
