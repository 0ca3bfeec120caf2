"""The notifications service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.notifications.handlers import event_handlers
from services.notifications.routes import router
from services.notifications.settings import NotificationsSettings
from shared import service
from shared.events import Topic


def create_service(settings: NotificationsSettings | None = None) -> service.Service:
    settings = settings or NotificationsSettings()
    return service.Service(
        settings=settings,
        title="Notifications",
        description="Emails learners about what happened to them and records every delivery.",
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        handlers=event_handlers(settings),
        consumes=[Topic.ENROLMENTS, Topic.CREDENTIALS],
    )


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
