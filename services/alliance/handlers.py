"""Kafka handlers of the gateway: the node's own public facts (read on the node's cluster) become listings for the
alliance, and the messages its services address to a partner are sent; the members' listings and the messages they
address to this node (read on the alliance's cluster) are taken in for the node."""

from collections.abc import Callable
from functools import partial

from services.alliance import addressing, publishing, receiving
from shared.alliance import AllianceRegistry
from shared.consumer import Handler
from shared.events import Event
from shared.events.alliance import (
    CourseDelisted,
    EndorsementDeclined,
    EndorsementRequested,
    EndorsementSigned,
    CourseListed,
    OfferingDelisted,
    OfferingListed,
    PartRevoked,
    ProgrammeListed,
    RelianceDeclared,
)
from shared.events.catalogue import CourseApproved, CourseRetired, OfferingOpened, ProgrammeApproved
from shared.events.enrolment import OfferingAvailabilityChanged


# Every message type addressed to one partner.
ADDRESSED = (
    EndorsementRequested, EndorsementSigned, EndorsementDeclined,
    # Stacking across nodes (services/certification/presented_parts.py).
    RelianceDeclared, PartRevoked,
)


def node_handlers(node: str | None, registry: Callable[[], AllianceRegistry | None]) -> dict[type[Event], Handler]:
    """The node's facts that change what it lists, and the messages its services address to partners (under
    ALLIANCE_NODE_ID, which the gateway does not serve without)."""
    send = partial(addressing.message_to_send, node=node, registry=registry)
    return {message: send for message in ADDRESSED} | {
        CourseApproved: partial(publishing.course_approved, node=node),
        CourseRetired: partial(publishing.course_retired, node=node),
        OfferingOpened: partial(publishing.offering_opened, node=node),
        OfferingAvailabilityChanged: partial(publishing.availability_changed, node=node),
        ProgrammeApproved: partial(publishing.programme_approved, node=node),
    }


def bus_handlers(node: str, registry: Callable[[], AllianceRegistry | None]) -> dict[type[Event], Handler]:
    """The members' listings, and what they address to this node."""
    received = partial(receiving.listing_received, node=node, registry=registry)
    delivered = partial(addressing.message_received, node=node, registry=registry)
    return {
        listing: received
        for listing in (CourseListed, CourseDelisted, OfferingListed, OfferingDelisted, ProgrammeListed)
    } | {message: delivered for message in ADDRESSED}
