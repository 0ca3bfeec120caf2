"""Programmes: stacks of approved micro-credentials, quality-assured with four eyes like courses."""

import pytest

from services.catalogue.app import create_service
from services.catalogue.settings import CatalogueSettings
from services.catalogue.tests.samples import approved_course, description, designer, qa_officer, university
from shared.auth import Role
from shared.events import Topic
from tests.integration.conftest import running
from tests.stack import cloud_event, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def client(stack):
    async with running(create_service(stack.settings(CatalogueSettings))) as client:
        yield client


async def test_an_approved_programme_reaches_kafka_and_its_designer_could_not_approve_it(client, stack):
    saarland, vilnius = university("Saarland University"), university("Vytautas Magnus University", "LT")
    first = await approved_course(client, stack, description(saarland))
    second = await approved_course(client, stack, description(vilnius, ects=5, workload_hours=125))
    body = {
        "title": "Green Entrepreneurship Pathway",
        "description": "Two micro-credentials from two universities that together make a larger credential.",
        "awarding_bodies": [saarland, vilnius],
        "rule": {"kind": "min-ects", "course_ids": [first["id"], second["id"]], "min_ects": 8},
    }
    ana = stack.bearer("ana@saarland", Role.COURSE_DESIGNER, Role.QA_OFFICER, institution=saarland["id"])
    created = await client.post("/programmes", json=body, headers=ana)
    assert created.status_code == 201, created.text
    programme = created.json()
    assert (programme["status"], programme["institutions"]) == ("draft", [saarland["id"], vilnius["id"]])
    assert (await client.post(f"/programmes/{programme['id']}/submit", headers=ana)).status_code == 200

    own = await client.post(f"/programmes/{programme['id']}/approve", headers=ana)
    assert own.status_code == 403 and "four eyes" in own.json()["detail"]
    partner = await client.post(f"/programmes/{programme['id']}/approve", headers=qa_officer(stack, vilnius["id"]))
    assert partner.status_code == 403 and saarland["id"] in partner.json()["detail"]

    approved = await client.post(f"/programmes/{programme['id']}/approve", headers=qa_officer(stack, saarland["id"]))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    records = await read_topic(
        stack, Topic.PROGRAMMES, until=lambda rs: any(r.key == programme["id"].encode() for r in rs)
    )
    [event] = [cloud_event(r) for r in records if r.key == programme["id"].encode()]
    assert event["type"] == "eu.microcredentials.catalogue.programme.approved.v1"
    assert event["data"]["title"] == "Green Entrepreneurship Pathway" and event["data"]["version"] == 1
    assert event["data"]["rule"] == body["rule"] | {"n": None}
    assert [b["id"] for b in event["data"]["awarding_bodies"]] == [saarland["id"], vilnius["id"]]
    listed = (await client.get("/programmes", params={"status": "approved", "institution": vilnius["id"]})).json()
    assert [p["id"] for p in listed] == [programme["id"]]
    assert (await client.get(f"/programmes/{programme['id']}")).json()["reviewed_by"] == f"qa@{saarland['id']}"


async def test_a_programme_naming_an_unknown_or_unapproved_course_is_refused_naming_them(client, stack):
    saarland = university("Saarland University")
    approved = await approved_course(client, stack, description(saarland))
    draft = (
        await client.post(
            "/courses", json={"description": description(saarland)}, headers=designer(stack, saarland["id"])
        )
    ).json()
    body = {
        "title": "Pathway with a gap",
        "awarding_bodies": [saarland],
        "rule": {"kind": "n-of", "course_ids": [approved["id"], "no-such-course", draft["id"]], "n": 4},
    }
    response = await client.post("/programmes", json=body, headers=designer(stack, saarland["id"]))
    assert response.status_code == 422
    messages = [(e["loc"], e["msg"]) for e in response.json()["detail"]]
    assert messages == [
        (["body", "rule", "course_ids"], "no such course: no-such-course"),
        (["body", "rule", "course_ids"], f"no approved version: {draft['id']}"),
        (["body", "rule", "n"], "n-of: n is at most the 3 courses named"),
    ]
    assert (await client.get("/programmes", params={"institution": saarland["id"]})).json() == []


async def test_a_programme_can_be_rejected_with_reasons(client, stack):
    trieste = university("University of Trieste", "IT")
    course = await approved_course(client, stack, description(trieste))
    body = {
        "title": "Single-course pathway",
        "awarding_bodies": [trieste],
        "rule": {"kind": "all-of", "course_ids": [course["id"]]},
    }
    programme = (await client.post("/programmes", json=body, headers=designer(stack, trieste["id"]))).json()
    await client.post(f"/programmes/{programme['id']}/submit", headers=designer(stack, trieste["id"]))
    reasons = ["A programme of one course adds nothing to the course"]
    rejected = await client.post(
        f"/programmes/{programme['id']}/reject", json={"reasons": reasons}, headers=qa_officer(stack, trieste["id"])
    )
    assert (rejected.json()["status"], rejected.json()["rejection_reasons"]) == ("rejected", reasons)
