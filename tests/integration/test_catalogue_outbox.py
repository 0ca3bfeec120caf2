"""The catalogue publishes through its outbox onto the real Kafka: structured CloudEvents, keyed, with trace context."""

import asyncio
from datetime import timedelta

import pytest
from sqlmodel import select

from services.catalogue.app import create_service
from services.catalogue.settings import CatalogueSettings
from services.catalogue.tests.samples import description, designer, qa_officer, university
from shared.auth import Role
from shared.events import Topic
from shared.db import OutboxMessage, create_engine, create_sessionmaker, utcnow
from shared.outbox import OutboxRelay
from tests.integration.conftest import running
from tests.stack import cloud_event, header, read_topic

pytestmark = pytest.mark.integration


async def test_an_approved_course_reaches_kafka_as_a_cloudevent_keyed_by_the_course(stack):
    settings = stack.settings(CatalogueSettings, node_uri="https://mc.uni-saarland.de")
    saarland = university("Saarland University")
    ana = designer(stack, saarland["id"], "ana@uni-saarland.de")
    async with running(create_service(settings)) as client:
        created = await client.post("/courses", json={"description": description(saarland)}, headers=ana)
        course_id = created.json()["id"]
        assert (await client.post(f"/courses/{course_id}/submit", headers=ana)).status_code == 200
        approved = await client.post(
            f"/courses/{course_id}/approve", headers=qa_officer(stack, saarland["id"], "qa@uni-saarland.de")
        )
        assert approved.json()["status"] == "approved"

        records = await read_topic(
            stack, Topic.COURSES, until=lambda rs: sum(r.key == course_id.encode() for r in rs) >= 2, timeout=15
        )
    submission, approval = [r for r in records if r.key == course_id.encode()]
    event = cloud_event(approval)
    assert cloud_event(submission)["type"] == "eu.microcredentials.catalogue.course.submitted.v1"
    assert cloud_event(submission)["data"]["submitted_by"] == "ana@uni-saarland.de", "the person comes from the token"
    assert event["type"] == "eu.microcredentials.catalogue.course.approved.v1"
    assert event["specversion"] == "1.0" and event["source"] == "https://mc.uni-saarland.de"
    assert event["subject"] == course_id
    assert event["data"]["description"]["ects"] == 3 and event["data"]["version"] == 1
    assert event["data"]["approved_by"] == "qa@uni-saarland.de"
    assert header(approval, "content-type") == "application/cloudevents+json"
    # The trace of the approving HTTP request travels with the event, in the envelope and in the Kafka header.
    assert event["traceparent"].startswith("00-") and header(approval, "traceparent") == event["traceparent"]


async def test_invalid_and_out_of_policy_descriptions_are_refused_naming_every_field(stack):
    body = university("Saarland University")
    headers = designer(stack, body["id"])
    async with running(create_service(stack.settings(CatalogueSettings))) as client:
        broken = description(body, ects=-2, languages=[])
        response = await client.post("/courses", json={"description": broken}, headers=headers)
        assert response.status_code == 422
        assert {tuple(e["loc"][-2:]) for e in response.json()["detail"]} == {
            ("description", "ects"),
            ("description", "languages"),
        }

        too_big = description(body | {"country": "XX"}, ects=45, workload_hours=400, languages=["en", "german"])
        response = await client.post("/courses", json={"description": too_big}, headers=headers)
        assert response.status_code == 422
        messages = {tuple(e["loc"][1:]): e["msg"] for e in response.json()["detail"]}
        assert "between 1 and 30 ECTS" in messages["description", "ects"] and "T4EU" in messages["description", "ects"]
        assert "25 hours per ECTS" in messages["description", "workload_hours"]
        assert "ISO 639-1" in messages["description", "languages", 1]
        assert "ISO 3166-1" in messages["description", "awarding_bodies", 0, "country"]
        written = (await client.get("/courses", params={"institution": body["id"]})).json()
        assert written == [], "nothing was written"


