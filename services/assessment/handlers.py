"""Kafka handlers of the assessment service: its read models of courses and enrolments, and LMS grade submissions."""

from functools import partial

from opentelemetry import trace
from opentelemetry.trace import Link
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import delete

from services.assessment.domain import Submission
from services.assessment.grading import (
    add_enrolment,
    enrolment_of,
    forget_enrolments,
    record_or_reject,
    write_enrolments,
)
from services.assessment.lms_registry import RegistryFile
from services.assessment.models import Course, EnrolledLearner
from services.assessment.settings import AssessmentSettings
from shared.consumer import Handler, Unprocessable
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.catalogue import CourseApproved
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled
from shared.events.lms import GradeSubmitted
from shared.events.topics import lms_of_source
from shared.tracing import continuing


# What a submission carries; `passed` is not among them, nor `lms`: which LMS sent it is known from its topic.
SUBMITTED = {"course_id", "learner_id", "grade", "assessed_on", "assessor", "identity_verification"}


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """Keep the latest approved version: who awards the course (their assessors grade it) and how it is assessed."""
    description = event.description
    values = {
        "version": event.version,
        "title": description.title,
        "awarding_institutions": [body.id for body in description.awarding_bodies if body.id],
        "type_of_assessment": description.type_of_assessment,
        "identity_verification": description.identity_verification,
    }
    await uow.session.execute(
        insert(Course)
        .values(course_id=event.course_id, **values)
        .on_conflict_do_update(index_elements=["course_id"], set_=values, where=Course.version <= event.version)
    )


async def learner_enrolled(event: LearnerEnrolled, envelope: CloudEvent, uow: UnitOfWork) -> None:
    add_enrolment(uow, {
        "enrolment_id": event.enrolment_id,
        "course_id": event.course_id,
        "course_version": event.course_version,
        "learner_id": event.learner.learner_id,
        "learner": event.learner.model_dump(mode="json"),
        "enrolled_at": event.enrolled_at,
        "traceparent": envelope.traceparent,
    })


async def enrolment_withdrawn(event: EnrolmentWithdrawn, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """A learner who withdrew can no longer be graded for that enrolment."""
    await write_enrolments(uow)  # An enrolment of this same batch is removed too.
    await uow.session.execute(delete(EnrolledLearner).where(EnrolledLearner.enrolment_id == event.enrolment_id))
    forget_enrolments(uow)


async def grade_submitted(event: GradeSubmitted, envelope: CloudEvent, uow: UnitOfWork, *, registry: RegistryFile) -> None:
    """A grade from an LMS: its `assessor` is recorded as given, its `passed` ignored.

    The broker lets only LMS x write LMS x's topic, and the consumer lets through only events whose source is the LMS
    of the topic they came on; so the source names the LMS that really sent it. That LMS must be in the registry, and
    may grade only its institutions' courses (review_submission).
    """
    lms_id = lms_of_source(envelope.source)
    lms = registry.current().get(lms_id) if lms_id else None
    if lms is None:
        raise Unprocessable(
            f"grade submission from {envelope.source}, which is not an LMS in the LMS registry "
            f"({registry.path or 'LMS_REGISTRY_FILE is not set'}); the node's administrator registers an LMS with "
            "`python -m deploy.kafka_security lms add <lms-id> --institution <institution>`"
        )
    fields = event.model_dump(include=SUBMITTED)
    submission = Submission(submission_id=envelope.id, channel="lms", lms=lms.id, **fields)
    if envelope.traceparent:
        await record_or_reject(uow, submission, lms)
        return
    # An LMS without tracing: the grade joins the trace of the learner's enrolment, so that one trace follows the
    # journey from the enrolling request to the credential's email (this consumption's own trace is linked).
    enrolment = await enrolment_of(uow, event.course_id, event.learner_id)
    own = trace.get_current_span().get_span_context()
    with continuing(enrolment and enrolment.traceparent, "assessment record grade", links=[Link(own)]):
        await record_or_reject(uow, submission, lms)


def event_handlers(settings: AssessmentSettings) -> dict[type[Event], Handler]:
    return {
        CourseApproved: course_approved,
        LearnerEnrolled: learner_enrolled,
        EnrolmentWithdrawn: enrolment_withdrawn,
        GradeSubmitted: partial(grade_submitted, registry=RegistryFile(settings.lms_registry_file)),
    }
