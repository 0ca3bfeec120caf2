"""Every event of the node goes into the event log; learner-facing ones then go on to their email."""

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from services.notifications.dashboards import figures
from services.notifications.dashboards.domain import about_event_id, aggregate_ids, universities_named
from services.notifications.dashboards.models import CourseUniversity, LoggedEvent
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event

# The transaction's events waiting to be written to the log (UnitOfWork.rows).
LOGGED = "event log"
# Logged events whose university is the one of the event they are about, resolved when the log is written.
WAITING = "event log: universities to find"


async def record_event(event: Event, envelope: CloudEvent, uow: UnitOfWork) -> None:
    named = universities_named(event)
    for key in [key for key in uow.cache if named and key[0] == "universities of"]:
        del uow.cache[key]  # What this transaction knew of universities may have changed.
    for aggregate_id, university in named.items():
        await uow.session.execute(
            insert(CourseUniversity)
            .values(aggregate_id=aggregate_id, university=university)
            .on_conflict_do_update(index_elements=["aggregate_id"], set_={"university": university})
        )
    university = next(iter(named.values()), None) or await _university_of(uow, aggregate_ids(event))
    row = dict(
        event_id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        subject=envelope.subject,
        university=university,
        time=envelope.time,
        data=envelope.data,
    )
    # Written with the rest of the batch's events when the transaction commits, in the order they came.
    _logged(uow).append(row)
    if university is None and (about := about_event_id(event)):
        # An email's university is the one of the event it told about: looked up for the whole batch at once, then
        # counted (a query per email was a tenth of the service's CPU in a cohort).
        uow.cache.setdefault(WAITING, []).append((row, about, envelope))
    else:
        figures.count(uow, envelope, university)


def _logged(uow: UnitOfWork) -> list[dict]:
    async def write(rows: list[dict]) -> None:
        await _universities_of_events(uow, rows, uow.cache.pop(WAITING, []))
        await uow.insert_unless_known(LoggedEvent, rows, conflict=["event_id"])

    return uow.rows(LOGGED, write)


async def _university_of(uow: UnitOfWork, ids: list[str]) -> str | None:
    if not ids:
        return None
    # A cohort's events in one batch name the same offering and course: asked once per transaction.
    key = ("universities of", tuple(ids))
    if key not in uow.cache:
        known = dict(
            (await uow.session.exec(select(CourseUniversity.aggregate_id, CourseUniversity.university).where(
                CourseUniversity.aggregate_id.in_(ids)
            ))).all()
        )
        uow.cache[key] = next((known[i] for i in ids if i in known), None)
    return uow.cache[key]


async def _universities_of_events(
    uow: UnitOfWork, rows: list[dict], waiting: list[tuple[dict, str, CloudEvent]]
) -> None:
    """Each waiting row takes the university of the event it is about (logged before, or in this batch), and is
    counted into the figures."""
    if not waiting:
        return
    in_batch = {row["event_id"]: row["university"] for row in rows}
    earlier = {about for _, about, _ in waiting if about not in in_batch}
    known = dict(
        (await uow.session.exec(
            select(LoggedEvent.event_id, LoggedEvent.university).where(col(LoggedEvent.event_id).in_(earlier))
        )).all()
    ) if earlier else {}
    for row, about, envelope in waiting:
        row["university"] = in_batch[about] if about in in_batch else known.get(about)
        figures.count(uow, envelope, row["university"])


def recording(then: Handler | None = None) -> Handler:
    """A handler that logs the event for the dashboards, then does `then` (an email) in the same transaction."""

    async def handle(event: Event, envelope: CloudEvent, uow: UnitOfWork) -> None:
        await record_event(event, envelope, uow)
        if then is not None:
            await then(event, envelope, uow)

    return handle
