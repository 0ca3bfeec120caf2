"""A cohort's grades uploaded as CSV on the assessor's page, recorded a part at a time while the page shows how far
it got. Assessment judges every grade (POST /grades/bulk: the use case its HTTP route and the LMS topic share); this
module only cuts the file into parts, sends them, and says what became of each line. A line assessment cannot read
(an empty field, a date that is not one) is refused alone and the rest of its part sent again: bad lines never stop
good ones.

An upload and its results are kept in the front end's database (GradeUpload), saved after every part, so that any
front-end process shows it. The process that took the file sends it; if that process stops midway, the upload stops
moving and its page says so (the part in flight may or may not have been recorded: assessment refuses a grade sent
twice, so uploading the rest again doubles nothing)."""

import asyncio
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.web.api import NodeApi, ServiceRefused, ServiceUnavailable
from services.web.models import GradeUpload
from shared.db import utcnow

log = logging.getLogger(__name__)

# Lines sent to assessment at once: each part is one transaction there, and one step of the progress shown.
PART_LINES = 25
# An unfinished upload that has not moved for this long was cut off (a part takes seconds; the service timeout is
# well below this).
STALLED_AFTER = timedelta(minutes=2)
# Uploads are kept this long, then forgotten (the grades themselves are in assessment).
KEPT_FOR = timedelta(days=30)
# The uploads listed on a course's page, newest first.
LISTED = 20
# The field a refusal by assessment's rules is about (the rules are assessment's; see its domain).
RULE_FIELDS = {
    "learner-not-enrolled": "learner_id",
    "already-graded": "learner_id",
    "grade-out-of-scale": "grade",
    "no-grading-scheme": None,
}


@dataclass
class LineResult:
    line: int
    learner_id: str
    recorded: bool
    # Recorded: the grade; refused: why.
    detail: str
    field: str | None = None
    passed: bool | None = None


@dataclass
class Upload:
    id: str
    course_id: str
    owner: str
    filename: str
    header: str
    # (line number in the file, the line's text), the grades in the order of the file.
    lines: list[tuple[int, str]]
    started_at: datetime = field(default_factory=utcnow)
    results: list[LineResult] = field(default_factory=list)
    # Why processing stopped before the end (the lines not processed are not recorded).
    stopped: str | None = None
    finished: bool = False
    updated_at: datetime = field(default_factory=utcnow)
    # Unfinished and not moving: the process sending it stopped (see STALLED_AFTER).
    cut_off: bool = False

    @property
    def total(self) -> int:
        return len(self.lines)

    @property
    def processed(self) -> int:
        return len(self.results)

    @property
    def recorded(self) -> int:
        return sum(result.recorded for result in self.results)

    @property
    def refused(self) -> int:
        return self.processed - self.recorded

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total


class NoGrades(ValueError):
    """The file has no line after its header."""


