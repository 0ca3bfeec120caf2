"""The dashboards' event log written a batch at a time (services/notifications/dashboards/handlers.py): an email's
event takes the university of the event it told about, whether that was logged in an earlier transaction or earlier
in the same batch, and the staff's email figures count it there."""

import asyncio
import uuid

import pytest
from sqlalchemy import text

from services.notifications.app import create_service
from services.notifications.dashboards.figures import read_figures
from services.notifications.dashboards.handlers import record_event
from services.notifications.dashboards.models import CourseUniversity
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.test_domain import LEARNER, grade_recorded
from shared.db import UnitOfWork, create_engine, create_sessionmaker
from shared.events import CloudEvent
from shared.events.notifications import NotificationSent
from shared.migrations import upgrade

pytestmark = pytest.mark.integration

SOURCE = "urn:microcredentials:node:test"


def sent_about(about: CloudEvent) -> NotificationSent:
    return NotificationSent(
        notification_id=str(uuid.uuid4()), about_event_id=about.id, about_event_type=about.type,
        recipient=LEARNER.email, template="grade_recorded",
    )


async def test_emails_count_for_the_university_of_what_they_told_about_in_the_same_batch_or_before(stack):
    settings = stack.settings(NotificationsSettings)
    await asyncio.to_thread(upgrade, settings, create_service(settings).migrations)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with UnitOfWork(sessionmaker, SOURCE) as uow:
            # The course's university, as the catalogue's event told the dashboards.
            uow.session.add(CourseUniversity(aggregate_id="course-ai-ethics", university="uni-sofia"))
            await uow.commit()

        earlier = CloudEvent.wrap(grade_recorded(True), source=SOURCE)
        async with UnitOfWork(sessionmaker, SOURCE) as uow:
            await record_event(grade_recorded(True), earlier, uow)
            await uow.commit()

        same_batch = CloudEvent.wrap(grade_recorded(False), source=SOURCE)
        emails = [sent_about(earlier), sent_about(same_batch)]
        envelopes = [CloudEvent.wrap(email, source=SOURCE) for email in emails]
        async with UnitOfWork(sessionmaker, SOURCE) as uow:
            await record_event(emails[0], envelopes[0], uow)
            await record_event(grade_recorded(False), same_batch, uow)
            await record_event(emails[1], envelopes[1], uow)
            await uow.commit()

        async with UnitOfWork(sessionmaker, SOURCE) as uow:
            sofia = await read_figures(uow.session, "uni-sofia")
            # This test's events only: the log may hold other tests' (the database is the session's).
            logged = (await uow.session.execute(
                text("SELECT type, university FROM event_log WHERE event_id = ANY(:ids) ORDER BY sequence"),
                {"ids": [earlier.id, same_batch.id, *(envelope.id for envelope in envelopes)]},
            )).all()
    finally:
        await engine.dispose()

    assert sofia["emails"] == {"sent": 2, "failed": 0}
    assert [university for _, university in logged] == ["uni-sofia"] * 4
    assert sofia["pass_rates"][0]["graded"] == 2 and sofia["pass_rates"][0]["passed"] == 1
