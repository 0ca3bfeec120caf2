"""Kafka handlers of the certification service."""

import functools
import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.certification import domain
from services.certification.models import CourseVersion, Credential
from services.certification.settings import CertificationSettings
from shared.consumer import Handler, Unprocessable
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent, Event
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import CourseApproved, MicroCredentialDescription
from shared.events.certification import CredentialIssued


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork) -> None:
    await uow.session.execute(
        insert(CourseVersion)
        .values(course_id=event.course_id, version=event.version, description=event.description.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )


async def grade_recorded(
    event: GradeRecorded, envelope: CloudEvent, uow: UnitOfWork, *, settings: CertificationSettings
) -> None:
    if not domain.earns_credential(event):
        return
    course = await uow.session.get(CourseVersion, (event.course_id, event.course_version))
    if course is None:
        raise Unprocessable(f"course {event.course_id} version {event.course_version} was never approved here")
    already = (
        await uow.session.exec(
            select(Credential.id).where(
                Credential.learner_id == event.learner_id,
                Credential.course_id == event.course_id,
                Credential.course_version == event.course_version,
            )
        )
    ).first()
    if already is not None:
        return  # The same pass delivered again, or submitted twice by the LMS: one credential.
    description = MicroCredentialDescription.model_validate(course.description)
    issued_at = utcnow()
    record = domain.credential_record(event, description, issued_at)
    credential = Credential(
        id=str(uuid.uuid4()),
        learner_id=event.learner_id,
        course_id=event.course_id,
        course_version=event.course_version,
        grade_id=event.grade_id,
        record=record.model_dump(mode="json"),
        issued_at=issued_at,
    )
    uow.session.add(credential)
    uow.publish(
        CredentialIssued(
            credential_id=credential.id,
            learner_id=event.learner_id,
            learner=event.learner,
            course_id=event.course_id,
            course_version=event.course_version,
            title=description.title,
            awarding_bodies=description.awarding_bodies,
            issued_at=issued_at,
            grade=event.grade,
            credential_url=f"{settings.public_url}/credentials/{credential.id}",
        )
    )


def event_handlers(settings: CertificationSettings) -> dict[type[Event], Handler]:
    return {CourseApproved: course_approved, GradeRecorded: functools.partial(grade_recorded, settings=settings)}
