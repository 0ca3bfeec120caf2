"""Events the certification service publishes about learners' credentials."""

from datetime import datetime
from typing import ClassVar

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
