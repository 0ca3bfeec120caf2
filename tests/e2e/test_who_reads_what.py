"""The attacks of issue #10 on who may read what, tried through HTTP against the running node: each one fails."""

import json
import uuid

import httpx
import pytest

from deploy.journey import (
    ASSESSOR,
    DESIGNER,
    QA_OFFICER,
    REGISTRAR,
    Node,
    Person,
    bearer_header,
    sample_course,
)

pytestmark = pytest.mark.e2e

SOFIA_DESIGNER = Person("maria.ivanova@uni-sofia.bg", "Dr. Maria Ivanova", "course-designer", "uni-sofia")
SOFIA_QA = Person("qa@uni-sofia.bg", "Sofia University QA office", "qa-officer", "uni-sofia")
SOFIA_REGISTRAR = Person("registrar@uni-sofia.bg", "Sofia University Registrar", "registrar", "uni-sofia")


def stream(node: Node, viewer: Person | None, until=lambda events: True, **params: str) -> list[dict]:
    """The events the dashboards' stream shows a viewer, from the first, until `until(events)` holds (an answer that is
    not a stream: its status)."""
    headers = bearer_header(node.auth_key.read_bytes(), viewer.principal) if viewer else {}
    url = f"{node.urls['notifications']}/dashboard/events"
    events: list[dict] = []
    with httpx.stream("GET", url, params=params, headers=headers, timeout=httpx.Timeout(5, read=60)) as response:
        if response.status_code != 200:
            return [{"status": response.status_code}]
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
                if until(events):
                    break
    return events


def test_nobody_reads_grades_or_the_dashboards_without_a_token_and_staff_see_only_their_institution(node: Node):
    course = node.approved_course(sample_course(f"Private Course {uuid.uuid4().hex[:4]}"))
    offering = node.opened_offering(course)
    learner = node.registered_learner("Nadia Petrova")
    node.enrolled(learner, offering)
    node.submit_grade_with_kcat(course["id"], learner.subject, grade="2.0", passed=True)
    node.wait_for_credential(learner.subject)

    for service, path in [
        ("assessment", "/grades"), ("assessment", "/grade-rejections"), ("assessment", "/enrolments"),
        ("notifications", "/dashboard/figures"), ("notifications", "/deliveries"),
    ]:
        assert node.call("GET", service, path).status_code == 401, path
    assert stream(node, None) == [{"status": 401}]
    assert stream(node, learner) == [{"status": 403}], "learners do not read the node's events"

    [grade] = node.ok("GET", "assessment", "/grades", by=learner)
    assert node.ok("GET", "assessment", "/grades", by=ASSESSOR, params={"learner_id": learner.subject}) == [grade]
    assert node.ok("GET", "assessment", "/grades", by=SOFIA_REGISTRAR, params={"learner_id": learner.subject}) == []
    stranger = node.registered_learner("Mallory Forged")
    refused = node.call("GET", "assessment", f"/grades/{grade['id']}", by=stranger)
    assert refused.status_code == 403 and stranger.subject in refused.json()["detail"]

    # Another university's registrar: not this learner's record, not the emails about this offering.
    assert node.call("GET", "enrolment", f"/learners/{learner.subject}", by=SOFIA_REGISTRAR).status_code == 403
    assert node.call("GET", "enrolment", f"/learners/{learner.subject}", by=REGISTRAR).status_code == 200
    emails = node.ok("GET", "notifications", "/deliveries", by=SOFIA_REGISTRAR, params={"recipient": learner.email})
    assert emails == []
    assert node.ok("GET", "notifications", "/deliveries", by=REGISTRAR, params={"recipient": learner.email})

    mine = {"university": "uni-saarland", "type": "eu.microcredentials.enrolment.learner.enrolled.v1"}
    refused = node.call("GET", "notifications", "/dashboard/figures", by=SOFIA_REGISTRAR, params={"university": "uni-saarland"})
    assert refused.status_code == 403 and "uni-sofia" in refused.json()["detail"]
    assert stream(node, SOFIA_REGISTRAR, **mine) == [{"status": 403}]
    assert offering["id"] not in json.dumps(node.ok("GET", "notifications", "/dashboard/figures", by=SOFIA_REGISTRAR))
    # The designer sees that learners enrolled, not who: no name, email or id of a learner on their stream.
    def reached(events: list[dict]) -> bool:
        return any(event["data"]["offering_id"] == offering["id"] for event in events)

    seen = stream(node, DESIGNER, until=reached, type=mine["type"])
    assert all(event["university"] == "uni-saarland" for event in seen)
    assert learner.email not in json.dumps(seen) and learner.subject not in json.dumps(seen)
    by_registrar = stream(node, REGISTRAR, until=reached, type=mine["type"])
    assert learner.email in json.dumps(by_registrar[-1]), "the registrar reads the learners of their offerings"


def test_a_learner_cannot_declare_who_they_are(node: Node):
    outsider = Person(str(uuid.uuid4()), "Sam Taylor", "learner", "uni-elsewhere", "sam@example.com", ("student",))
    declared = node.call(
        "POST", "enrolment", "/learners", by=outsider, json={"category": "alliance-student", "name": "Someone Else"}
    )
    assert declared.status_code == 422
    registered = node.ok("POST", "enrolment", "/learners", by=outsider, json={})
    assert (registered["name"], registered["email"], registered["category"]) == ("Sam Taylor", "sam@example.com", "external")


def test_a_co_awarding_university_cannot_take_a_joint_course_from_its_lead(node: Node):
    description = sample_course(f"Joint Course {uuid.uuid4().hex[:4]}")
    description["awarding_bodies"].append({"id": "uni-sofia", "name": "Sofia University", "country": "BG"})
    course = node.approved_course(description, designer=SOFIA_DESIGNER)
    takeover = description | {"awarding_bodies": description["awarding_bodies"][1:]}

    dropped = node.call("POST", "catalogue", f"/courses/{course['id']}/revisions", by=SOFIA_DESIGNER,
                        json={"description": takeover})
    assert dropped.status_code == 403 and "uni-saarland" in dropped.json()["detail"]
    assert node.call("POST", "catalogue", f"/courses/{course['id']}/retire", by=SOFIA_QA).status_code == 403
    scheme = {"scheme": {"kind": "ects"}}
    sofia_assessor = Person("assessor@uni-sofia.bg", "Prof. Ivan Petrov", "assessor", "uni-sofia")
    partner_scheme = node.call("PUT", "assessment", f"/courses/{course['id']}/grading-scheme", by=sofia_assessor,
                               json=scheme)
    assert partner_scheme.status_code == 403, "the grading scheme is the lead's"
    versions = node.ok("GET", "catalogue", f"/courses/{course['id']}/versions")
    assert [(v["version"], v["status"], v["institutions"]) for v in versions] == [
        (1, "approved", ["uni-saarland", "uni-sofia"])
    ]
    assert node.call("POST", "catalogue", f"/courses/{course['id']}/retire", by=QA_OFFICER).status_code == 200
