"""Database plumbing: engine and sessions, the outbox and processed-event tables, and the unit of work.

Every service keeps these two tables in its own database: the outbox makes publishing part of the same transaction
as the state change, and the processed-event ids make every consumer idempotent.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import asyncpg
import pydantic_core
from sqlalchemy import (
    BigInteger, Column, ColumnElement, DateTime, Executable, Index, LargeBinary, MetaData, Row, Text, bindparam, event, func,
    select, text, tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.events import CloudEvent, Event
from shared.failures import Backoff
from shared.settings import ServiceSettings
from shared.tracing import current_traceparent

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "outbox"


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_column(nullable: bool = False) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable)


class OutboxBase(SQLModel):
    """The columns of an outbox: the node's (`OutboxMessage`), or another a service keeps for another cluster (the
    alliance gateway's, for the alliance bus); shared.migrations.create_outbox_table creates one."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    # The logical topic; the relay adds the deployment's topic prefix.
    topic: str
    key: str
    value: bytes = Field(sa_type=LargeBinary)
    headers: dict[str, str] = Field(sa_type=JSONB)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class OutboxMessage(OutboxBase, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),)


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True)
    event_type: str
    processed_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


@functools.cache
def _claiming() -> Executable:
    """Consumed events' ids recorded, those new returned: INSERT ... SELECT FROM unnest(ids, types), one statement
    whatever the batch's size, so it is compiled once (a multi-row VALUES is a new statement for each number of rows,
    compiled again each time: ~5 % of a consumer's CPU)."""
    table = ProcessedEvent.__table__
    ids, types = bindparam("ids", type_=ARRAY(Text)), bindparam("types", type_=ARRAY(Text))
    consumed = func.unnest(ids, types).table_valued("event_id", "event_type").render_derived()
    now = bindparam("now", type_=table.c.processed_at.type)
    return (
        insert(table)
        .from_select([table.c.event_id, table.c.event_type, table.c.processed_at],
                     select(consumed.c.event_id, consumed.c.event_type, now))
        .on_conflict_do_nothing()
        .returning(table.c.event_id)
    )


@functools.cache
def _inserting_unless_known(table: type[SQLModel], conflict: tuple[str, ...]) -> Executable:
    # The table, not the ORM class: the ORM's bulk insert prepares every row again in Python (bench/bench_cohort.py).
    return insert(table.__table__).on_conflict_do_nothing(index_elements=list(conflict) or None)


def among(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> ColumnElement[bool]:
    """`columns` holding one of `rows`: `(a, b) IN (SELECT * FROM unnest(:as, :bs))`, one array per column.

    One statement whatever the number of rows (compiled once), asking exactly for the pairs. An IN list per column
    (`a IN (...) AND b IN (...)`) asks for their cross product, and PostgreSQL, with statistics from before the table
    filled, checked every row of an `a` against the whole list of `b`s: 15-25 ms a batch of 100 enrolments at 3,000
    learners, growing with the table (bench/bench_cohort.py, with PostgreSQL's auto_explain and pg_stat_statements)."""
    values = list(zip(*rows)) or [() for _ in columns]
    arrays = [bindparam(None, list(column_values), type_=ARRAY(column.type)) for column, column_values in zip(columns, values)]
    listed = func.unnest(*arrays).table_valued(*(f"v{i}" for i in range(len(columns)))).render_derived()
    return tuple_(*columns).in_(select(listed))


def service_table_base() -> type[SQLModel]:
    """The base class of one service's tables, with metadata of its own.

    Services name their read models alike ("offerings", "course_versions"); with SQLModel's one global metadata, a
    process that imports two services (the test suite) would refuse the second table of a name.
    """

    class ServiceTable(SQLModel, registry=registry(metadata=MetaData())):
        pass

    return ServiceTable


class Listener:
    """A LISTEN connection that calls `on_notify` on every NOTIFY on a channel, and comes back after the server does.

    Its callers (the outbox relay, the delivery worker) also poll, so nothing waits for ever while it is away; once it
    is back it calls `on_notify` once, for what was committed while nobody listened. A connection the server dropped
    is noticed at once (asyncpg's termination callback) or, if the host vanished silently, by a probe every
    `probe_seconds`.

        async with Listener(settings, "outbox", wake.set):
            ...
    """

    def __init__(
        self, settings: ServiceSettings, channel: str, on_notify: Callable[[], None], probe_seconds: float = 10.0
    ) -> None:
        self._url = make_url(settings.service_database_url).set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._channel, self._on_notify, self._probe_seconds = channel, on_notify, probe_seconds
        self._backoff = Backoff.for_outages(settings)
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._keep_listening(), name=f"listen-{self._channel}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _keep_listening(self) -> None:
        lost_since: float | None = None
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(self._url, timeout=5)
                closed = asyncio.Event()
                connection.add_termination_listener(lambda _: closed.set())
                await connection.add_listener(self._channel, lambda *_: self._on_notify())
                self.listening = True
                if lost_since is not None:
                    log.warning("LISTEN on %s is back after %.1f s", self._channel, time.monotonic() - lost_since)
                    lost_since = None
                self._backoff.reset()
                self._on_notify()  # What was committed while nobody listened.
                while not closed.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._probe_seconds):
                            await closed.wait()
                    if not closed.is_set():
                        await connection.fetchval("SELECT 1", timeout=5)
                raise ConnectionResetError("the server closed the connection")
            except Exception as error:
                self.listening = False
                if lost_since is None:
                    lost_since = time.monotonic()
                    log.warning("cannot LISTEN on %s, polling until it can: %r", self._channel, error)
                await asyncio.sleep(self._backoff.next())
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()


