"""Grading on the real Kafka and PostgreSQL: the course's scheme decides who passes, whichever way a grade comes in
(the LMS topic, one grade over HTTP, a CSV cohort), only enrolled learners are graded, and amendments are published."""

import uuid
from datetime import date

import pytest

from services.assessment.app import create_service
from services.assessment.settings import AssessmentSettings
from deploy.journey import NODE_LMS
from shared.auth import Role
from shared.events import Topic
from shared.events.assessment import GradeAmended, GradeRecorded
from tests.integration.conftest import eventually, running
from tests.integration.test_assessment_consumer import (
    _found,
    _json,
    approved,
    assessor,
    course_known,
    enrolled,
    gradable_course,
    grade,
)
from tests.stack import cloud_event, produce, read_topic

pytestmark = pytest.mark.integration


def ids(prefix: str, n: int = 1) -> list[str]:
    return [f"{prefix}-{uuid.uuid4().hex[:6]}" for _ in range(n)]


async def enrol(stack, client, course: str, *learners: str) -> None:
    for learner in learners:
        await produce(stack, Topic.ENROLMENTS, enrolled(learner, course).to_bytes(), key=learner)
    await eventually(lambda: _count(stack, client, "/enrolments", len(learners), course_id=course))


async def _count(stack, client, path: str, n: int, **params) -> list | None:
    rows = await _json(stack, client, path, **params)
    return rows if len(rows) >= n else None


async def published(stack, event_type: str, learner: str, n: int = 1) -> list[dict]:
    def mine(records) -> list[dict]:
        events = [cloud_event(r) for r in records if r.key == learner.encode()]
        return [e for e in events if e["type"] == event_type]

    return mine(await read_topic(stack, Topic.GRADES, until=lambda records: len(mine(records)) >= n))


async def test_the_german_scheme_not_the_lms_decides_who_passes(stack):
    [course], (good, poor) = ids("course"), ids("learner", 2)
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)
        await enrol(stack, client, course, good, poor)

        await produce(stack, NODE_LMS.topic, grade(good, course, "1.7").to_bytes(), key=good)
        verified = grade(poor, course, "4.3", identity_verification="onsite-with-identity-verification")
        await produce(stack, NODE_LMS.topic, verified.to_bytes(), key=poor)
        grades = await eventually(lambda: _count(stack, client, "/grades", 2, course_id=course))

        decided = {g["learner_id"]: (g["grade"], g["passed"]) for g in grades}
        assert decided == {good: ("1.7", True), poor: ("4.3", False)}
        [passed] = await published(stack, GradeRecorded.type, good)
        [failed] = await published(stack, GradeRecorded.type, poor)
        assert passed["data"]["passed"] is True and failed["data"]["passed"] is False, "the LMS said both passed"
        assert passed["data"]["grading_scheme"] == {
            "kind": "numeric", "name": "German 1.0-5.0", "minimum": 1.0, "maximum": 5.0, "pass_mark": 4.0,
            "lower_is_better": True,
        }
        assert passed["data"]["type_of_assessment"] == "written exam"
        assert passed["data"]["identity_verification"] == "supervised-online", "the course's level"
        assert failed["data"]["identity_verification"] == "onsite-with-identity-verification", "the submission's"


async def test_without_a_grading_scheme_grades_are_rejected_and_say_so(stack):
    [course], [learner] = ids("course"), ids("learner")
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await course_known(stack, client, course)
        await enrol(stack, client, course, learner)
        assert (await client.get(f"/courses/{course}/grading-scheme")).status_code == 404

        await produce(stack, NODE_LMS.topic, grade(learner, course).to_bytes(), key=learner)
        [rejection] = await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=learner))

        assert rejection["rule"] == "no-grading-scheme"
        assert f"course {course} has no grading scheme" in rejection["reason"]
        assert await _json(stack, client, "/grades", learner_id=learner) == []


