"""The notifications service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.notifications.dashboards.handlers import recording
from services.notifications.dashboards.routes import router as dashboards_router
from services.notifications.handlers import event_handlers
from services.notifications.recorded import RecordedDeliveries
from services.notifications.routes import preferences_router, router
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import delivery_worker
from shared import service
from shared.events import EVENT_TYPES, Topic


def create_service(settings: NotificationsSettings | None = None) -> service.Service:
    settings = settings or NotificationsSettings()
    # What the consumer records, it claims for the worker of the same process and hands over in memory.
    recorded = RecordedDeliveries(settings.delivery_lease_seconds)
    emails = event_handlers(settings, recorded)
    # Every event the node's services publish goes into the dashboards' log (not the LMSs' raw, untrusted
    # submissions: assessment's verdicts on them are there; nor the other members' catalogues, which the gateway
    # passes on to the catalogue); learner-facing ones then go on to their email. The service's own events
    # (NotificationSent, NotificationFailed) are logged by the delivery worker in the transaction that publishes them,
    # not consumed back from Kafka.
    elsewhere = (Topic.GRADE_SUBMISSIONS, Topic.ALLIANCE_LISTINGS, Topic.NOTIFICATIONS)
    topics = [topic for topic in Topic if topic not in elsewhere]
    handlers = {cls: recording(emails.get(cls)) for cls in EVENT_TYPES.values() if cls.topic in topics}
    return service.Service(
        settings=settings,
        title="Notifications",
        description=(
            "Emails learners about what happened to them, in their language, exactly once per event and recipient; "
            "records every delivery, retries transient SMTP failures and reports permanent ones. Dashboards: a "
            "resumable Server-Sent Events stream of the node's events, and the figures staff ask about."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[router, preferences_router, dashboards_router],
        handlers=handlers,
        consumes=topics,
        # The Kafka handlers only record deliveries; this worker sends them.
        background=[delivery_worker(settings, recorded)],
    )


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
