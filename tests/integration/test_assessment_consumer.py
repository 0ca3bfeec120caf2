"""The assessment service's consumer on the real Kafka and PostgreSQL: at-least-once, idempotent, dead-lettering.

The helpers here (a course approved onto Kafka, its grading scheme set, enrolments, LMS submissions) serve the other
assessment integration tests too.
"""

import uuid
from datetime import UTC, date, datetime

import pytest

from services.assessment.app import create_service
from services.assessment.settings import AssessmentSettings
from deploy.journey import LMS_OF_ANOTHER_INSTITUTION, NODE_LMS
from shared.auth import Role
from shared.events import CloudEvent, Topic, dead_letter_topic
from shared.events.assessment import GradingScheme, NumericScheme
from shared.events.catalogue import (
    AwardingBody,
    CourseApproved,
    FormOfParticipation,
    IdentityVerification,
    MicroCredentialDescription,
)
from shared.events.common import LearnerIdentity
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled
from shared.events.lms import GradeSubmitted
from shared.events.topics import lms_source, lms_topic
from shared.topic_admin import ensure_topics
from tests.integration.conftest import eventually, running
from tests.stack import NODE_URI, cloud_event, header, produce, read_topic

pytestmark = pytest.mark.integration

INSTITUTION = "uni-saarland"
GERMAN = NumericScheme(name="German 1.0-5.0", minimum=1.0, maximum=5.0, pass_mark=4.0, lower_is_better=True)


def assessor(stack, institution: str = INSTITUTION) -> dict[str, str]:
    return stack.bearer(f"assessor@{institution}.eu", Role.ASSESSOR, institution=institution)


def approved(course_id: str, institution: str = INSTITUTION, *partners: str) -> CloudEvent:
    """CourseApproved for a course the institution leads (with co-awarding partners, for a joint course)."""
    description = MicroCredentialDescription(
        title="Data Literacy",
        awarding_bodies=[
            AwardingBody(id=institution, name="Saarland University", country="DE"),
            *(AwardingBody(id=partner, name=partner, country="BG") for partner in partners),
        ],
        learning_outcomes=["Read a dataset critically"],
        languages=["en"],
        ects=5,
        type_of_assessment="written exam",
        form_of_participation=FormOfParticipation.ONLINE,
        type_of_quality_assurance="internal QA",
        identity_verification=IdentityVerification.SUPERVISED_ONLINE,
    )
    event = CourseApproved(
        course_id=course_id, version=1, description=description, approved_by="qa", approved_at=datetime.now(UTC)
    )
    return CloudEvent.wrap(event, source=NODE_URI)


async def course_known(stack, client, course_id: str) -> None:
    """The course approved on Kafka and arrived in assessment's read model."""
    await produce(stack, Topic.COURSES, approved(course_id).to_bytes(), key=course_id)
    await eventually(lambda: _found(client, f"/courses/{course_id}"))


async def gradable_course(stack, client, course_id: str, scheme: GradingScheme = GERMAN) -> None:
    """The course known, with its grading scheme set by an assessor of the awarding institution."""
    await course_known(stack, client, course_id)
    response = await client.put(
        f"/courses/{course_id}/grading-scheme", json={"scheme": scheme.model_dump()}, headers=assessor(stack)
    )
    assert response.status_code == 200, response.text


async def _found(client, path: str) -> bool:
    return (await client.get(path)).status_code == 200