async def test_only_an_awarding_institution_sets_the_scheme(stack):
    [course] = ids("course")
    scheme = {"scheme": {"kind": "numeric", "minimum": 0, "maximum": 20, "pass_mark": 10}}
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await course_known(stack, client, course)
        stranger = stack.bearer("registrar@uni-a.eu", Role.REGISTRAR, institution="uni-a")
        learner = stack.bearer("learner-1", Role.LEARNER, institution="uni-saarland")
        registrar = stack.bearer("registrar@uni-saarland.eu", Role.REGISTRAR, institution="uni-saarland")

        refused = await client.put(f"/courses/{course}/grading-scheme", json=scheme, headers=stranger)
        assert refused.status_code == 403 and "uni-saarland" in refused.json()["detail"]
        refused = await client.put(f"/courses/{course}/grading-scheme", json=scheme, headers=learner)
        assert refused.status_code == 403 and "registrar or assessor" in refused.json()["detail"]
        response = await client.put(f"/courses/{course}/grading-scheme", json=scheme, headers=registrar)
        assert response.status_code == 200, response.text

        stored = (await client.get(f"/courses/{course}/grading-scheme")).json()
        assert stored["scheme"]["pass_mark"] == 10 and stored["set_by"] == "registrar@uni-saarland.eu"

        ects = {"scheme": {"kind": "ects"}}
        changed = await client.put(f"/courses/{course}/grading-scheme", json=ects, headers=assessor(stack))
        assert changed.status_code == 200, changed.text
        stored = (await client.get(f"/courses/{course}/grading-scheme")).json()
        assert stored["scheme"] == {"kind": "ects", "name": None} and stored["set_by"] == "assessor@uni-saarland.eu"


async def test_the_scheme_of_a_joint_course_is_the_leads_and_its_partner_grades_but_reads_only_its_courses(stack):
    [course], [learner] = ids("course"), ids("learner")
    scheme = {"scheme": {"kind": "ects"}}
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await produce(stack, Topic.COURSES, approved(course, "uni-saarland", "uni-sofia").to_bytes(), key=course)
        await eventually(lambda: _found(client, f"/courses/{course}"))
        partner = assessor(stack, "uni-sofia")
        refused = await client.put(f"/courses/{course}/grading-scheme", json=scheme, headers=partner)
        assert refused.status_code == 403 and "belongs to uni-saarland" in refused.json()["detail"]
        assert (await client.put(f"/courses/{course}/grading-scheme", json=scheme, headers=assessor(stack))).status_code == 200

        await enrol(stack, client, course, learner)
        body = {"course_id": course, "learner_id": learner, "grade": "B", "assessed_on": str(date.today())}
        graded = await client.post("/grades", json=body, headers=partner)
        assert graded.status_code == 201, "a co-awarding university's assessor grades the joint course"
        assert [g["id"] for g in (await client.get("/grades", headers=partner)).json()] == [graded.json()["id"]]
        outsider = assessor(stack, "uni-elsewhere")
        assert (await client.get("/grades", params={"course_id": course}, headers=outsider)).json() == []
        assert (await client.get(f"/grades/{graded.json()['id']}", headers=outsider)).status_code == 403
        assert (await client.get("/grades", params={"learner_id": learner})).status_code == 401


async def test_an_assessor_of_the_awarding_institution_grades_over_http_and_others_may_not(stack):
    [course], [learner] = ids("course"), ids("learner")
    body = {"course_id": course, "learner_id": learner, "grade": "2.3", "assessed_on": str(date.today())}
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)
        await enrol(stack, client, course, learner)

        refused = await client.post("/grades", json=body, headers=assessor(stack, "uni-elsewhere"))
        assert refused.status_code == 403
        assert f"grading course {course} belongs to uni-saarland" in refused.json()["detail"]

        response = await client.post("/grades", json=body, headers=assessor(stack))
        assert response.status_code == 201, response.text
        recorded = response.json()
        assert (recorded["grade"], recorded["passed"], recorded["channel"]) == ("2.3", True, "http")
        assert recorded["assessor"] == "assessor@uni-saarland.eu"
        [event] = await published(stack, GradeRecorded.type, learner)
        assert event["data"]["grade_id"] == recorded["id"]

        again = await client.post("/grades", json=body | {"grade": "1.0"}, headers=assessor(stack))
        assert again.status_code == 409
        assert again.json()["detail"]["rule"] == "already-graded"
        assert f"/grades/{recorded['id']}/amendments" in again.json()["detail"]["reason"]


