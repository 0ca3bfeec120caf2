"""Events the notifications service publishes about the emails it sends."""

from typing import ClassVar

from shared.events.envelope import Event
from shared.events.topics import Topic


class NotificationEvent(Event):
    topic: ClassVar[Topic] = Topic.NOTIFICATIONS
    notification_id: str
    # The CloudEvent id of the event the learner was told about.
    about_event_id: str
    about_event_type: str
    recipient: str
    # The email's Message-ID header (the same on every attempt) and its language (ISO 639-1).
    message_id: str | None = None
    language: str | None = None
    # SMTP attempts made.
    attempts: int | None = None

    @property
    def key(self) -> str:
        return self.recipient


class NotificationSent(NotificationEvent):
    type: ClassVar[str] = "eu.microcredentials.notifications.notification.sent.v1"
    template: str


class NotificationFailed(NotificationEvent):
    """The email could not be delivered and will not be tried again: the relay refused it for good (5xx), or it kept
    failing (unreachable, 4xx) until the attempts or the age allowed ran out. `reason` holds the last reply."""

    type: ClassVar[str] = "eu.microcredentials.notifications.notification.failed.v1"
    template: str
    reason: str
    # True when the relay refused it (5xx); False when the retries ran out.
    permanent: bool | None = None
