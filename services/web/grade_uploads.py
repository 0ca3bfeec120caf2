"""A cohort's grades uploaded as CSV on the assessor's page, recorded a part at a time while the page shows how far
it got. Assessment judges every grade (POST /grades/bulk: the use case its HTTP route and the LMS topic share); this
module only cuts the file into parts, sends them, and says what became of each line. A line assessment cannot read
(an empty field, a date that is not one) is refused alone and the rest of its part sent again: bad lines never stop
good ones.

Uploads live in the front end's memory (the last MAX_KEPT of them): what was recorded is in assessment; after a
restart of the front end, an upload's page is gone and its assessor sees the grades on the course's page."""

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.web.api import NodeApi, ServiceRefused, ServiceUnavailable
from shared.db import utcnow

# Lines sent to assessment at once: each part is one transaction there, and one step of the progress shown.
PART_LINES = 25
MAX_KEPT = 200
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
    task: asyncio.Task[None] | None = None

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


def started(store: "OrderedDict[str, Upload]", api: NodeApi, course_id: str, owner: str, filename: str, text: str) -> Upload:
    """Keeps the upload and starts sending it (the task outlives the request that started it)."""
    header, lines = parsed(text)
    upload = Upload(str(uuid.uuid4()), course_id, owner, filename, header, lines)
    store[upload.id] = upload
    while len(store) > MAX_KEPT:
        store.popitem(last=False)
    upload.task = asyncio.create_task(process(upload, api), name=f"grade upload {upload.id}")
    return upload


async def process(upload: Upload, api: NodeApi) -> None:
    try:
        for start in range(0, upload.total, PART_LINES):
            await _send_part(upload, api, upload.lines[start:start + PART_LINES])
    except ServiceUnavailable:
        upload.stopped = "unavailable"
    except ServiceRefused as refused:
        upload.stopped = refused.detail
    finally:
        upload.finished = True


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