async def test_a_csv_cohort_records_the_valid_rows_and_rejects_the_others_with_their_lines(stack):
    [course], learners = ids("course"), ids("learner", 4)
    stranger = f"stranger-{uuid.uuid4().hex[:6]}"
    csv = (
        "learner_id,grade,assessed_on\n"
        f"{learners[0]},1.0,2026-11-20\n"
        f"{learners[1]},\"3,7\",2026-11-20\n"
        f"{stranger},2.0,2026-11-20\n"
        f"{learners[2]},4.7,2026-11-20\n"
        f"{learners[3]},7.0,2026-11-20\n"
    )
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)
        await enrol(stack, client, course, *learners)

        response = await client.post(
            "/grades/bulk",
            data={"course_id": course},
            files={"file": ("cohort.csv", csv.encode(), "text/csv")},
            headers=assessor(stack),
        )

        assert response.status_code == 200, response.text
        result = response.json()
        assert [(r["line"], r["learner_id"], r["passed"]) for r in result["recorded"]] == [
            (2, learners[0], True), (3, learners[1], True), (5, learners[2], False)
        ]
        assert [(r["line"], r["learner_id"], r["rule"]) for r in result["rejected"]] == [
            (4, stranger, "learner-not-enrolled"), (6, learners[3], "grade-out-of-scale")
        ]
        assert "the scale 1 to 5" in result["rejected"][1]["reason"]
        rejections = await _json(stack, client, "/grade-rejections", course_id=course)
        assert sorted((r["line"], r["channel"]) for r in rejections) == [(4, "csv"), (6, "csv")]
        assert len(await _json(stack, client, "/grades", course_id=course)) == 3


async def test_an_invalid_csv_names_line_and_column_and_writes_nothing(stack):
    [course], [learner] = ids("course"), ids("learner")
    csv = f"learner_id,grade,assessed_on\n{learner},1.3,2026-11-20\n{learner},2.0,20.11.2026\n"
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)
        await enrol(stack, client, course, learner)

        response = await client.post(
            "/grades/bulk",
            params={"course_id": course},
            content=csv.encode(),
            headers=assessor(stack) | {"content-type": "text/csv"},
        )

        assert response.status_code == 422
        [problem] = response.json()["detail"]
        assert (problem["line"], problem["column"]) == (3, "assessed_on")
        assert await _json(stack, client, "/grades", course_id=course) == []
        assert await _json(stack, client, "/grade-rejections", course_id=course) == []

        missing = await client.post(
            "/grades/bulk",
            params={"course_id": course},
            content=b"learner_id,assessed_on\nx,2026-11-20\n",
            headers=assessor(stack) | {"content-type": "text/csv"},
        )
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["msg"] == "line 1, column grade: the header has no such column"


async def test_an_amendment_that_turns_a_pass_into_a_fail_is_published_with_both_values(stack):
    [course], [learner] = ids("course"), ids("learner")
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)
        await enrol(stack, client, course, learner)
        await produce(stack, NODE_LMS.topic, grade(learner, course, "2.0").to_bytes(), key=learner)
        [recorded] = await eventually(lambda: _json(stack, client, "/grades", learner_id=learner))
        amendment = {"grade": "5,0", "reason": "plagiarism found after grading"}

        refused = await client.post(
            f"/grades/{recorded['id']}/amendments", json=amendment, headers=assessor(stack, "uni-elsewhere")
        )
        assert refused.status_code == 403
        off_scale = await client.post(
            f"/grades/{recorded['id']}/amendments", json=amendment | {"grade": "6"}, headers=assessor(stack)
        )
        assert off_scale.status_code == 422 and "the scale 1 to 5" in off_scale.json()["detail"]
        response = await client.post(f"/grades/{recorded['id']}/amendments", json=amendment, headers=assessor(stack))

        assert response.status_code == 201, response.text
        history = (await client.get(f"/grades/{recorded['id']}", headers=assessor(stack))).json()
        assert (history["grade"], history["passed"]) == ("5,0", False)
        changes = [(a["previous_grade"], a["previous_passed"], a["grade"], a["passed"]) for a in history["amendments"]]
        assert changes == [("2.0", True, "5,0", False)]
        [event] = await published(stack, GradeAmended.type, learner)
        data = event["data"]
        assert (data["previous_grade"], data["previous_passed"], data["grade"], data["passed"]) == (
            "2.0", True, "5,0", False
        )
        assert data["grade_id"] == recorded["id"] and data["reason"] == "plagiarism found after grading"
        assert data["learner"]["learner_id"] == learner and event["subject"] == learner
