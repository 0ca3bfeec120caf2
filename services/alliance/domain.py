"""The gateway's rules, as plain functions: what the alliance is told of this node's catalogue (listings built from
the node's own facts), and which listings of other members this node takes in (checked against the registry).

What leaves the node is decided here and nowhere else: only public catalogue facts, rebuilt field by field into the
listing contracts (shared/events/alliance.py), so that nothing the node's own events carry about people (who approved
a course, who opened an offering) can slip onto the alliance bus.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from shared.alliance import AllianceRegistry, NotAMember
from shared.events.alliance import (
    AddressedMessage,
    CourseDelisted,
    CourseListed,
    Listing,
    OfferingDelisted,
    OfferingListed,
    ProgrammeListed,
)
from shared.events.catalogue import CourseApproved, OfferingOpened, ProgrammeApproved
from shared.events.enrolment import OfferingAvailabilityChanged


@dataclass(frozen=True)
class CourseVersion:
    """An approved version of one of the node's courses, and whether it was retired since."""

    approved: CourseApproved
    retired: bool = False

    @property
    def institutions(self) -> list[str]:
        """The awarding institutions' codes, the lead first (the catalogue's policy gives each awarding body one)."""
        return [body.id for body in self.approved.description.awarding_bodies if body.id]


# --- who this node is in the alliance ---


def membership_problem(registry: AllianceRegistry | None, node_id: str | None, node_uri: str) -> str | None:
    """Why the gateway cannot speak for this node on the alliance bus yet, or None: the registry in use must list the
    node (ALLIANCE_NODE_ID) with this node's NODE_URI as its event source, which is what members believe."""
    if node_id is None:
        return "ALLIANCE_NODE_ID is not set: this node's id in the alliance registry"
    if registry is None:
        return "no alliance registry is in use yet (ALLIANCE_REGISTRY_URL; the registry watcher logs why)"
    try:
        node = registry.node(node_id)
    except NotAMember as unknown:
        return f"ALLIANCE_NODE_ID: {unknown}"
    if node.event_source != node_uri:
        return (
            f"the registry gives node {node_id} the event source {node.event_source!r}, but this node's NODE_URI is "
            f"{node_uri!r}: every member would refuse its listings"
        )
    return None


# --- what this node lists ---


def course_listing(node: str, versions: Sequence[CourseVersion]) -> CourseListed | CourseDelisted | None:
    """What the alliance is told of a course: its newest approved version that is not retired, or that none is left
    (every approved version retired); None while no approved version is known."""
    if not versions:
        return None
    on_offer = [version for version in versions if not version.retired]
    if not on_offer:
        return CourseDelisted(
            node=node, course_id=versions[0].approved.course_id, reason="every approved version was retired"
        )
    newest = max(on_offer, key=lambda version: version.approved.version)
    approved = newest.approved
    return CourseListed(
        node=node,
        course_id=approved.course_id,
        version=approved.version,
        institutions=newest.institutions,
        description=approved.description,
        approved_at=approved.approved_at,
    )


def offering_listing(
    node: str,
    offering: OfferingOpened,
    course: CourseVersion | None,
    places: OfferingAvailabilityChanged | None,
) -> OfferingListed | OfferingDelisted | None:
    """What the alliance is told of an offering: its terms, the description of the course version it runs and its
    places now, or that it is off offer (its course was retired); None until its course version is known here (the
    two travel on different topics)."""
    if course is None:
        return None
    if course.retired:
        return OfferingDelisted(
            node=node,
            offering_id=offering.offering_id,
            reason=f"course {offering.course_id} version {offering.course_version} was retired",
        )
    # Until enrolment tells otherwise, an offering that just opened has every place free.
    enrolled, waitlisted = (places.enrolled, places.waitlisted) if places else (0, 0)
    places_left = places.places_left if places else offering.capacity
    return OfferingListed(
        node=node,
        offering_id=offering.offering_id,
        course_id=offering.course_id,
        course_version=offering.course_version,
        title=offering.title,
        institution=offering.institution or course.institutions[0],
        institutions=course.institutions,
        delivery_mode=offering.delivery_mode,
        pace=offering.pace,
        starts_on=offering.starts_on,
        ends_on=offering.ends_on,
        registration_opens_at=offering.registration_opens_at,
        registration_closes_at=offering.registration_closes_at,
        capacity=offering.capacity,
        fee=offering.fee,
        open_to=offering.open_to,
        description=course.approved.description,
        enrolled=enrolled,
        waitlisted=waitlisted,
        places_left=places_left,
    )


def programme_listing(node: str, programme: ProgrammeApproved) -> ProgrammeListed:
    return ProgrammeListed(
        node=node,
        programme_id=programme.programme_id,
        version=programme.version,
        title=programme.title,
        description=programme.description,
        awarding_bodies=programme.awarding_bodies,
        institutions=[body.id for body in programme.awarding_bodies if body.id],
        rule=programme.rule,
        approved_at=programme.approved_at,
    )


# --- what this node takes in from the others ---


def speaks_for(listing: Listing) -> str | None:
    """The institution a listing speaks for (what it lists is that institution's to run); None for a delisting,
    which only takes something of its node's off."""
    if isinstance(listing, OfferingListed):
        return listing.institution
    if isinstance(listing, CourseListed | ProgrammeListed):
        return listing.institutions[0]
    return None


def refusal(listing: Listing, sender: str, registry: AllianceRegistry) -> str | None:
    """Why a member's listing is not taken in, or None. The sender is the node whose topic it came on (provenance has
    checked that its source is that node): a listing must name its sender as its node, and speak only for an
    institution the registry says the sender hosts."""
    if listing.node != sender:
        return f"{listing.type} names node {listing.node!r}, but it came from node {sender!r}"
    institution = speaks_for(listing)
    if institution is None:
        return None
    try:
        member = registry.member(institution)
    except NotAMember as unknown:
        return f"{listing.type} of node {sender} speaks for {unknown}"
    if member.node != sender:
        return (
            f"{listing.type} of node {sender} speaks for {institution} ({member.legal_name}), which node "
            f"{member.node} hosts, not node {sender}"
        )
    return None


# --- messages addressed to one partner ---


def sending_refusal(message: AddressedMessage, node: str, registry: AllianceRegistry | None) -> str | None:
    """Why a message a service of this node addressed to a partner is not sent, or None: it must name this node as its
    sender and another node of the registry in use as its recipient."""
    if message.sender != node:
        return f"{message.type} names {message.sender!r} as its sender, but this node is {node!r}"
    if registry is None:
        return f"{message.type} to {message.recipient!r}: no alliance registry is in use, so no partner is known"
    if message.recipient == node:
        return f"{message.type} is addressed to this node itself ({node!r}); only partners are sent messages"
    try:
        registry.node(message.recipient)
    except NotAMember as unknown:
        return f"{message.type} is addressed to {unknown}"
    return None


def receiving_refusal(message: AddressedMessage, sender: str, node: str) -> str | None:
    """Why a message that came on the alliance bus is not taken in, or None. `sender` is the node that owns the topic
    it came on (provenance has checked that its source is that node's): the message must name it as its sender and
    this node as its recipient."""
    if message.sender != sender:
        return f"{message.type} names {message.sender!r} as its sender, but it came from node {sender!r}"
    if message.recipient != node:
        return f"{message.type} is addressed to {message.recipient!r}, not to this node ({node!r})"
    return None
