"""Kafka handlers of the enrolment service: its read models of courses, offerings and learners' micro-credentials.

The consumer records each event id, so a redelivery never reaches these; they are idempotent anyway (inserts that
ignore what exists, upserts), because the catalogue may publish the same fact again under a new id.
"""

import functools

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from services.enrolment.models import CourseVersion, HeldCredential, Offering, OfferingBase
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.catalogue import CourseApproved, CourseRetired, OfferingOpened
from shared.events.certification import CredentialIssued, CredentialPresented


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork) -> None:
    version = event.model_dump(include={"course_id", "version", "approved_at"}) | event.description.model_dump(
        include={"title", "prerequisite_course_ids", "accepts_declared_qualification", "target_groups"}
    )
    # Unless known: an approved version never changes.
    await uow.insert_unless_known(CourseVersion, [version])


async def course_retired(event: CourseRetired, envelope: CloudEvent, uow: UnitOfWork) -> None:
    # Retiring a version retires the older ones too: none of them is offered any more.
    await uow.session.execute(
        update(CourseVersion)
        .where(
            CourseVersion.course_id == event.course_id,
            CourseVersion.version <= event.version,
            CourseVersion.retired_at.is_(None),
        )
        .values(retired_at=envelope.time)
    )


async def offering_opened(event: OfferingOpened, envelope: CloudEvent, uow: UnitOfWork) -> None:
    # Only the columns this service keeps: a newer minor version of the contract may carry more.
    terms = event.model_dump(include=set(OfferingBase.model_fields) | {"fee", "open_to"}) | {"opened_at": envelope.time}
    # The latest terms win; applications already made keep their place and fee.
    await uow.session.execute(
        insert(Offering)
        .values(offering_id=event.offering_id, **terms)
        .on_conflict_do_update(index_elements=["offering_id"], set_=terms)
    )


async def credential_issued(event: CredentialIssued, envelope: CloudEvent, uow: UnitOfWork) -> None:
    _held_credentials(uow).append(
        event.model_dump(include={"credential_id", "learner_id", "course_id", "course_version", "issued_at"})
    )


async def credential_presented(event: CredentialPresented, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """A credential of another node the learner presented at this node's certification, which verified it: it meets
    prerequisites like one issued here."""
    _held_credentials(uow).append(
        {"issued_at": event.presented_at}
        | event.model_dump(include={"credential_id", "learner_id", "course_id", "course_version"})
    )


HELD = "enrolment held credentials"


def _held_credentials(uow: UnitOfWork) -> list[dict]:
    """The credentials this transaction learnt of, inserted together on commit unless known (a redelivered credential
    under a new event id inserts nothing): a cohort's credentials arrive by the hundred, and one INSERT for a batch
    costs less than a statement each."""
    return uow.rows(HELD, functools.partial(uow.insert_unless_known, HeldCredential))


def event_handlers() -> dict[type[Event], Handler]:
    return {
        CourseApproved: course_approved,
        CourseRetired: course_retired,
        OfferingOpened: offering_opened,
        CredentialIssued: credential_issued,
        CredentialPresented: credential_presented,
    }
