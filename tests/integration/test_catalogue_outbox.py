"""The catalogue publishes through its outbox onto the real Kafka: structured CloudEvents, keyed, with trace context."""

import uuid

import pytest

from deploy.journey import sample_course
from services.catalogue.app import create_service
from services.catalogue.settings import CatalogueSettings
from shared.events import Topic
from tests.integration.conftest import running
from tests.stack import cloud_event, header, read_topic

pytestmark = pytest.mark.integration


async def test_an_approved_course_reaches_kafka_as_a_cloudevent_keyed_by_the_course(stack):
    settings = stack.settings(CatalogueSettings, node_uri="https://mc.uni-saarland.de")
    async with running(create_service(settings)) as client:
        created = await client.post("/courses", json={"designed_by": "designer-1", "description": sample_course()})
        course_id = created.json()["id"]
        assert (await client.post(f"/courses/{course_id}/submit")).status_code == 200
        approved = await client.post(f"/courses/{course_id}/approve", json={"reviewed_by": "qa-officer-1"})
        assert approved.json()["status"] == "approved"

        records = await read_topic(
            stack, Topic.COURSES, until=lambda rs: sum(r.key == course_id.encode() for r in rs) >= 2, timeout=15
        )
    submitted, approval = [r for r in records if r.key == course_id.encode()]
    event = cloud_event(approval)
    assert cloud_event(submitted)["type"] == "eu.microcredentials.catalogue.course.submitted.v1"
    assert event["type"] == "eu.microcredentials.catalogue.course.approved.v1"
    assert event["specversion"] == "1.0" and event["source"] == "https://mc.uni-saarland.de"
    assert event["subject"] == course_id
    assert event["data"]["description"]["ects"] == 3
    assert header(approval, "content-type") == "application/cloudevents+json"
    # The trace of the approving HTTP request travels with the event, in the envelope and in the Kafka header.
    assert event["traceparent"].startswith("00-") and header(approval, "traceparent") == event["traceparent"]


async def test_invalid_and_out_of_policy_descriptions_are_refused_naming_every_field(stack):
    settings = stack.settings(CatalogueSettings)
    designer = f"designer-{uuid.uuid4().hex[:6]}"
    async with running(create_service(settings)) as client:
        broken = sample_course() | {"ects": -2, "languages": []}
        response = await client.post("/courses", json={"designed_by": designer, "description": broken})
        assert response.status_code == 422
        assert {tuple(e["loc"][-2:]) for e in response.json()["detail"]} == {
            ("description", "ects"),
            ("description", "languages"),
        }

        too_big = sample_course() | {"ects": 45, "workload_hours": 400}
        response = await client.post("/courses", json={"designed_by": designer, "description": too_big})
        assert response.status_code == 422
        messages = {e["loc"][-1]: e["msg"] for e in response.json()["detail"]}
        assert "between 1 and 30 ECTS" in messages["ects"] and "T4EU" in messages["ects"]
        assert "25 hours per ECTS" in messages["workload_hours"]
        written = [c for c in (await client.get("/courses")).json() if c["designed_by"] == designer]
        assert written == [], "nothing was written"


async def test_a_designer_cannot_approve_their_own_course(stack):
    settings = stack.settings(CatalogueSettings)
    async with running(create_service(settings)) as client:
        course_id = (await client.post("/courses", json={"designed_by": "ana", "description": sample_course()})).json()["id"]
        await client.post(f"/courses/{course_id}/submit")
        response = await client.post(f"/courses/{course_id}/approve", json={"reviewed_by": "ana"})
        assert response.status_code == 403 and "cannot also review" in response.json()["detail"]
        assert (await client.get(f"/courses/{course_id}")).json()["status"] == "submitted"
        unknown = await client.post(f"/courses/{uuid.uuid4()}/submit")
        assert unknown.status_code == 404
