"""shared.db.among: rows looked up by the values of several columns, on a real PostgreSQL."""

import asyncio
import uuid

import pytest
from sqlmodel import col, select

from services.assessment.app import create_service
from services.assessment.models import EnrolledLearner
from services.assessment.settings import AssessmentSettings
from shared.db import among, create_engine, create_sessionmaker, utcnow
from shared.migrations import upgrade

pytestmark = pytest.mark.integration


async def test_among_finds_exactly_the_pairs_asked_for_not_their_cross_product(stack):
    settings = stack.settings(AssessmentSettings)
    await asyncio.to_thread(upgrade, settings, create_service(settings).migrations)
    engine = create_engine(settings)
    a, b, c = (f"course-{name}-{uuid.uuid4().hex[:6]}" for name in "abc")
    enrolled = [(a, "ada"), (a, "bob"), (b, "bob"), (b, "cy")]
    try:
        async with create_sessionmaker(engine)() as session:
            for number, (course, learner) in enumerate(enrolled):
                session.add(EnrolledLearner(
                    enrolment_id=f"among-{number}", course_id=course, course_version=1, learner_id=learner,
                    learner={"learner_id": learner}, enrolled_at=utcnow(),
                ))
            await session.flush()
            pair = (col(EnrolledLearner.course_id), col(EnrolledLearner.learner_id))

            async def found(wanted):
                rows = await session.exec(select(EnrolledLearner).where(among(pair, wanted)))
                return sorted((row.course_id, row.learner_id) for row in rows)

            # (b, "ada") and (a, "cy") are in the cross product of the courses and learners asked for, not among the
            # pairs; (c, "bob") is not enrolled.
            assert await found([(a, "ada"), (b, "cy"), (c, "bob")]) == sorted([(a, "ada"), (b, "cy")])
            assert await found([(b, "bob")]) == [(b, "bob")]
            assert await found([]) == []
            await session.rollback()
    finally:
        await engine.dispose()
