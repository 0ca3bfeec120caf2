"""Who may do what to a course, joint courses, revisions and retirement, on the real Kafka and PostgreSQL."""

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


async def events_about(stack, topic: str, key: str, count: int) -> list[dict]:
    records = await read_topic(stack, topic, until=lambda rs: sum(r.key == key.encode() for r in rs) >= count)
    return [cloud_event(r) for r in records if r.key == key.encode()]


async def test_a_joint_course_designed_at_the_partner_is_approved_by_the_leads_qa_and_kafka_names_both(client, stack):
    saarland, vilnius = university("Saarland University"), university("Vytautas Magnus University", "LT")
    joint = description(saarland, vilnius)
    # Designed at the partner (Vytautas Magnus), led by Saarland.
    created = await client.post("/courses", json={"description": joint}, headers=designer(stack, vilnius["id"]))
    assert created.status_code == 201, created.text
    course = created.json()
    assert course["institutions"] == [saarland["id"], vilnius["id"]] and course["status"] == "draft"
    await client.post(f"/courses/{course['id']}/submit", headers=designer(stack, vilnius["id"]))

    partner_qa = await client.post(f"/courses/{course['id']}/approve", headers=qa_officer(stack, vilnius["id"]))
    assert partner_qa.status_code == 403
    assert saarland["id"] in partner_qa.json()["detail"] and vilnius["id"] in partner_qa.json()["detail"]

    approved = await client.post(f"/courses/{course['id']}/approve", headers=qa_officer(stack, saarland["id"]))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    submitted, approval = await events_about(stack, Topic.COURSES, course["id"], 2)
    assert approval["type"] == "eu.microcredentials.catalogue.course.approved.v1"
    assert [body["id"] for body in approval["data"]["description"]["awarding_bodies"]] == [
        saarland["id"],
        vilnius["id"],
    ]
    assert approval["data"]["approved_by"] == f"qa@{saarland['id']}"
    assert submitted["data"]["submitted_by"] == f"designer@{vilnius['id']}"
    shown = (await client.get(f"/courses/{course['id']}")).json()
    assert [body["name"] for body in shown["description"]["awarding_bodies"]] == [
        "Saarland University",
        "Vytautas Magnus University",
    ]


async def test_a_designer_of_another_university_is_refused_naming_the_institutions(client, stack):
    saarland, outsider = university("Saarland University"), university("University of Trieste", "IT")
    course = description(saarland)
    refused = await client.post("/courses", json={"description": course}, headers=designer(stack, outsider["id"]))
    assert refused.status_code == 403
    assert saarland["id"] in refused.json()["detail"] and outsider["id"] in refused.json()["detail"]

    created = await client.post("/courses", json={"description": course}, headers=designer(stack, saarland["id"]))
    submit = await client.post(f"/courses/{created.json()['id']}/submit", headers=designer(stack, outsider["id"]))
    assert submit.status_code == 403 and outsider["id"] in submit.json()["detail"]
    assert (await client.get(f"/courses/{created.json()['id']}")).json()["status"] == "draft"


async def test_a_learner_cannot_create_a_course_and_without_a_token_nobody_can(client, stack):
    saarland = university("Saarland University")
    learner = stack.bearer("lea@student.uni-saarland.de", Role.LEARNER, institution=saarland["id"])
    refused = await client.post("/courses", json={"description": description(saarland)}, headers=learner)
    assert refused.status_code == 403 and "course-designer" in refused.json()["detail"]

    anonymous = await client.post("/courses", json={"description": description(saarland)})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/courses", params={"institution": saarland["id"]})).json() == []


async def test_revising_an_approved_course_makes_version_2_a_draft_and_leaves_version_1_as_approved(client, stack):
    saarland = university("Saarland University")
    first = await approved_course(client, stack, description(saarland, title="Ethics of AI"))
    revised_description = first["description"] | {
        "title": "Ethics of AI and the AI Act",
        "ects": 4,
        "workload_hours": 100,
    }

    revision = await client.post(
        f"/courses/{first['id']}/revisions",
        json={"description": revised_description},
        headers=designer(stack, saarland["id"]),
    )
    assert revision.status_code == 201, revision.text
    assert (revision.json()["version"], revision.json()["status"]) == (2, "draft")
    latest = (await client.get(f"/courses/{first['id']}")).json()
    assert (latest["version"], latest["description"]["title"]) == (2, "Ethics of AI and the AI Act")
    version_1 = (await client.get(f"/courses/{first['id']}/versions/1")).json()
    assert version_1["status"] == "approved"
    assert version_1["description"] == first["description"] and version_1["reviewed_at"] == first["reviewed_at"]
    assert [v["status"] for v in (await client.get(f"/courses/{first['id']}/versions")).json()] == ["approved", "draft"]
    # Learners still find version 1 among the approved courses while version 2 is in QA.
    approved = (await client.get("/courses", params={"status": "approved", "institution": saarland["id"]})).json()
    assert [(c["id"], c["version"]) for c in approved] == [(first["id"], 1)]

    again = await client.post(
        f"/courses/{first['id']}/revisions",
        json={"description": revised_description},
        headers=designer(stack, saarland["id"]),
    )
    assert again.status_code == 409 and "version 2 is draft" in again.json()["detail"]

    await client.post(f"/courses/{first['id']}/submit", headers=designer(stack, saarland["id"]))
    await client.post(f"/courses/{first['id']}/approve", headers=qa_officer(stack, saarland["id"]))
    events = await events_about(stack, Topic.COURSES, first["id"], 4)
    assert [(e["type"].split(".")[-2], e["data"]["version"]) for e in events] == [
        ("submitted", 1),
        ("approved", 1),
        ("submitted", 2),
        ("approved", 2),
    ]


