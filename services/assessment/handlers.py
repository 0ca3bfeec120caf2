"""Kafka handlers of the assessment service: its read models of courses and enrolments, and LMS grade submissions."""

from opentelemetry import trace
from opentelemetry.trace import Link
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import delete, select

from services.assessment.domain import Submission
from services.assessment.grading import record_or_reject
from services.assessment.models import Course, EnrolledLearner
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.catalogue import CourseApproved
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled
from shared.events.lms import GradeSubmitted
from shared.tracing import context_from_traceparent, tracer


# What a submission carries; `passed` is not among them.
SUBMITTED = {"course_id", "learner_id", "grade", "assessed_on", "assessor", "lms", "identity_verification"}


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
    await uow.session.execute(
        insert(EnrolledLearner)
        .values(
            enrolment_id=event.enrolment_id,
            course_id=event.course_id,
            course_version=event.course_version,
            learner_id=event.learner.learner_id,
            learner=event.learner.model_dump(mode="json"),
            enrolled_at=event.enrolled_at,
            traceparent=envelope.traceparent,
        )
        .on_conflict_do_nothing()
    )


async def enrolment_withdrawn(event: EnrolmentWithdrawn, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """A learner who withdrew can no longer be graded for that enrolment."""
    await uow.session.execute(delete(EnrolledLearner).where(EnrolledLearner.enrolment_id == event.enrolment_id))


async def grade_submitted(event: GradeSubmitted, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """The LMS is authenticated by the Kafka cluster; its `assessor` is recorded as given, its `passed` ignored."""
    fields = event.model_dump(include=SUBMITTED)
    submission = Submission(submission_id=envelope.id, channel="lms", **fields)
    if envelope.traceparent:
        await record_or_reject(uow, submission)
        return
    # An LMS without tracing: the grade joins the trace of the learner's enrolment, so that one trace follows the
    # journey from the enrolling request to the credential's email (this consumption's own trace is linked).
    enrolment_trace = (
        await uow.session.exec(
            select(EnrolledLearner.traceparent).where(
                EnrolledLearner.course_id == event.course_id, EnrolledLearner.learner_id == event.learner_id
            )
        )
    ).first()
    own = trace.get_current_span().get_span_context()
    with tracer(__name__).start_as_current_span(
        "assessment record grade", context=context_from_traceparent(enrolment_trace), links=[Link(own)]
    ):
        await record_or_reject(uow, submission)


def event_handlers() -> dict[type[Event], Handler]:
    return {
        CourseApproved: course_approved,
        LearnerEnrolled: learner_enrolled,
        EnrolmentWithdrawn: enrolment_withdrawn,
        GradeSubmitted: grade_submitted,
    }
