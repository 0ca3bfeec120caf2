"""Which university an event concerns, and how the stream writes it."""

import json
from datetime import UTC, datetime, timedelta

from services.notifications.dashboards import domain
from services.notifications.dashboards.domain import (
    aggregate_ids,
    bucket_of,
    seconds_of,
    server_sent_event,
    universities_named,
    without_learners,
)
from shared.events.catalogue import DeliveryMode, OfferingOpened, Pace
from shared.events.common import LearnerIdentity
from shared.events.enrolment import LearnerEnrolled

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_an_opened_offering_ties_itself_and_its_course_to_its_university():
    opened = OfferingOpened(
        offering_id="offering-1", course_id="course-1", course_version=1, title="Data Literacy", institution="uni-sofia",
        delivery_mode=DeliveryMode.ONLINE, pace=Pace.SELF_PACED, registration_opens_at=NOW, registration_closes_at=NOW,
    )
    assert universities_named(opened) == {"offering-1": "uni-sofia", "course-1": "uni-sofia"}


def test_an_enrolment_is_looked_up_by_its_offering_first_then_its_course():
    enrolled = LearnerEnrolled(
        enrolment_id="e-1", course_id="course-1", course_version=1, course_title="Data Literacy", offering_id="offering-1",
        learner=LearnerIdentity(learner_id="l-1", name="Ana", email="ana@example.eu"), enrolled_at=NOW,
    )
    assert universities_named(enrolled) == {}
    assert aggregate_ids(enrolled) == ["offering-1", "course-1"]


def test_a_stream_frame_carries_the_id_to_resume_from_and_the_event_as_json():
    frame = server_sent_event(42, {"type": "eu.microcredentials.enrolment.learner.enrolled.v1", "note": "a\nb"})

    lines = frame.split("\n")
    assert lines[0] == "id: 42" and frame.endswith("\n\n") and len(lines) == 4, "one data line, whatever the text"
    assert json.loads(lines[1].removeprefix("data: "))["note"] == "a\nb"


def test_a_viewer_who_may_not_see_learners_gets_the_facts_without_anyones_identity():
    enrolled = {
        "event_id": "ev-1", "type": "eu.microcredentials.enrolment.learner.enrolled.v1", "subject": "e-1",
        "university": "uni-sofia",
        "data": {"enrolment_id": "e-1", "offering_id": "offering-1", "learner": {"learner_id": "l-1", "name": "Ana",
                 "email": "ana@example.eu"}},
    }
    shown = without_learners(enrolled)
    assert shown["data"] == {"enrolment_id": "e-1", "offering_id": "offering-1"} and shown["subject"] == "e-1"
    issued = {"subject": "l-1", "data": {"credential_id": "c-1", "learner_id": "l-1", "learner": {"learner_id": "l-1"}}}
    assert without_learners(issued) == {"subject": "(a learner)", "data": {"credential_id": "c-1"}}, "keyed by them"
    sent = {"subject": "ana@example.eu", "data": {"notification_id": "n-1", "recipient": "ana@example.eu"}}
    assert without_learners(sent) == {"subject": "(a learner)", "data": {"notification_id": "n-1"}}
    rejected = {"subject": "l-7", "data": {"learner_id": "l-7", "rule": "already-graded",
                                           "reason": "learner l-7 already has grade '1.3' in course c-1"}}
    assert without_learners(rejected)["data"] == {
        "rule": "already-graded", "reason": "learner (a learner) already has grade '1.3' in course c-1"
    }, "free text that names the learner"


def test_the_figures_count_places_passes_credentials_and_emails_as_events_arrive():
    changes = domain.FigureChanges()
    offering = {"offering_id": "o-1"}
    for event_type, data in [
        (domain.OFFERING_OPENED, {"offering_id": "o-1", "title": "Data Literacy", "capacity": 2}),
        (domain.LEARNER_ENROLLED, offering),
        (domain.LEARNER_WAITLISTED, offering),
        (domain.ENROLMENT_WITHDRAWN, offering | {"was_enrolled": True}),
        (domain.LEARNER_ENROLLED, offering | {"promoted_from_waitlist": True}),
        (domain.GRADE_RECORDED, {"course_id": "c-1", "learner_id": "l-1", "passed": True}),
        (domain.GRADE_RECORDED, {"course_id": "c-1", "learner_id": "l-2", "passed": False}),
        (domain.NOTIFICATION_SENT, {}),
        (domain.NOTIFICATION_FAILED, {}),
    ]:
        domain.tally(changes, event_type, data, "uni-sofia", NOW)
    domain.tally(changes, domain.CREDENTIAL_ISSUED, {"course_id": "c-1", "learner_id": "l-1"}, None, NOW + timedelta(seconds=3))

    assert changes.offerings_opened == {"o-1": {"title": "Data Literacy", "university": "uni-sofia", "capacity": 2}}
    # Two applied; one place taken, given up, and taken by the one who waited.
    assert {key: n for key, n in changes.offerings.items() if n} == {("o-1", "applications"): 2, ("o-1", "enrolled"): 1}
    assert dict(changes.pass_rates) == {("c-1", "uni-sofia", "graded"): 2, ("c-1", "uni-sofia", "passed"): 1}
    assert changes.passes == {("l-1", "c-1"): NOW}
    assert dict(changes.credentials) == {("unknown", "2026-03"): 1}
    assert changes.issued == [("l-1", "c-1", "", NOW + timedelta(seconds=3))]
    assert dict(changes.emails) == {("uni-sofia", "sent"): 1, ("uni-sofia", "failed"): 1}


def test_times_from_grade_to_credential_are_read_back_within_one_percent():
    for seconds in (0.005, 0.2, 1.0, 3.7, 42.0, 3600.0):
        upper = seconds_of(bucket_of(seconds))
        assert max(seconds, 0.01) <= upper <= max(seconds, 0.01) * 1.0101, seconds
