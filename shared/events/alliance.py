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

Addressed messages (AddressedMessage) are the other kind: each from one node (`sender`) to one partner
(`recipient`), never broadcast, so they may carry what only that partner may see (a learner's credential, to the
university that co-awards it). A service of the sending node writes one on `mc.alliance.outgoing` with the node as
`source`; the gateway sends it on `alliance.<sender>.to.<recipient>` (only the recipient's principal reads there),
`source` = the sender's `event_source` in the registry; the recipient's gateway takes it in only if the topic's owner
is the sender it names and the recipient is itself, once per event id, and re-publishes it on its node's
`mc.alliance.incoming`. Commands are imperatives of what is asked (`endorsement.requested`: "endorse this"), answers
are facts (`endorsement.signed`, `endorsement.declined`).

What is never in a listing: anything about a person. No learner appears anywhere (places are counts); the staff who
approved or opened something are left out; what a description names (course leaders, lecturers, a contact) is what
the course's own public page shows.
"""

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import Field

from shared.events.catalogue import AwardingBody, DeliveryMode, MicroCredentialDescription, Pace, StackingRule
from shared.events.common import LearnerCategory, Money
from shared.events.envelope import Event
from shared.events.topics import NODE_ID, Topic

_NODE = f"^{NODE_ID.pattern}$"


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


# --- messages addressed to one partner node ---


class AddressedMessage(Event):
    """A message from one node of the alliance to one other. Inside the sending node it travels on
    `mc.alliance.outgoing` (`relayed_on`), inside the recipient's on `mc.alliance.incoming`."""

    topic: ClassVar[Topic] = Topic.ALLIANCE_INCOMING
    relayed_on: ClassVar[Topic] = Topic.ALLIANCE_OUTGOING
    # Node ids in the alliance registry: the sender is always the owner of the topic it travels on.
    sender: str = Field(pattern=_NODE)
    recipient: str = Field(pattern=_NODE)


class EndorsementMessage(AddressedMessage):
    # The joint credential (its id, as issued by the lead) and the co-awarding institution whose endorsement it is.
    credential_id: str = Field(min_length=1, max_length=200)
    institution: str = Field(min_length=1, max_length=100)

    @property
    def key(self) -> str:
        return f"endorsement/{self.credential_id}/{self.institution}"


class EndorsementRequested(EndorsementMessage):
    """The lead's node asks the node of a co-awarding institution to endorse a joint credential it issued: the signed
    credential itself travels (learner data, to the co-awarding university only)."""

    type: ClassVar[str] = "eu.microcredentials.alliance.endorsement.requested.v1"
    # The lead awarding institution, which issued and signed it.
    lead_institution: str = Field(min_length=1, max_length=100)
    course_id: str = Field(min_length=1, max_length=200)
    course_version: int = Field(ge=1)
    # The signed OpenBadgeCredential, as the lead issued it.
    credential: dict[str, Any]


class EndorsementSigned(EndorsementMessage):
    """The co-awarding institution's node signed its EndorsementCredential of the credential, with its own key."""

    type: ClassVar[str] = "eu.microcredentials.alliance.endorsement.signed.v1"
    # The signed Open Badges 3.0 EndorsementCredential; its subject is the credential.
    endorsement: dict[str, Any]


class EndorsementDeclined(EndorsementMessage):
    """The co-awarding institution's node does not endorse the credential, and why (the lead keeps asking: what was
    missing, such as the course's listing, may arrive)."""

    type: ClassVar[str] = "eu.microcredentials.alliance.endorsement.declined.v1"
    reason: str = Field(min_length=1, max_length=1000)


# --- joint courses: each co-awarding partner consents at its own node ---


class ConsentMessage(AddressedMessage):
    # The lead's course, the version consent is about, and the co-awarding institution (hosted by the recipient of a
    # request, by the sender of an answer) whose consent it is.
    course_id: str = Field(min_length=1, max_length=200)
    course_version: int = Field(ge=1)
    institution: str = Field(min_length=1, max_length=100)

    @property
    def key(self) -> str:
        # Per course and partner, not per version: a withdrawal stays behind the consent it withdraws.
        return f"consent/{self.course_id}/{self.institution}"


class ConsentRequested(ConsentMessage):
    """The lead's node asks a co-awarding institution's node to take part in a joint course version (a new course or
    a revision): the course is approved only when the lead's QA and every co-awarding institution have consented."""

    type: ClassVar[str] = "eu.microcredentials.alliance.consent.requested.v1"
    lead_institution: str = Field(min_length=1, max_length=100)
    # Every awarding institution's code, the lead first.
    institutions: list[str] = Field(min_length=2)
    description: MicroCredentialDescription
    # The version this institution consented to before, when this one revises it (its QA sees what changed).
    previous_version: int | None = Field(default=None, ge=1)


class ConsentGiven(ConsentMessage):
    """The co-awarding institution takes part in this version: two of its people agreed at its own node."""

    type: ClassVar[str] = "eu.microcredentials.alliance.consent.given.v1"
    given_at: datetime


class ConsentDeclined(ConsentMessage):
    """The co-awarding institution does not take part in this version, and why."""

    type: ClassVar[str] = "eu.microcredentials.alliance.consent.declined.v1"
    reason: str = Field(min_length=1, max_length=1000)


class ConsentWithdrawn(ConsentMessage):
    """The co-awarding institution no longer takes part from this version on: the course opens no new offerings with
    it, and credentials already issued stay as they are."""

    type: ClassVar[str] = "eu.microcredentials.alliance.consent.withdrawn.v1"
    reason: str = Field(min_length=1, max_length=1000)
    withdrawn_at: datetime


# --- stacking across nodes: a node relies on another's credential for a programme, and is told when it is revoked ---


class RelianceMessage(AddressedMessage):
    # The credential relied on, by its `id` as its issuer signed it (the URL of its public record at the issuer's
    # node), and the institution that issued it (one the issuer's node hosts).
    credential_id: str = Field(min_length=1, max_length=500)
    institution: str = Field(min_length=1, max_length=100)

    @property
    def key(self) -> str:
        return f"reliance/{self.credential_id}"


class RelianceDeclared(RelianceMessage):
    """The relying node tells the issuer's node that it relies on one of its credentials (a learner presented it there
    as a part of a programme, or for a prerequisite): the issuer's node then tells it when that credential is revoked.
    Nothing about the learner travels but the credential's id, which the issuer knows already."""

    type: ClassVar[str] = "eu.microcredentials.alliance.reliance.declared.v1"
    # The programme of the relying node it was presented for (None: presented for a course's prerequisites).
    programme_id: str | None = Field(default=None, min_length=1, max_length=200)


class PartRevoked(RelianceMessage):
    """The issuer's node tells a node that relies on its credential that the credential was revoked. The relying
    node believes its issuer's status list, not this message: it reads the list again at once."""

    type: ClassVar[str] = "eu.microcredentials.alliance.part.revoked.v1"
    revoked_at: datetime