def enrolled(learner_id: str, course_id: str) -> CloudEvent:
    learner = LearnerIdentity(learner_id=learner_id, name="Jana Nováková", email=f"{learner_id}@example.eu")
    event = LearnerEnrolled(
        enrolment_id=str(uuid.uuid4()),
        course_id=course_id,
        course_version=1,
        course_title="Data Literacy",
        learner=learner,
        enrolled_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(event, source=NODE_URI)


def grade(learner_id: str, course_id: str, value: str = "1.7", lms: str = NODE_LMS.id, **fields) -> CloudEvent:
    """A grade submission as LMS `lms` sends it (onto its own topic, with its own source)."""
    event = GradeSubmitted(
        course_id=course_id,
        learner_id=learner_id,
        grade=value,
        passed=True,  # Ignored: assessment decides by the course's scheme.
        assessed_on=date.today(),
        assessor="Dr. Ivan Petrov",
        lms="moodle",
        **fields,
    )
    return CloudEvent.wrap(event, source=lms_source(lms))


async def test_a_grade_delivered_twice_is_recorded_once(stack):
    settings = stack.settings(AssessmentSettings)
    learner, course = f"learner-{uuid.uuid4().hex[:6]}", f"course-{uuid.uuid4().hex[:6]}"
    async with running(create_service(settings)) as client:
        await gradable_course(stack, client, course)
        await produce(stack, Topic.ENROLMENTS, enrolled(learner, course).to_bytes(), key=learner)
        await eventually(lambda: _json(stack, client, "/enrolments", learner_id=learner))

        submission = grade(learner, course).to_bytes()
        await produce(stack, NODE_LMS.topic, submission, key=learner)
        await produce(stack, NODE_LMS.topic, submission, key=learner)
        # Same key, same partition: once this later submission is rejected, both copies before it were handled.
        await produce(stack, NODE_LMS.topic, grade(learner, "another-course").to_bytes(), key=learner)
        await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=learner))

        grades = await _json(stack, client, "/grades", learner_id=learner)
        assert [(g["grade"], g["passed"]) for g in grades] == [("1.7", True)]
        mine = lambda records: [r for r in records if r.key == learner.encode()]  # noqa: E731
        published = await read_topic(stack, Topic.GRADES, until=lambda records: len(mine(records)) >= 2, timeout=10)
        types = sorted(cloud_event(r)["type"].split(".")[-2] for r in mine(published))
        assert types == ["recorded", "rejected"], "one GradeRecorded for the duplicate pair, one GradeRejected"


async def test_unreadable_messages_are_dead_lettered_with_the_reason_and_the_consumer_moves_on(stack):
    settings = stack.settings(AssessmentSettings)
    key = f"learner-{uuid.uuid4().hex[:6]}"
    contract_breaking = grade(key, "course-x").model_copy(update={"data": {"course_id": "course-x", "learner_id": key}})
    unknown_type = grade(key, "course-x").model_copy(update={"type": "eu.microcredentials.lms.grade.guessed.v1"})
    async with running(create_service(settings)) as client:
        for value in (b"this is not json", unknown_type.to_bytes(), contract_breaking.to_bytes()):
            await produce(stack, NODE_LMS.topic, value, key=key)
        await produce(stack, NODE_LMS.topic, grade(key, "course-y").to_bytes(), key=key)

        rejections = await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=key))
        assert rejections[0]["rule"] == "learner-not-enrolled", "the valid message after the bad ones was handled"

    dead = await read_topic(
        stack, dead_letter_topic("assessment"), until=lambda rs: sum(r.key == key.encode() for r in rs) >= 3
    )
    dead = [record for record in dead if record.key == key.encode()]
    reasons = [header(record, "x-dead-letter-reason") for record in dead]
    assert len(reasons) == 3
    assert "not a JSON document" in reasons[0]
    assert f"eu.microcredentials.lms.grade.guessed.v1 does not belong on topic {NODE_LMS.topic}" in reasons[1]
    assert "data.grade" in reasons[2] and "data.passed" in reasons[2]
    assert {header(record, "x-dead-letter-original-topic") for record in dead} == {
        f"{stack.topic_prefix}{NODE_LMS.topic}"
    }
    assert dead[0].value == b"this is not json", "the original message is kept as it was, for replay"


async def _json(stack, client, path: str, **params):
    """What a list shows the node administrator, who reads every grade, rejection and enrolment."""
    response = await client.get(path, params=params, headers=stack.bearer("admin@node", Role.NODE_ADMIN))
    response.raise_for_status()
    return response.json()


async def test_a_learner_who_withdrew_can_no_longer_be_graded(stack):
    settings = stack.settings(AssessmentSettings)
    learner, course = f"learner-{uuid.uuid4().hex[:6]}", f"course-{uuid.uuid4().hex[:6]}"
    enrolment = enrolled(learner, course)
    withdrawal = EnrolmentWithdrawn(
        enrolment_id=enrolment.subject,
        course_id=course,
        course_title="Data Literacy",
        learner=LearnerIdentity.model_validate(enrolment.data["learner"]),
        was_enrolled=True,
        withdrawn_at=datetime.now(UTC),
    )
    async with running(create_service(settings)) as client:
        await produce(stack, Topic.ENROLMENTS, enrolment.to_bytes(), key=enrolment.subject)
        await eventually(lambda: _json(stack, client, "/enrolments", learner_id=learner))
        await produce(stack, Topic.ENROLMENTS, CloudEvent.wrap(withdrawal, source=NODE_URI).to_bytes(), key=enrolment.subject)
        await eventually(lambda: _empty(stack, client, "/enrolments", learner_id=learner))

        await produce(stack, NODE_LMS.topic, grade(learner, course).to_bytes(), key=learner)
        [rejection] = await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=learner))
        assert rejection["rule"] == "learner-not-enrolled"
        assert await _json(stack, client, "/grades", learner_id=learner) == []