async def test_a_rejected_course_says_why_and_can_be_revised(client, stack):
    saarland = university("Saarland University")
    course = description(saarland)
    created = (
        await client.post("/courses", json={"description": course}, headers=designer(stack, saarland["id"]))
    ).json()
    await client.post(f"/courses/{created['id']}/submit", headers=designer(stack, saarland["id"]))
    reasons = ["The learning outcomes are not assessable as written"]
    rejected = await client.post(
        f"/courses/{created['id']}/reject", json={"reasons": reasons}, headers=qa_officer(stack, saarland["id"])
    )
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["rejection_reasons"]) == ("rejected", reasons)
    _, rejection = await events_about(stack, Topic.COURSES, created["id"], 2)
    assert (
        rejection["type"] == "eu.microcredentials.catalogue.course.rejected.v1"
        and rejection["data"]["reasons"] == reasons
    )

    revision = await client.post(
        f"/courses/{created['id']}/revisions", json={"description": course}, headers=designer(stack, saarland["id"])
    )
    assert (revision.json()["version"], revision.json()["status"]) == (2, "draft")


async def test_retiring_a_course_publishes_course_retired_and_only_the_lead_may(client, stack):
    saarland, vilnius = university("Saarland University"), university("Vytautas Magnus University", "LT")
    course = await approved_course(client, stack, description(saarland, vilnius))
    registrar = stack.bearer("reg@saarland", Role.REGISTRAR, institution=saarland["id"])
    assert (await client.post(f"/courses/{course['id']}/retire", headers=registrar)).status_code == 403
    partner_admin = stack.bearer("admin@vilnius", Role.NODE_ADMIN, institution=vilnius["id"])
    assert (await client.post(f"/courses/{course['id']}/retire", headers=partner_admin)).status_code == 403

    admin = stack.bearer("admin@saarland", Role.NODE_ADMIN, institution=saarland["id"])
    retired = await client.post(
        f"/courses/{course['id']}/retire", json={"reason": "Replaced by a new course"}, headers=admin
    )
    assert retired.status_code == 200, retired.text
    assert [(v["version"], v["status"]) for v in retired.json()] == [(1, "retired")]
    *_, retirement = await events_about(stack, Topic.COURSES, course["id"], 3)
    assert retirement["type"] == "eu.microcredentials.catalogue.course.retired.v1"
    assert (
        retirement["data"].items()
        >= {"version": 1, "retired_by": "admin@saarland", "reason": "Replaced by a new course"}.items()
    )
    assert (await client.post(f"/courses/{course['id']}/retire", headers=admin)).status_code == 409
    retired_revision = await client.post(
        f"/courses/{course['id']}/revisions",
        json={"description": course["description"]},
        headers=designer(stack, saarland["id"]),
    )
    assert retired_revision.status_code == 409


async def test_a_co_awarding_university_can_neither_drop_the_lead_nor_approve_nor_retire_its_versions(client, stack):
    saarland, vilnius = university("Saarland University"), university("Vytautas Magnus University", "LT")
    course = await approved_course(client, stack, description(saarland, vilnius))
    partner_designer, partner_qa = designer(stack, vilnius["id"]), qa_officer(stack, vilnius["id"])
    without_the_lead = course["description"] | {"awarding_bodies": [vilnius]}

    takeover = await client.post(
        f"/courses/{course['id']}/revisions", json={"description": without_the_lead}, headers=partner_designer
    )
    assert takeover.status_code == 403
    assert "changing the awarding bodies" in takeover.json()["detail"] and saarland["id"] in takeover.json()["detail"]

    # The partner may revise the rest; judging it stays the lead's, whatever the revision says.
    retitled = course["description"] | {"title": f"{course['description']['title']} (revised)"}
    revision = await client.post(
        f"/courses/{course['id']}/revisions", json={"description": retitled}, headers=partner_designer
    )
    assert revision.status_code == 201, revision.text
    assert (await client.post(f"/courses/{course['id']}/submit", headers=partner_designer)).status_code == 200
    partner_approval = await client.post(f"/courses/{course['id']}/approve", headers=partner_qa)
    assert partner_approval.status_code == 403 and saarland["id"] in partner_approval.json()["detail"]
    assert (await client.post(f"/courses/{course['id']}/retire", headers=partner_qa)).status_code == 403
    versions = (await client.get(f"/courses/{course['id']}/versions")).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "approved"), (2, "submitted")]

    # Handing the lead over is the lead's own decision, approved by its own QA.
    await client.post(
        f"/courses/{course['id']}/reject", json={"reasons": ["Keep the title"]}, headers=qa_officer(stack, saarland["id"])
    )
    handover = course["description"] | {"awarding_bodies": [vilnius, saarland]}
    by_the_lead = await client.post(
        f"/courses/{course['id']}/revisions", json={"description": handover}, headers=designer(stack, saarland["id"])
    )
    assert by_the_lead.status_code == 201 and by_the_lead.json()["institutions"] == [vilnius["id"], saarland["id"]]
    await client.post(f"/courses/{course['id']}/submit", headers=designer(stack, saarland["id"]))
    assert (await client.post(f"/courses/{course['id']}/approve", headers=partner_qa)).status_code == 403
    handed_over = await client.post(f"/courses/{course['id']}/approve", headers=qa_officer(stack, saarland["id"]))
    assert handed_over.status_code == 200, handed_over.text
    assert (await client.post(f"/courses/{course['id']}/retire", headers=partner_qa)).status_code == 200


