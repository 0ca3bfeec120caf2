"""The AsyncAPI documents say what each service publishes and consumes, generated from the code."""

import json

from services.assessment.app import create_service as assessment
from services.catalogue.app import create_service as catalogue
from shared.asyncapi import document, published_by
from shared.events.assessment import GradeRecorded
from shared.events.enrolment import LearnerEnrolled
from shared.events.lms import GradeSubmitted
from shared.settings import ServiceSettings


def test_a_service_publishes_exactly_its_own_contract_modules_types():
    assert {cls.type for cls in published_by("enrolment")} == {
        "eu.microcredentials.enrolment.learner.enrolled.v1",
        "eu.microcredentials.enrolment.learner.waitlisted.v1",
        "eu.microcredentials.enrolment.enrolment.withdrawn.v1",
        "eu.microcredentials.enrolment.availability.changed.v1",
    }


def test_the_assessment_document_names_its_topics_messages_and_operations():
    service = assessment()
    doc = document("Assessment", ServiceSettings(topic_prefix="t."), [("assessment", service.handlers)])

    assert doc["asyncapi"] == "3.0.0"
    assert doc["channels"]["mc.lms.{lms}.grade-submissions"]["address"] == "t.mc.lms.{lms}.grade-submissions"
    assert doc["operations"]["assessment.receive.GradeSubmitted"]["action"] == "receive"
    assert doc["operations"]["assessment.send.GradeRecorded"]["action"] == "send"
    assert doc["components"]["messages"]["GradeRecorded"]["name"] == GradeRecorded.type
    assert "LearnerEnrolled" in doc["channels"]["mc.enrolment.enrolments"]["messages"]
    assert {GradeSubmitted, LearnerEnrolled} <= set(service.handlers)


def test_every_reference_in_the_node_document_resolves():
    doc = document("Node", ServiceSettings(), [("catalogue", catalogue().handlers), ("assessment", assessment().handlers)])
    text = json.dumps(doc)

    for reference in {part.split('"')[0] for part in text.split('"$ref": "#/')[1:]}:
        node = doc
        for step in reference.split("/"):
            node = node[step]
        assert node, reference
