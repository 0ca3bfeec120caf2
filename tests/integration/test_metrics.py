"""What an operator's Prometheus sees: requests, events consumed and dead-lettered, lag, and the outbox backlog."""

import uuid

import pytest

from deploy.journey import NODE_LMS
from services.assessment.app import create_service
from services.assessment.settings import AssessmentSettings
from tests.integration.conftest import eventually, running
from tests.stack import produce

pytestmark = pytest.mark.integration


def sample(text: str, name: str, **labels: str) -> float:
    """The first sample of a metric in Prometheus' text format that carries these labels; 0 when there is none."""
    for line in text.splitlines():
        metric, _, value = line.rpartition(" ")
        if metric.split("{")[0] == name and all(f'{key}="{wanted}"' in metric for key, wanted in labels.items()):
            return float(value)
    return 0.0


async def test_metrics_count_requests_consumed_and_dead_lettered_messages(stack):
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await client.get("/grades")  # Without a token: refused, and counted as such.
        await produce(stack, NODE_LMS.topic, b"not json", key=f"learner-{uuid.uuid4().hex[:6]}")

        async def dead_lettered() -> str | None:
            text = (await client.get("/metrics")).text
            return text if sample(text, "mc_dead_lettered_total") >= 1 else None

        text = await eventually(dead_lettered)

    assert sample(text, "mc_http_requests_total", method="GET", route="/grades", status="401") == 1
    assert sample(text, "mc_events_consumed_total", type="invalid", outcome="dead-lettered") >= 1
    assert "mc_consumer_lag{" in text and "mc_outbox_backlog 0.0" in text
