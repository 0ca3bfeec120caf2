"""An operator replays a service's dead letters once the cause is fixed: they go back to their topic and are handled."""

import uuid

import pytest

from services.enrolment.app import create_service
from services.enrolment.settings import EnrolmentSettings
from shared.dead_letters import ORIGINAL_TOPIC, REASON, replay
from shared.events import CloudEvent, Topic, dead_letter_topic
from tests.integration.conftest import eventually, running
from tests.integration.test_enrolment_applications import offering_opened
from tests.stack import NODE_URI, header, produce, read_topic

pytestmark = pytest.mark.integration


async def test_replayed_dead_letters_reach_their_topic_again_without_the_dead_letter_headers(stack):
    course_id = f"course-{uuid.uuid4().hex[:6]}"
    opened = offering_opened(course_id)
    original_topic = f"{stack.topic_prefix}{Topic.OFFERINGS}"
    # As the consumer would have dead-lettered it (e.g. while its database was away).
    await produce(
        stack,
        dead_letter_topic("enrolment"),
        CloudEvent.wrap(opened, source=NODE_URI).to_bytes(),
        key=opened.offering_id,
        headers={REASON: "failed 5 times, last: ConnectionRefusedError()", ORIGINAL_TOPIC: original_topic},
    )

    replayed = await replay(stack.harness(), "enrolment")  # As the node's administrator: it writes other topics.
    assert replayed >= 1
    assert await replay(stack.harness(), "enrolment") == 0, "each dead letter is replayed once"

    back = await read_topic(stack, Topic.OFFERINGS, until=lambda rs: any(r.key == opened.offering_id.encode() for r in rs))
    [record] = [r for r in back if r.key == opened.offering_id.encode()]
    assert header(record, REASON) is None and header(record, ORIGINAL_TOPIC) is None
    async with running(create_service(stack.settings(EnrolmentSettings))) as client:
        offering = await eventually(lambda: _offering(client, opened.offering_id))
    assert offering["course_id"] == course_id


async def _offering(client, offering_id: str):
    response = await client.get(f"/offerings/{offering_id}")
    return response.json() if response.status_code == 200 else None
