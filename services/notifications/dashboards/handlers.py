"""Every event of the node goes into the event log; learner-facing ones then go on to their email."""

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.notifications.dashboards import figures
from services.notifications.dashboards.domain import about_event_id, aggregate_ids, universities_named
from services.notifications.dashboards.models import CourseUniversity, LoggedEvent
from shared.consumer import Handler
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event

# The transaction's events waiting to be written to the log (UnitOfWork.rows).
LOGGED = "event log"


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
    university = (
        next(iter(named.values()), None)
        or await _university_of(uow, aggregate_ids(event))
        or await _university_of_event(uow, about_event_id(event))
    )
    # Written with the rest of the batch's events when the transaction commits, in the order they came.
    _logged(uow).append(dict(
        event_id=envelope.id,
        type=envelope.type,
        source=envelope.source,
        subject=envelope.subject,
        university=university,
        time=envelope.time,
        data=envelope.data,
    ))
    figures.count(uow, envelope, university)


def _logged(uow: UnitOfWork) -> list[dict]:
    async def write(rows: list[dict]) -> None:
        if rows:
            await uow.session.execute(insert(LoggedEvent).on_conflict_do_nothing(index_elements=["event_id"]), rows)

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


async def _university_of_event(uow: UnitOfWork, event_id: str | None) -> str | None:
    """The university of an event logged before: an email's is the one of the event it told about."""
    if event_id is None:
        return None
    for logged in _logged(uow):  # Logged in this transaction, not written yet.
        if logged["event_id"] == event_id:
            return logged["university"]
    return (await uow.session.exec(select(LoggedEvent.university).where(LoggedEvent.event_id == event_id))).first()


def recording(then: Handler | None = None) -> Handler:
    """A handler that logs the event for the dashboards, then does `then` (an email) in the same transaction."""

    async def handle(event: Event, envelope: CloudEvent, uow: UnitOfWork) -> None:
        await record_event(event, envelope, uow)
        if then is not None:
            await then(event, envelope, uow)

    return handle
