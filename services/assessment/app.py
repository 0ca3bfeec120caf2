"""The assessment service's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.assessment.handlers import event_handlers
from services.assessment.routes import COHORT_UPLOAD, router
from services.assessment.settings import AssessmentSettings
from shared import service
from shared.events import Topic
from shared.limits import Limit


def create_service(settings: AssessmentSettings | None = None) -> service.Service:
    settings = settings or AssessmentSettings()
    return service.Service(
        settings=settings,
        title="Assessment",
        description=(
            "Grading schemes per course; grades from LMSs, from assessors one by one and as CSV cohorts, judged by the "
            "course's scheme and recorded with their amendments; rejected submissions with the rule and the reason."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        handlers=event_handlers(settings),
        # GRADE_SUBMISSIONS is a family: every registered LMS's topic.
        consumes=[Topic.COURSES, Topic.ENROLMENTS, Topic.GRADE_SUBMISSIONS],
        body_limits={COHORT_UPLOAD: Limit(settings.grades_csv_max_bytes, "GRADES_CSV_MAX_BYTES")},
    )


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
