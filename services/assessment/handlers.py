"""Kafka handlers of the assessment service."""

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import delete, select

from services.assessment.domain import review_submission
from services.assessment.models import EnrolledLearner, Grade, GradeRejection
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.assessment import GradeRecorded, GradeRejected
from shared.events.common import LearnerIdentity
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled
from shared.events.lms import GradeSubmitted


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
        )
        .on_conflict_do_nothing()
    )


async def enrolment_withdrawn(event: EnrolmentWithdrawn, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """A learner who withdrew can no longer be graded for that enrolment."""
    await uow.session.execute(delete(EnrolledLearner).where(EnrolledLearner.enrolment_id == event.enrolment_id))


async def grade_submitted(event: GradeSubmitted, envelope: CloudEvent, uow: UnitOfWork) -> None:
    enrolment = (
        await uow.session.exec(
            select(EnrolledLearner).where(
                EnrolledLearner.course_id == event.course_id, EnrolledLearner.learner_id == event.learner_id
            )
        )
    ).first()
    if rejection := review_submission(event, enrolment):
        uow.session.add(
            GradeRejection(
                submission_id=envelope.id,
                course_id=event.course_id,
                learner_id=event.learner_id,
                rule=rejection.rule,
                reason=rejection.reason,
                lms=event.lms,
            )
        )
        uow.publish(
            GradeRejected(
                course_id=event.course_id,
                learner_id=event.learner_id,
                submission_id=envelope.id,
                rule=rejection.rule,
                reason=rejection.reason,
            )
        )
        return
    assert enrolment is not None
    grade = Grade(
        id=str(uuid.uuid4()),
        submission_id=envelope.id,
        enrolment_id=enrolment.enrolment_id,
        course_id=event.course_id,
        learner_id=event.learner_id,
        grade=event.grade,
        passed=event.passed,
        assessed_on=event.assessed_on,
        assessor=event.assessor,
        lms=event.lms,
    )
    uow.session.add(grade)
    uow.publish(
        GradeRecorded(
            grade_id=grade.id,
            enrolment_id=enrolment.enrolment_id,
            course_id=event.course_id,
            course_version=enrolment.course_version,
            learner_id=event.learner_id,
            learner=LearnerIdentity.model_validate(enrolment.learner),
            grade=event.grade,
            passed=event.passed,
            assessed_on=event.assessed_on,
            submission_id=envelope.id,
        )
    )


def event_handlers() -> dict[type[Event], Handler]:
    return {LearnerEnrolled: learner_enrolled, EnrolmentWithdrawn: enrolment_withdrawn, GradeSubmitted: grade_submitted}
