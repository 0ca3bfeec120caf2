"""Kafka handlers of the enrolment service."""

from services.enrolment.models import ApprovedCourse
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.catalogue import CourseApproved


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork) -> None:
    known = await uow.session.get(ApprovedCourse, event.course_id, with_for_update=True)
    if known is not None and known.version >= event.version:
        return  # An older version arriving late changes nothing.
    course = known or ApprovedCourse(course_id=event.course_id, version=event.version, title="", approved_at=event.approved_at)
    course.version, course.title, course.approved_at = event.version, event.description.title, event.approved_at
    uow.session.add(course)


def event_handlers() -> dict[type[Event], Handler]:
    return {CourseApproved: course_approved}
