"""The enrolment service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.enrolment.handlers import event_handlers
from services.enrolment.routes import router
from services.enrolment.settings import EnrolmentSettings
from shared import service
from shared.events import Topic


def create_service(settings: EnrolmentSettings | None = None) -> service.Service:
    return service.Service(
        settings=settings or EnrolmentSettings(),
        title="Enrolment",
        description="Learners and their enrolments in approved micro-credentials.",
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        handlers=event_handlers(),
        consumes=[Topic.COURSES],
    )


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
