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

    @property
    def key(self) -> str:
        return self.recipient


class NotificationSent(NotificationEvent):
    type: ClassVar[str] = "eu.microcredentials.notifications.notification.sent.v1"
    template: str


class NotificationFailed(NotificationEvent):
    type: ClassVar[str] = "eu.microcredentials.notifications.notification.failed.v1"
    template: str
    reason: str
