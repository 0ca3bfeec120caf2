"""Kafka handlers of the catalogue. Course descriptions originate here; what it reads is what it shows beside them:
the places of its own offerings (enrolment), and the other members' listings (the node's alliance gateway)."""

from services.catalogue import alliance
from shared.consumer import Handler
from shared.events import Event
from shared.events.alliance import CourseDelisted, CourseListed, OfferingDelisted, OfferingListed, ProgrammeListed
from shared.events.enrolment import OfferingAvailabilityChanged


def event_handlers() -> dict[type[Event], Handler]:
    return {
        OfferingAvailabilityChanged: alliance.places_changed,
        CourseListed: alliance.course_listed,
        CourseDelisted: alliance.course_delisted,
        OfferingListed: alliance.offering_listed,
        OfferingDelisted: alliance.offering_delisted,
        ProgrammeListed: alliance.programme_listed,
    }
