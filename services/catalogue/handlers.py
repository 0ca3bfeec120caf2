"""Kafka handlers of the catalogue. Course descriptions originate here; what it reads is what it shows beside them:
the places of its own offerings (enrolment), the other members' listings (the node's alliance gateway), and the
consent messages of joint courses that partner nodes address to this node."""

import functools

from services.catalogue import alliance, consents
from services.catalogue.consents import Consenting
from shared.consumer import Handler
from shared.events import Event
from shared.events.alliance import (
    ConsentDeclined,
    ConsentGiven,
    ConsentRequested,
    ConsentWithdrawn,
    CourseDelisted,
    CourseListed,
    OfferingDelisted,
    OfferingListed,
    ProgrammeListed,
)
from shared.events.enrolment import OfferingAvailabilityChanged


def event_handlers(consenting: Consenting) -> dict[type[Event], Handler]:
    return {
        OfferingAvailabilityChanged: alliance.places_changed,
        CourseListed: alliance.course_listed,
        CourseDelisted: alliance.course_delisted,
        OfferingListed: alliance.offering_listed,
        OfferingDelisted: alliance.offering_delisted,
        ProgrammeListed: alliance.programme_listed,
        # Joint courses: at a partner's node, a lead's request; at the lead's, each partner's answer.
        ConsentRequested: functools.partial(consents.consent_requested, consenting=consenting),
        ConsentGiven: consents.consent_given,
        ConsentDeclined: consents.consent_declined,
        ConsentWithdrawn: consents.consent_withdrawn,
    }
