"""The enrolment service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.enrolment import applications
from services.enrolment.handlers import event_handlers
from services.enrolment.routes import router
from services.enrolment.settings import EnrolmentSettings
from shared import service
from shared.events import Topic


def create_service(settings: EnrolmentSettings | None = None) -> service.Service:
    return service.Service(
        settings=settings or EnrolmentSettings(),
        title="Enrolment",
        description="Learners, their applications to offerings of approved micro-credentials, places, waitlists and fees.",
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        handlers=event_handlers(),
        consumes=[Topic.COURSES, Topic.OFFERINGS, Topic.CREDENTIALS],
        background=[applications.serve],
    )


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
