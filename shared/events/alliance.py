"""What the nodes of an alliance tell each other about their catalogues: listings, published by each node's gateway.

A listing is a snapshot: the whole public state of one course, offering or programme of the node that runs it,
published again whenever that state changes, keyed by it. The latest message per key is the truth, so the topics
that carry listings are compacted, and a node that starts empty learns the whole alliance's catalogue from them.
A delisting is the last word on something taken off offer (a retired course, the offerings of a retired course).

Where they travel (shared/events/topics.py):
- `alliance.<node-id>.catalogue` on the alliance's cluster: the listings of node `<node-id>`, written by its gateway
  as its Kafka principal (only that principal may write there), `source` = the node's `event_source` in the alliance
  registry. Every member's gateway reads every other member's.
- `mc.alliance.listings` inside a node: the members' listings its gateway accepted (the topic names the node they
  come from, the registry names its institutions), re-published with this node as `source`; the catalogue reads them.

What is never in a listing: anything about a person. No learner appears anywhere (places are counts); the staff who
approved or opened something are left out; what a description names (course leaders, lecturers, a contact) is what
the course's own public page shows.
"""

from datetime import date, datetime
from typing import ClassVar

from pydantic import Field

from shared.events.catalogue import AwardingBody, DeliveryMode, MicroCredentialDescription, Pace, StackingRule
from shared.events.common import LearnerCategory, Money
from shared.events.envelope import Event
from shared.events.topics import NODE_ID, Topic


class Listing(Event):
    topic: ClassVar[Topic] = Topic.ALLIANCE_LISTINGS
    # The node that runs what is listed, by its id in the alliance registry; always the topic's owner.
    node: str = Field(pattern=f"^{NODE_ID.pattern}$")


class CourseListing(Listing):
    course_id: str = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"course/{self.node}/{self.course_id}"


class CourseListed(CourseListing):
    """A course's newest approved version that is not retired, as its node's catalogue describes it."""

    type: ClassVar[str] = "eu.microcredentials.alliance.course.listed.v1"
    version: int = Field(ge=1)
    # The awarding institutions' codes, the lead first (the lead is one the node hosts).
    institutions: list[str] = Field(min_length=1)
    description: MicroCredentialDescription
    approved_at: datetime


class CourseDelisted(CourseListing):
    """The course is no longer on offer anywhere (every approved version retired)."""

    type: ClassVar[str] = "eu.microcredentials.alliance.course.delisted.v1"
    reason: str = Field(min_length=1, max_length=500)


class OfferingListing(Listing):
    offering_id: str = Field(min_length=1)

    @property
    def key(self) -> str:
        return f"offering/{self.node}/{self.offering_id}"


class OfferingListed(OfferingListing):
    """An offering, with the description of the course version it runs and its places as they stand now."""

    type: ClassVar[str] = "eu.microcredentials.alliance.offering.listed.v1"
    course_id: str = Field(min_length=1)
    course_version: int = Field(ge=1)
    title: str = Field(min_length=1)
    # The lead awarding institution, which runs the offering (one the node hosts), and all of the course's.
    institution: str = Field(min_length=1)
    institutions: list[str] = Field(min_length=1)
    delivery_mode: DeliveryMode
    pace: Pace
    starts_on: date | None = None
    ends_on: date | None = None
    registration_opens_at: datetime
    registration_closes_at: datetime
    # None: open to any number of learners.
    capacity: int | None = Field(default=None, ge=1)
    fee: Money | None = None
    open_to: list[LearnerCategory] = Field(default_factory=list)
    description: MicroCredentialDescription
    enrolled: int = Field(default=0, ge=0)
    waitlisted: int = Field(default=0, ge=0)
    # None: no limit.
    places_left: int | None = Field(default=None, ge=0)


class OfferingDelisted(OfferingListing):
    """The offering takes no more applications from anyone (its course was retired)."""

    type: ClassVar[str] = "eu.microcredentials.alliance.offering.delisted.v1"
    reason: str = Field(min_length=1, max_length=500)


class ProgrammeListed(Listing):
    """An approved programme: a stack of micro-credentials, possibly of several members."""

    type: ClassVar[str] = "eu.microcredentials.alliance.programme.listed.v1"
    programme_id: str = Field(min_length=1)
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    description: str | None = None
    awarding_bodies: list[AwardingBody] = Field(min_length=1)
    institutions: list[str] = Field(min_length=1)
    rule: StackingRule
    approved_at: datetime

    @property
    def key(self) -> str:
        return f"programme/{self.node}/{self.programme_id}"
