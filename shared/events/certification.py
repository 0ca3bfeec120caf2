"""Events the certification service publishes about learners' credentials."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.catalogue import AwardingBody
from shared.events.common import LearnerIdentity
from shared.events.envelope import Event
from shared.events.topics import Topic


class CredentialEvent(Event):
    topic: ClassVar[Topic] = Topic.CREDENTIALS
    credential_id: str
    learner_id: str

    @property
    def key(self) -> str:
        return self.learner_id


class CredentialIssued(CredentialEvent):
    type: ClassVar[str] = "eu.microcredentials.certification.credential.issued.v1"
    learner: LearnerIdentity
    course_id: str
    course_version: int
    title: str
    awarding_bodies: list[AwardingBody]
    issued_at: datetime
    grade: str | None = None
    # Where the learner and others can fetch the credential from this node.
    credential_url: str
    # The credential (id) this one replaces, when an amended grade changed it; the old one is revoked.
    replaces: str | None = None
    # The signed W3C Verifiable Credential (OpenBadgeCredential) alone, and the page that verifies it.
    download_url: str | None = None
    verify_url: str | None = None
    # The DID of the lead awarding institution that signed it.
    issuer_did: str | None = None
    # A programme credential (then course_id and course_version are the programme's), and the credentials it stacks.
    programme: bool = False
    parts: list[str] = Field(default_factory=list)


class CredentialStatusChanged(CredentialEvent):
    # Who holds the credential (so that they can be told).
    learner: LearnerIdentity
    course_id: str
    title: str
    reason: str = Field(min_length=1)
    # The registrar (subject of their token), or `assessment` when an amended grade caused it.
    changed_by: str
    changed_at: datetime
    credential_url: str
    verify_url: str | None = None


class CredentialRevoked(CredentialStatusChanged):
    """Revoked for good: verifiers are told through the institution's revocation status list."""

    type: ClassVar[str] = "eu.microcredentials.certification.credential.revoked.v1"
    # The credential issued in its place, when an amended (still passing) grade replaced it.
    replaced_by: str | None = None


class CredentialSuspended(CredentialStatusChanged):
    """Not valid until reinstated (an investigation, an unpaid fee): the suspension status list says so."""

    type: ClassVar[str] = "eu.microcredentials.certification.credential.suspended.v1"


class CredentialReinstated(CredentialStatusChanged):
    """A suspension lifted: the credential is valid again."""

    type: ClassVar[str] = "eu.microcredentials.certification.credential.reinstated.v1"


class CredentialPresented(CredentialEvent):
    """A learner presented a micro-credential they hold, issued by another node (or by this one), and it verified here
    (services/certification/presented_parts.py): it counts for them at this node like one issued here (a programme's
    part, a course's prerequisite)."""

    type: ClassVar[str] = "eu.microcredentials.certification.credential.presented.v1"
    # credential_id: the credential's `id` as its issuer signed it (the URL of its record at the issuer's node).
    course_id: str
    course_version: int
    issuer_did: str
    presented_at: datetime


class CredentialCompleted(CredentialEvent):
    """A joint credential's last pending endorsement is attached: every co-awarding institution has endorsed it at its
    own node, and the lead signed it again so that its proof covers them (the learner's copy should be the new one)."""

    type: ClassVar[str] = "eu.microcredentials.certification.credential.completed.v1"
    learner: LearnerIdentity
    course_id: str
    course_version: int
    title: str
    awarding_bodies: list[AwardingBody]
    # The co-awarding institutions that endorsed it (the registry's legal names), in the order they are attached.
    endorsed_by: list[str] = Field(min_length=1)
    completed_at: datetime
    credential_url: str
    download_url: str | None = None
    verify_url: str | None = None