async def database_answers(sessionmaker: async_sessionmaker[AsyncSession], timeout: float = 3.0) -> bool:
    """Whether the database answers a trivial query now (to tell an outage from an error of one's own)."""
    try:
        async with asyncio.timeout(timeout), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def _json_text(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    # JSONB columns through pydantic's JSON layer (Rust), as the events already are: the standard library's json was
    # a visible share of writing a batch of credentials and deliveries.
    engine = create_async_engine(
        settings.service_database_url,
        pool_size=settings.database_pool_size, max_overflow=settings.database_pool_overflow,
        json_serializer=_json_text, json_deserializer=pydantic_core.from_json,
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_if_closed)
    return engine


def _replace_if_closed(dbapi_connection: Any, record: object, proxy: object) -> None:
    """A pooled connection the server closed (a PostgreSQL restart closes every one) is replaced before anyone uses
    it, so that the first request after a restart does not fail. asyncpg notices the close as it happens, so this
    costs no round trip, where pool_pre_ping's ping cost one per transaction (~5 % of an application's CPU)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class UnitOfWork:
    """One transaction: the state change, the events it publishes, and the event it consumed, all or nothing."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], source: str) -> None:
        self._sessionmaker = sessionmaker
        self._source = source

    async def __aenter__(self) -> Self:
        self.session = self._sessionmaker()
        await self.session.begin()
        self._outbox: dict[type[OutboxBase], list[dict[str, Any]]] = {}
        self._notify: set[str] = set()
        self._before_commit: list[Callable[[], Awaitable[None]]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._row_writers: dict[str, Callable[[list[Any]], Awaitable[None]]] = {}
        # What a handler may keep for the rest of this transaction (e.g. a course that a batch of grades reads again).
        self.cache: dict[Any, Any] = {}
        # The events this transaction handles (the consumer's batch, or the one event handled alone): a handler may
        # read ahead for all of them in one query instead of one query each.
        self.events: list[Event] = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed (nothing half-written) and keeps loaded objects readable.
        # When the transaction failed because its connection died, closing fails too: the pool discards that
        # connection, and the caller must see the first error, not this one.
        if exc is None:
            await self.session.close()
        else:
            with contextlib.suppress(Exception):
                await self.session.close()

    async def alone(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Sequence[Row[Any]]:
        """One statement as a transaction of its own, outside the unit's transaction: PostgreSQL commits it by itself,
        so it costs one round trip instead of BEGIN, the statement and COMMIT, and no session. For a write that
        publishes no event and needs nothing else in its transaction (a learner registering). Its rows."""
        bind = self._sessionmaker.kw["bind"]
        async with bind.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await autocommit.execute(statement, parameters)).all()

    def before_commit(self, step: Callable[[], Awaitable[None]]) -> None:
        """Work that belongs to this transaction but need not hold up the caller: awaited, in order, on commit.

        A credential's signature, computed in another process while the consumer goes on with the next event, is
        stored this way; if a step fails, nothing of the transaction is committed. A step may add steps: they run
        after it.
        """
        self._before_commit.append(step)

    def after_commit(self, step: Callable[[], None]) -> None:
        """Something to tell this process once the transaction has committed, and only if it has: what it wrote can
        be acted on from then on (the deliveries a consumer recorded, handed to the worker that sends them)."""
        self._after_commit.append(step)

    def rows(self, key: str, write: Callable[[list[Any]], Awaitable[None]]) -> list[Any]:
        """A list that this transaction's events append rows to, handed to `write` once on commit (before_commit):
        a batch of events writes its rows in one statement instead of a round trip each."""
        if key not in self.cache:
            rows: list[Any] = []
            self.cache[key] = rows
            self._row_writers[key] = write
            self.before_commit(lambda: self.write_rows(key))
        return self.cache[key]

    async def write_rows(self, key: str) -> None:
        """Write the rows gathered under `key` so far, now: before a read or a removal in this transaction that must
        see them. The commit writes only those gathered after."""
        rows = self.cache.get(key)
        if rows:
            await self._row_writers[key](rows)
            rows.clear()

    async def insert_unless_known(
        self,
        table: type[SQLModel],
        rows: Sequence[dict[str, Any]],
        conflict: Sequence[str] | None = None,
        returning: str | None = None,
    ) -> set[Any]:
        """Insert `rows` in one statement, skipping those whose `conflict` columns (by default: any unique constraint,
        the primary key included) match a row already there: a fact told again, under a new event id or by another
        path, inserts nothing. A batch's rows gathered with `rows` are handed to it on commit (or by `write_rows`).
        With `returning` (a column's name), the values of that column in the rows that were inserted."""
        if not rows:
            return set()
        statement = _inserting_unless_known(table, tuple(conflict or ()))
        if returning is None:
            await self.session.execute(statement, rows)
            return set()
        return set((await self.session.execute(statement.returning(table.__table__.c[returning]), rows)).scalars())

    def notify(self, channel: str) -> None:
        """Wake whoever LISTENs on `channel` (shared.db.Listener) once this transaction commits: one NOTIFY per
        transaction, however many of its events asked for it."""
        self._notify.add(channel)

    async def commit(self) -> None:
        for step in self._before_commit:
            await step()
        # The outbox rows last (a step may publish), each table's in one statement, in the order they were published.
        for table, rows in self._outbox.items():
            await self.session.execute(insert(table.__table__), rows)
        channels = sorted(self._notify | ({OUTBOX_CHANNEL} if self._outbox else set()))
        if channels:
            # Delivered by PostgreSQL only when the transaction commits: wakes the relay (and the delivery worker)
            # without polling.
            calls = ", ".join(f"pg_notify(:channel_{number}, '')" for number in range(len(channels)))
            await self.session.execute(
                text(f"SELECT {calls}"), {f"channel_{number}": channel for number, channel in enumerate(channels)}
            )
        await self.session.commit()
        steps, self._after_commit = self._after_commit, []
        for step in steps:
            step()

    def publish(
        self,
        event: Event,
        *,
        topic: str | None = None,
        outbox: type[OutboxBase] = OutboxMessage,
        traceparent: str | None = None,
    ) -> CloudEvent:
        """Put an event in the outbox; it reaches Kafka after the transaction commits. By default on its contract's
        topic through the node's outbox (the alliance gateway names the alliance bus's topic and its outbox for it),
        continuing the current trace or the one `traceparent` names (work recorded in batches: each event in the trace
        of what it tells of)."""
        envelope = CloudEvent.wrap(event, source=self._source, traceparent=traceparent or current_traceparent())
        headers = {"content-type": "application/cloudevents+json", "ce_type": envelope.type, "ce_id": envelope.id}
        if envelope.traceparent:
            headers["traceparent"] = envelope.traceparent
        # Rows, not ORM objects: written together on commit (a batch's events in one INSERT).
        self._outbox.setdefault(outbox, []).append(
            {"topic": topic or event.topic, "key": event.key, "value": envelope.to_bytes(), "headers": headers,
             "created_at": utcnow()}
        )
        return envelope

    async def claim(self, envelope: CloudEvent) -> bool:
        """Record the consumed event's id; False when it was processed before (a redelivery)."""
        return envelope.id in await self.claim_all([envelope])

    async def claim_all(self, envelopes: Sequence[CloudEvent]) -> set[str]:
        """Record the consumed events' ids in one statement; returns those not processed before."""
        unique = {envelope.id: envelope for envelope in envelopes}
        if not unique:
            return set()
        inserted = await self.session.execute(
            _claiming(), {"ids": list(unique), "types": [e.type for e in unique.values()], "now": utcnow()}
        )
        return set(inserted.scalars())
