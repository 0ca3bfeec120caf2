"""What this node tells the alliance: each of its own public catalogue facts updates the gateway's copy of the node's
catalogue and lists what it changed, whole, in the alliance outbox (published on `alliance.<node-id>.catalogue`).

Each fact is kept idempotently (a redelivery, or the same fact again under a new id, changes nothing twice). Listing
an offering locks its row first: two instances of the gateway handling two facts of one offering (its terms, its
places) take turns, so the later listing is built from what the earlier one committed and is the one published last.
"""

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.alliance import domain
from services.alliance.models import (
    AllianceOutboxMessage,
    ApprovedCourseVersion,
    ApprovedProgramme,
    OfferingPlaces,
    OpenedOffering,
)
from shared.db import UnitOfWork
from shared.events import CloudEvent
from shared.events.alliance import Listing
from shared.events.catalogue import CourseApproved, CourseRetired, OfferingOpened, ProgrammeApproved
from shared.events.enrolment import OfferingAvailabilityChanged
from shared.events.topics import alliance_catalogue_topic


def list_on_the_bus(uow: UnitOfWork, node: str | None, listing: Listing | None) -> None:
    """Put a listing in the alliance outbox, for the node's own catalogue topic on the alliance bus."""
    if node is None:
        raise RuntimeError("ALLIANCE_NODE_ID is not set: the gateway lists nothing under no name")
    if listing is not None:
        uow.publish(listing, topic=alliance_catalogue_topic(node), outbox=AllianceOutboxMessage)


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork, *, node: str) -> None:
    await uow.session.execute(
        insert(ApprovedCourseVersion)
        .values(course_id=event.course_id, version=event.version, approved=event.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )
    await _list_course(uow, node, event.course_id)
    # Offerings of this version that arrived before it can be listed now.
    await _list_offerings(uow, node, event.course_id, [event.version])


async def course_retired(event: CourseRetired, envelope: CloudEvent, uow: UnitOfWork, *, node: str) -> None:
    # Retiring a version retires the older ones too, as everywhere on the node (enrolment's handler).
    retired = await uow.session.execute(
        update(ApprovedCourseVersion)
        .where(
            ApprovedCourseVersion.course_id == event.course_id,
            ApprovedCourseVersion.version <= event.version,
            ApprovedCourseVersion.retired_at.is_(None),
        )
        .values(retired_at=envelope.time)
        .returning(ApprovedCourseVersion.version)
    )
    versions = list(retired.scalars())
    if versions:
        await _list_course(uow, node, event.course_id)
        await _list_offerings(uow, node, event.course_id, versions)


async def offering_opened(event: OfferingOpened, envelope: CloudEvent, uow: UnitOfWork, *, node: str) -> None:
    opened = event.model_dump(mode="json")
    # The latest terms win, as in enrolment's read model.
    await uow.session.execute(
        insert(OpenedOffering)
        .values(offering_id=event.offering_id, course_id=event.course_id, course_version=event.course_version, opened=opened)
        .on_conflict_do_update(index_elements=["offering_id"], set_={"opened": opened})
    )
    await _list_offering(uow, node, event.offering_id)


async def availability_changed(
    event: OfferingAvailabilityChanged, envelope: CloudEvent, uow: UnitOfWork, *, node: str
) -> None:
    availability = event.model_dump(mode="json")
    await uow.session.execute(
        insert(OfferingPlaces)
        .values(offering_id=event.offering_id, availability=availability)
        .on_conflict_do_update(index_elements=["offering_id"], set_={"availability": availability})
    )
    await _list_offering(uow, node, event.offering_id)


async def programme_approved(event: ProgrammeApproved, envelope: CloudEvent, uow: UnitOfWork, *, node: str) -> None:
    approved = event.model_dump(mode="json")
    # Only a newer version replaces the one listed.
    await uow.session.execute(
        insert(ApprovedProgramme)
        .values(programme_id=event.programme_id, version=event.version, approved=approved)
        .on_conflict_do_update(
            index_elements=["programme_id"],
            set_={"version": event.version, "approved": approved},
            where=ApprovedProgramme.version < event.version,
        )
    )
    current = await uow.session.get(ApprovedProgramme, event.programme_id, populate_existing=True)
    assert current is not None
    list_on_the_bus(uow, node, domain.programme_listing(node, ProgrammeApproved.model_validate(current.approved)))


async def _versions(uow: UnitOfWork, course_id: str) -> list[domain.CourseVersion]:
    # Read again, not from the session's memory: an UPDATE of this transaction may have retired some.
    rows = await uow.session.exec(
        select(ApprovedCourseVersion)
        .where(ApprovedCourseVersion.course_id == course_id)
        .execution_options(populate_existing=True)
    )
    return [
        domain.CourseVersion(CourseApproved.model_validate(row.approved), retired=row.retired_at is not None)
        for row in rows.all()
    ]


async def _list_course(uow: UnitOfWork, node: str, course_id: str) -> None:
    list_on_the_bus(uow, node, domain.course_listing(node, await _versions(uow, course_id)))


async def _list_offerings(uow: UnitOfWork, node: str, course_id: str, versions: Sequence[int]) -> None:
    offerings = await uow.session.exec(
        select(OpenedOffering.offering_id).where(
            OpenedOffering.course_id == course_id, OpenedOffering.course_version.in_(list(versions))
        )
    )
    for offering_id in offerings.all():
        await _list_offering(uow, node, offering_id)


async def _list_offering(uow: UnitOfWork, node: str, offering_id: str) -> None:
    offering = await uow.session.get(OpenedOffering, offering_id, with_for_update=True, populate_existing=True)
    if offering is None:
        return  # Its places came first; the offering is listed when it arrives.
    opened = OfferingOpened.model_validate(offering.opened)
    course = await uow.session.get(ApprovedCourseVersion, (opened.course_id, opened.course_version), populate_existing=True)
    places = await uow.session.get(OfferingPlaces, offering_id, populate_existing=True)
    listing = domain.offering_listing(
        node,
        opened,
        domain.CourseVersion(CourseApproved.model_validate(course.approved), course.retired_at is not None)
        if course
        else None,
        OfferingAvailabilityChanged.model_validate(places.availability) if places else None,
    )
    list_on_the_bus(uow, node, listing)
