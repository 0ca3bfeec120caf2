"""Kafka handlers of the gateway: the node's own public facts (read on the node's cluster) become listings for the
alliance; the members' listings (read on the alliance's cluster) are taken in for the node."""

from collections.abc import Callable
from functools import partial

from services.alliance import publishing, receiving
from shared.alliance import AllianceRegistry
from shared.consumer import Handler
from shared.events import Event
from shared.events.alliance import (
    CourseDelisted,
    CourseListed,
    OfferingDelisted,
    OfferingListed,
    ProgrammeListed,
)
from shared.events.catalogue import CourseApproved, CourseRetired, OfferingOpened, ProgrammeApproved
from shared.events.enrolment import OfferingAvailabilityChanged


def node_handlers(node: str | None) -> dict[type[Event], Handler]:
    """The node's facts that change what it lists (under ALLIANCE_NODE_ID, which the gateway does not serve without)."""
    return {
        CourseApproved: partial(publishing.course_approved, node=node),
        CourseRetired: partial(publishing.course_retired, node=node),
        OfferingOpened: partial(publishing.offering_opened, node=node),
        OfferingAvailabilityChanged: partial(publishing.availability_changed, node=node),
        ProgrammeApproved: partial(publishing.programme_approved, node=node),
    }


def bus_handlers(node: str, registry: Callable[[], AllianceRegistry | None]) -> dict[type[Event], Handler]:
    """The members' listings."""
    received = partial(receiving.listing_received, node=node, registry=registry)
    return {
        listing: received
        for listing in (CourseListed, CourseDelisted, OfferingListed, OfferingDelisted, ProgrammeListed)
    }