async def test_a_4eu_plus_node_refuses_20_ects_that_a_t4eu_node_accepts(stack):
    body = university("Charles University", "CZ")
    twenty = description(body, ects=20, workload_hours=500)
    async with running(
        create_service(stack.settings(CatalogueSettings, policy_name="4EU+", policy_max_ects=15))
    ) as client:
        response = await client.post("/courses", json={"description": twenty}, headers=designer(stack, body["id"]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "4EU+ policy: between 1 and 15 ECTS"
    async with running(create_service(stack.settings(CatalogueSettings))) as client:
        response = await client.post("/courses", json={"description": twenty}, headers=designer(stack, body["id"]))
    assert response.status_code == 201


async def test_a_designer_cannot_approve_their_own_course(stack):
    saarland = university("Saarland University")
    # Ana is both a designer and a QA officer: the four-eyes rule, not her roles, is what stops her.
    ana = stack.bearer("ana@uni-saarland.de", Role.COURSE_DESIGNER, Role.QA_OFFICER, institution=saarland["id"])
    async with running(create_service(stack.settings(CatalogueSettings))) as client:
        created = await client.post("/courses", json={"description": description(saarland)}, headers=ana)
        course_id = created.json()["id"]
        await client.post(f"/courses/{course_id}/submit", headers=ana)
        response = await client.post(f"/courses/{course_id}/approve", headers=ana)
        assert response.status_code == 403
        assert "ana@uni-saarland.de designed" in response.json()["detail"] and "four eyes" in response.json()["detail"]
        assert (await client.get(f"/courses/{course_id}")).json()["status"] == "submitted"
        unknown = await client.post("/courses/no-such-course/submit", headers=ana)
        assert unknown.status_code == 404


async def test_published_outbox_rows_are_deleted_after_the_retention_and_unpublished_ones_never(stack):
    settings = stack.settings(CatalogueSettings, outbox_retention_hours=24)
    async with running(create_service(settings)):  # the catalogue's database and tables exist
        pass
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    now = utcnow()
    rows = {
        "published two days ago": now - timedelta(days=2),
        "published an hour ago": now - timedelta(hours=1),
        "never published": None,
    }
    try:
        async with sessionmaker() as session, session.begin():
            for key, published_at in rows.items():
                session.add(OutboxMessage(
                    topic=str(Topic.COURSES), key=key, value=b"{}", headers={}, created_at=now - timedelta(days=3),
                    published_at=published_at,
                ))
        assert await OutboxRelay(settings, sessionmaker, broker=None).prune() >= 1  # type: ignore[arg-type]
        async with sessionmaker() as session:
            kept = set((await session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(rows)))).all())
    finally:
        await engine.dispose()
    assert kept == {"published an hour ago", "never published"}


async def test_events_committed_close_together_go_to_kafka_in_one_batch_of_the_relay(stack):
    settings = stack.settings(CatalogueSettings, outbox_gather_seconds=0.5)
    saarland = university("Saarland University")
    ana = designer(stack, saarland["id"], "ana@uni-saarland.de")
    async with running(create_service(settings)) as client:
        courses = [
            (await client.post("/courses", json={"description": description(saarland)}, headers=ana)).json()["id"]
            for _ in range(2)
        ]
        for course_id in courses:  # Two transactions, a tenth of a second apart: each wakes the relay.
            assert (await client.post(f"/courses/{course_id}/submit", headers=ana)).status_code == 200
            await asyncio.sleep(0.1)
        await read_topic(stack, Topic.COURSES, until=lambda rs: {r.key.decode() for r in rs} >= set(courses))
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            published = (await session.execute(
                select(OutboxMessage.key, OutboxMessage.published_at).where(OutboxMessage.key.in_(courses))
            )).all()
    finally:
        await engine.dispose()
    # Woken by the first commit, the relay waited for the second and published both with one read and one mark.
    assert len(published) == 2 and published[0].published_at == published[1].published_at is not None