async def test_enrolments_waiting_together_are_taken_in_order_whatever_the_batch(stack):
    """Enrolments are written together, once per batch: an enrolment, its copy and its withdrawal waiting in one
    batch leave no enrolment behind; another learner's enrolment beside them is kept, and can be graded."""
    settings = stack.settings(AssessmentSettings)
    course = f"course-{uuid.uuid4().hex[:6]}"
    gone, kept = (f"learner-{uuid.uuid4().hex[:6]}" for _ in range(2))
    enrolment = enrolled(gone, course)
    withdrawal = EnrolmentWithdrawn(
        enrolment_id=enrolment.subject, course_id=course, course_title="Data Literacy",
        learner=LearnerIdentity.model_validate(enrolment.data["learner"]), was_enrolled=True,
        withdrawn_at=datetime.now(UTC),
    )
    # Waiting before the service starts, so that its first batch takes them together (one key: one partition, in order).
    for event in (enrolment, enrolment, CloudEvent.wrap(withdrawal, source=NODE_URI), enrolled(kept, course)):
        await produce(stack, Topic.ENROLMENTS, event.to_bytes(), key=enrolment.subject)
    async with running(create_service(settings)) as client:
        [known] = await eventually(lambda: _json(stack, client, "/enrolments", learner_id=kept))
        assert known["course_id"] == course
        assert await _json(stack, client, "/enrolments", learner_id=gone) == []

        await gradable_course(stack, client, course)
        await produce(stack, NODE_LMS.topic, grade(kept, course).to_bytes(), key=kept)
        await produce(stack, NODE_LMS.topic, grade(gone, course).to_bytes(), key=kept)
        [rejection] = await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=gone))
        assert rejection["rule"] == "learner-not-enrolled"
        assert [g["grade"] for g in await _json(stack, client, "/grades", learner_id=kept)] == ["1.7"]


async def _empty(stack, client, path: str, **params) -> bool:
    return await _json(stack, client, path, **params) == []



async def test_an_lms_of_another_institution_is_rejected_with_the_rule(stack):
    learner, course = f"learner-{uuid.uuid4().hex[:6]}", f"course-{uuid.uuid4().hex[:6]}"
    async with running(create_service(stack.settings(AssessmentSettings))) as client:
        await gradable_course(stack, client, course)  # Awarded by uni-saarland.
        await produce(stack, Topic.ENROLMENTS, enrolled(learner, course).to_bytes(), key=learner)
        await eventually(lambda: _json(stack, client, "/enrolments", learner_id=learner))

        other = LMS_OF_ANOTHER_INSTITUTION
        await produce(stack, other.topic, grade(learner, course, lms=other.id).to_bytes(), key=learner)
        [rejection] = await eventually(lambda: _json(stack, client, "/grade-rejections", learner_id=learner))

        assert rejection["rule"] == "lms-not-authorized-for-course"
        assert rejection["lms"] == other.id
        assert "canvas-sofia (Canvas of Sofia University) is registered to grade for uni-sofia" in rejection["reason"]
        assert f"course {course} is awarded by uni-saarland" in rejection["reason"]
        assert await _json(stack, client, "/grades", learner_id=learner) == []


async def test_a_submission_on_the_topic_of_an_lms_not_in_the_registry_is_dead_lettered(stack):
    """The topic of an LMS that was removed from the registry (or never entered) is still read: what is on it is
    dead-lettered with the reason, never graded."""
    key = f"learner-{uuid.uuid4().hex[:6]}"
    unregistered = "moodle-unregistered"
    await ensure_topics(stack.harness(), [lms_topic(unregistered, stack.topic_prefix)])
    async with running(create_service(stack.settings(AssessmentSettings))):
        await produce(stack, lms_topic(unregistered), grade(key, "course-x", lms=unregistered).to_bytes(), key=key)
        dead = await read_topic(stack, dead_letter_topic("assessment"), until=lambda rs: any(r.key == key.encode() for r in rs))

    [record] = [record for record in dead if record.key == key.encode()]
    reason = header(record, "x-dead-letter-reason")
    assert "urn:microcredentials:lms:moodle-unregistered, which is not an LMS in the LMS registry" in reason
    assert str(stack.lms_registry) in reason