async def test_the_qa_queue_lists_the_submitted_courses_of_an_institution(client, stack):
    trieste, other = university("University of Trieste", "IT"), university("University of Silesia", "PL")
    waiting = (
        await client.post(
            "/courses", json={"description": description(trieste)}, headers=designer(stack, trieste["id"])
        )
    ).json()
    await client.post("/courses", json={"description": description(trieste)}, headers=designer(stack, trieste["id"]))
    await client.post(f"/courses/{waiting['id']}/submit", headers=designer(stack, trieste["id"]))
    await client.post("/courses", json={"description": description(other)}, headers=designer(stack, other["id"]))

    queue = (await client.get("/courses", params={"status": "submitted", "institution": trieste["id"]})).json()
    assert [course["id"] for course in queue] == [waiting["id"]]
    assert len((await client.get("/courses", params={"institution": trieste["id"]})).json()) == 2


async def test_a_draft_is_changed_until_submitted_with_every_policy_rule_at_once_and_names_kept(client, stack):
    saarland = university("Saarland University")
    designing = stack.bearer(f"designer@{saarland['id']}", Role.COURSE_DESIGNER, institution=saarland["id"],
                             name="Julia Becker")
    created = await client.post("/courses", json={"description": description(saarland)}, headers=designing)
    assert created.status_code == 201, created.text
    course = created.json()
    assert course["designed_by_name"] == "Julia Becker"
    assert course["description"]["funding"] == "alliance-funded"
    assert course["description"]["curriculum_inclusion"] == ["elective", "extracurricular"]

    broken = description(saarland, title=course["description"]["title"], funding="other", funding_note=None,
                         access="limited", max_participants=None, ects=40)
    refused = await client.put(f"/courses/{course['id']}", json={"description": broken}, headers=designing)
    assert refused.status_code == 422
    assert {tuple(problem["loc"][1:]) for problem in refused.json()["detail"]} == {
        ("description", "funding_note"), ("description", "max_participants"), ("description", "ects"),
        ("description", "workload_hours"),
    }
    fixed = description(saarland, title=course["description"]["title"], funding="other",
                        funding_note="Paid by the regional innovation fund", sustainability="A yearly run")
    changed = await client.put(f"/courses/{course['id']}", json={"description": fixed}, headers=designing)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["description"]["funding_note"]) == (
        1, "Paid by the regional innovation fund")

    submitted = await client.post(f"/courses/{course['id']}/submit", headers=designing)
    assert submitted.json()["submitted_by_name"] == "Julia Becker"
    too_late = await client.put(f"/courses/{course['id']}", json={"description": fixed}, headers=designing)
    assert too_late.status_code == 409 and "only a draft can be changed" in too_late.json()["detail"]
    reviewing = stack.bearer(f"qa@{saarland['id']}", Role.QA_OFFICER, institution=saarland["id"], name="Thomas Wagner")
    approved = await client.post(f"/courses/{course['id']}/approve", headers=reviewing)
    assert approved.json()["reviewed_by_name"] == "Thomas Wagner"
    (_, approval) = await events_about(stack, Topic.COURSES, course["id"], 2)
    assert approval["data"]["description"]["funding_note"] == "Paid by the regional innovation fund"


async def test_another_universitys_designer_cannot_change_a_draft(client, stack):
    saarland, outsider = university("Saarland University"), university("University of Trieste", "IT")
    course = (await client.post("/courses", json={"description": description(saarland)},
                                headers=designer(stack, saarland["id"]))).json()
    refused = await client.put(f"/courses/{course['id']}", json={"description": description(saarland)},
                               headers=designer(stack, outsider["id"]))
    assert refused.status_code == 403 and saarland["id"] in refused.json()["detail"]