def parsed(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The header line and the grade lines (with their numbers in the file); blank lines are skipped."""
    numbered = [(number, line) for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1) if line.strip()]
    if len(numbered) < 2:
        raise NoGrades()
    return numbered[0][1], numbered[1:]


async def started(
    sessions: async_sessionmaker[AsyncSession], running: set[asyncio.Task[None]], api: NodeApi,
    course_id: str, owner: str, filename: str, text: str,
) -> Upload:
    """Keeps the upload and starts sending it (the task outlives the request that started it; `running` holds it)."""
    header, lines = parsed(text)
    upload = Upload(str(uuid.uuid4()), course_id, owner, filename, header, lines)
    async with sessions() as db:
        await db.execute(delete(GradeUpload).where(col(GradeUpload.started_at) < utcnow() - KEPT_FOR))
        db.add(GradeUpload(
            id=upload.id, course_id=course_id, owner=owner, filename=filename, header=header,
            lines=[list(line) for line in lines], results=[], started_at=upload.started_at,
            updated_at=upload.started_at,
        ))
        await db.commit()
    task = asyncio.create_task(process(upload, api, sessions), name=f"grade upload {upload.id}")
    running.add(task)
    task.add_done_callback(running.discard)
    return upload


async def process(upload: Upload, api: NodeApi, sessions: async_sessionmaker[AsyncSession]) -> None:
    try:
        for start in range(0, upload.total, PART_LINES):
            await _send_part(upload, api, upload.lines[start:start + PART_LINES])
            if upload.processed < upload.total:
                await _save(sessions, upload)
    except ServiceUnavailable:
        upload.stopped = "unavailable"
    except ServiceRefused as refused:
        upload.stopped = refused.detail
    finally:
        upload.finished = True
        await _save(sessions, upload)


async def _save(sessions: async_sessionmaker[AsyncSession], upload: Upload) -> None:
    try:
        async with sessions() as db:
            row = await db.get(GradeUpload, upload.id)
            if row is None:
                return  # forgotten meanwhile (KEPT_FOR)
            row.results = [asdict(result) for result in upload.results]
            row.stopped, row.finished, row.updated_at = upload.stopped, upload.finished, utcnow()
            await db.commit()
    except Exception:
        # The page will show the upload as cut off; what assessment recorded stays recorded.
        log.exception("could not save the progress of grade upload %s", upload.id)


def _loaded(row: GradeUpload, now: datetime) -> Upload:
    return Upload(
        row.id, row.course_id, row.owner, row.filename, row.header, [(number, line) for number, line in row.lines],
        started_at=row.started_at, results=[LineResult(**result) for result in row.results], stopped=row.stopped,
        finished=row.finished, updated_at=row.updated_at,
        cut_off=not row.finished and now - row.updated_at > STALLED_AFTER,
    )


async def found(db: AsyncSession, upload_id: str, owner: str) -> Upload | None:
    """The owner's upload (nobody else's: a grade upload names learners)."""
    row = await db.get(GradeUpload, upload_id)
    return _loaded(row, utcnow()) if row is not None and row.owner == owner else None


async def of_course(db: AsyncSession, course_id: str, owner: str) -> list[Upload]:
    query = select(GradeUpload).where(GradeUpload.course_id == course_id, GradeUpload.owner == owner)
    rows = await db.exec(query.order_by(col(GradeUpload.started_at).desc()).limit(LISTED))
    now = utcnow()
    return [_loaded(row, now) for row in rows]


async def _send_part(upload: Upload, api: NodeApi, part: list[tuple[int, str]]) -> None:
    """One part, until assessment has judged each of its lines: lines it cannot read are refused and the rest sent
    again; a part that met another writer of the same enrolment (409) is sent again once."""
    pending, retried = list(part), False
    while pending:
        body = "\n".join([upload.header, *(line for _, line in pending)]).encode()
        try:
            response = await api.call(
                "POST", "assessment", "/grades/bulk", params={"course_id": upload.course_id}, content=body,
                headers={"Content-Type": "text/csv; charset=utf-8"},
            )
        except ServiceRefused as refused:
            if refused.status == 409 and not retried:
                retried = True
                continue
            problems = _line_problems(refused)
            if refused.status != 422 or not problems or not all(2 <= at < len(pending) + 2 for at in problems):
                raise  # The header, the whole file, or who is sending: nothing more of it can be recorded.
            unreadable = {at: pending[at - 2] for at in problems}  # Line 1 of the part is the header.
            for at, (number, line) in sorted(unreadable.items()):
                column, reason = problems[at][0]
                upload.results.append(LineResult(number, _first_field(line), False, reason, column))
            pending = [item for item in pending if item not in unreadable.values()]
            continue
        _take(upload, pending, response.json())
        return


def _take(upload: Upload, sent: list[tuple[int, str]], result: dict[str, Any]) -> None:
    """Assessment's answer for a part, line by line in the order of the file."""
    found: list[LineResult] = []
    for row in result["recorded"]:
        number = sent[row["line"] - 2][0]
        found.append(LineResult(number, row["learner_id"], True, row["grade"], passed=row["passed"]))
    for row in result["rejected"]:
        number = sent[row["line"] - 2][0]
        found.append(LineResult(number, row["learner_id"], False, row["reason"], RULE_FIELDS.get(row["rule"])))
    upload.results.extend(sorted(found, key=lambda line: line.line))


def _line_problems(refused: ServiceRefused) -> dict[int, list[tuple[str | None, str]]]:
    """Assessment's 422 for an unreadable CSV names each problem's line and column ("line 3, assessed_on: ...")."""
    detail = refused.body.get("detail") if isinstance(refused.body, dict) else None
    problems: dict[int, list[tuple[str | None, str]]] = {}
    for item in detail or []:
        if isinstance(item, dict) and isinstance(item.get("line"), int):
            column, message = item.get("column"), str(item.get("msg"))
            # The message names its line and column in the part sent; the page names them in the file.
            said = f"line {item['line']}" + (f", column {column}" if column else "") + ": "
            problems.setdefault(item["line"], []).append((column, message.removeprefix(said)))
    return problems


def _first_field(line: str) -> str:
    return line.replace(";", ",").split(",", 1)[0].strip()
