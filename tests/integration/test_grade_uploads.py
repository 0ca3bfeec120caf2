"""An assessor's CSV upload is kept in the front end's database (services/web/grade_uploads.py), not in the memory of
the process that took it: another process (a second front end, or the same one after a restart) shows it and what
became of its lines; one the sending process stopped caring for reads as cut off; nobody else sees it."""

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest

from services.web import grade_uploads
from services.web.api import NodeApi
from services.web.app import HERE
from services.web.models import GradeUpload
from services.web.settings import WebSettings
from shared.db import create_engine, create_sessionmaker, utcnow
from shared.migrations import upgrade
from tests.stack import free_port

pytestmark = pytest.mark.integration

COHORT = "learner_id,grade,assessed_on\nana,1.7,2026-11-20\nben,2.0,2026-11-21\n"


def web_settings(stack, **overrides: str) -> WebSettings:
    # The front end is no Kafka client: its database is all it needs here.
    return WebSettings(database_url=stack.database_url, database_prefix=stack.database_prefix, **overrides)


@pytest.fixture
async def sessions(stack):
    settings = web_settings(stack)
    await asyncio.to_thread(upgrade, settings, HERE / "migrations")
    engine = create_engine(settings)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_an_upload_and_why_it_stopped_are_read_back_by_another_process(sessions, stack):
    # Assessment does not answer (nothing listens on its port): the upload stops, and says so wherever it is read.
    settings = web_settings(stack, assessment_url=f"http://127.0.0.1:{free_port()}")
    running: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(timeout=5) as http:
        upload = await grade_uploads.started(
            sessions, running, NodeApi(http, settings, "token"), "course-water", "maria", "cohort.csv", COHORT
        )
        await asyncio.gather(*running)

    async with sessions() as db:  # a fresh session, as another process would read it
        again = await grade_uploads.found(db, upload.id, "maria")
        listed = await grade_uploads.of_course(db, "course-water", "maria")
    assert again is not None
    assert (again.filename, again.total, again.processed, again.finished, again.stopped, again.cut_off) == (
        "cohort.csv", 2, 0, True, "unavailable", False)
    assert again.lines == [(2, "ana,1.7,2026-11-20"), (3, "ben,2.0,2026-11-21")]
    assert [each.id for each in listed][:1] == [upload.id]


async def test_results_saved_part_by_part_are_shown_and_an_upload_left_unfinished_reads_as_cut_off(sessions):
    upload = grade_uploads.Upload(str(uuid.uuid4()), "course-cut", "maria", "big.csv", "learner_id,grade,assessed_on",
                                  [(2, "ana,1.7,2026-11-20"), (3, "ben,2.0,2026-11-21")])
    upload.results.append(grade_uploads.LineResult(2, "ana", True, "1.7", passed=True))
    long_ago = utcnow() - grade_uploads.STALLED_AFTER - timedelta(seconds=1)
    async with sessions() as db:
        db.add(GradeUpload(id=upload.id, course_id=upload.course_id, owner="maria", filename=upload.filename,
                           header=upload.header, lines=[list(line) for line in upload.lines], results=[],
                           started_at=long_ago, updated_at=long_ago))
        await db.commit()
    await grade_uploads._save(sessions, upload)  # one part done: it moved just now

    async with sessions() as db:
        moving = await grade_uploads.found(db, upload.id, "maria")
        assert moving is not None and (moving.processed, moving.recorded, moving.cut_off) == (1, 1, False)
        assert moving.results[0] == grade_uploads.LineResult(2, "ana", True, "1.7", passed=True)
        row = await db.get(GradeUpload, upload.id)
        row.updated_at = long_ago  # ... and then its process was stopped
        await db.commit()
        stalled = await grade_uploads.found(db, upload.id, "maria")
        assert stalled is not None and (stalled.finished, stalled.cut_off) == (False, True)
        # A grade upload names learners: its owner's only.
        assert await grade_uploads.found(db, upload.id, "someone-else") is None
