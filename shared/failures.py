"""Which failures are the infrastructure's and which are a message's, and waiting out the infrastructure's.

One rule for the whole node: a failure of the infrastructure (the database or Kafka unreachable, a connection lost,
a serialization failure or deadlock, a timeout, an administrator's shutdown) says nothing about the message being
handled. Consumers, the outbox relay and the delivery worker wait it out, retrying with a capped backoff for as long
as it lasts, and never dead-letter a message for it. Only a failure that belongs to the message itself (not JSON,
not a CloudEvent, breaking its contract, refused by a rule, a bug in a handler) counts against it.

`outage_of` names the dependency an error shows to be failing; `Outages` keeps what each part of a service is waiting
for, logs it once when it starts and once when it ends, and feeds `/health/ready` and `/metrics`.
"""

import asyncio
import errno
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

import aiokafka.errors as kafka_errors
import asyncpg
import sqlalchemy.exc

if TYPE_CHECKING:
    from shared.metrics import ServiceMetrics
    from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class Dependency(StrEnum):
    DATABASE = "database"
    KAFKA = "kafka"


# SQLSTATE classes and codes that describe the server or the moment, not the statement: connection exceptions (08),
# transaction rollback (40: serialization failure, deadlock), insufficient resources (53: too many connections, disk
# full), operator intervention (57: admin or crash shutdown, cannot connect now, query canceled by a timeout), system
# errors (58), and lock_not_available (55P03).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
TRANSIENT_SQLSTATES = ("55P03", "57014")

# Socket errors that mean "the other side is not there (now)", as opposed to, say, a file a handler could not open.
NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT, errno.EHOSTUNREACH,
    errno.EHOSTDOWN, errno.ENETUNREACH, errno.ENETDOWN, errno.ENOTCONN, errno.EADDRNOTAVAIL,
})

KAFKA_UNAVAILABLE = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NoBrokersAvailable,
    kafka_errors.NodeNotReadyError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.GroupCoordinatorNotAvailableError,
    kafka_errors.NotCoordinatorForGroupError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
    kafka_errors.ProducerClosed,
)


def outage_of(error: BaseException) -> Dependency | None:
    """The dependency that `error` (or an error it was raised from) shows to be failing; None when it shows none.

    None does not prove the message guilty: a caller that can should ask the database whether it answers before
    counting an unrecognised error against a message (see EventConsumer).
    """
    for cause in _chain(error):
        if (dependency := _outage_of_one(cause)) is not None:
            return dependency
    return None


async def diagnose(error: BaseException, database_answers: Callable[[], Awaitable[bool]] | None) -> Dependency | None:
    """The dependency whose outage `error` shows; when the error names none, the database if it does not answer right
    now (a statement cut off by a server going away can fail in ways no rule above recognises). None: the failure is
    the work's own (a message's, a bug)."""
    if (dependency := outage_of(error)) is not None:
        return dependency
    if database_answers is not None and not await database_answers():
        return Dependency.DATABASE
    return None


def _outage_of_one(error: BaseException) -> Dependency | None:
    if isinstance(error, kafka_errors.KafkaError):
        return Dependency.KAFKA if isinstance(error, KAFKA_UNAVAILABLE) or error.retriable else None
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        if error.connection_invalidated or _transient_sqlstate(getattr(error.orig, "sqlstate", None)):
            return Dependency.DATABASE
        return None
    if isinstance(error, (sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.PendingRollbackError)):
        return Dependency.DATABASE  # A connection the pool lost, or a transaction that died with its connection.
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        return Dependency.DATABASE  # No connection from the pool in time: the server is slow or away.
    if isinstance(error, asyncpg.PostgresError):
        return Dependency.DATABASE if _transient_sqlstate(error.sqlstate) else None
    if isinstance(error, (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.ClientCannotConnectError)):
        return Dependency.DATABASE
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        return Dependency.DATABASE  # "connection is closed", "the connection was closed in the middle of operation"
    if isinstance(error, (ConnectionError, TimeoutError)) or (
        isinstance(error, OSError) and error.errno in NETWORK_ERRNOS
    ):
        # A bare socket error: whose depends on who raised it; the database is the one handlers talk to.
        return Dependency.KAFKA if _raised_by_kafka(error) else Dependency.DATABASE
    return None


def _transient_sqlstate(sqlstate: str | None) -> bool:
    return bool(sqlstate) and (sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES or sqlstate in TRANSIENT_SQLSTATES)


def _raised_by_kafka(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith("aiokafka"):
            return True
        traceback = traceback.tb_next
    return False


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and those it was raised from or during (SQLAlchemy keeps the driver's error in `orig`)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)


class Backoff:
    """Delays that double from `first` up to `cap`: quick after a blip, at most one attempt per `cap` in an outage."""

    def __init__(self, first: float, cap: float) -> None:
        self.first, self.cap = first, max(cap, first)
        self._next = first

    @classmethod
    def for_outages(cls, settings: "ServiceSettings") -> "Backoff":
        return cls(settings.consumer_backoff_seconds, settings.outage_backoff_max_seconds)

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


async def on_schedule(
    settings: "ServiceSettings", step: Callable[[], Awaitable[int | bool]], pause: float, what: str
) -> None:
    """A background task: `step` again while it says there is more to do, then a pause, for ever. A failure (the
    database away) is logged and tried again after a backoff: the work stays in the tables, the next round does it."""
    backoff = Backoff.for_outages(settings)
    while True:
        try:
            while await step():
                pass
            backoff.reset()
            await asyncio.sleep(pause)
        except Exception as error:
            log.warning("%s not done yet: %r", what, error)
            await asyncio.sleep(backoff.next())


@dataclass
class Outage:
    component: str
    dependency: Dependency
    since: datetime
    started: float  # time.monotonic() when it began
    error: str
    counted_until: float  # how far its waiting time has been added to the metrics

    def describe(self) -> str:
        return f"{self.component} waiting for {self.dependency} since {self.since.isoformat(timespec='seconds')}: {self.error}"


class Outages:
    """What the parts of one service (consumer, outbox relay, delivery worker...) are waiting for, right now."""

    def __init__(self, metrics: "ServiceMetrics | None" = None) -> None:
        self._metrics = metrics
        self._current: dict[str, Outage] = {}

    @property
    def current(self) -> list[Outage]:
        return list(self._current.values())

    def waiting(self, component: str, dependency: Dependency, error: BaseException) -> None:
        """`component` could not work because `dependency` failed with `error`; logged only when the outage begins."""
        now = time.monotonic()
        outage = self._current.get(component)
        if outage is not None and outage.dependency != dependency:
            self.resumed(component)  # Now waiting for something else: that is a new outage.
            outage = None
        if outage is None:
            outage = Outage(component, dependency, datetime.now(UTC), now, _short(error), now)
            self._current[component] = outage
            log.warning("%s: %s unavailable, waiting until it is back (%s)", component, dependency, outage.error)
            if self._metrics:
                self._metrics.in_outage.labels(component, dependency).set(1)
        outage.error = _short(error)
        self._count(outage, now)

    def resumed(self, component: str) -> None:
        """`component` works again; logs how long it waited (nothing if it was not waiting)."""
        outage = self._current.pop(component, None)
        if outage is None:
            return
        now = time.monotonic()
        self._count(outage, now)
        log.warning("%s: %s back after %.1f s", component, outage.dependency, now - outage.started)
        if self._metrics:
            self._metrics.in_outage.labels(component, outage.dependency).set(0)

    async def wait(self, component: str, dependency: Dependency, error: BaseException, backoff: Backoff) -> None:
        """Record the outage and sleep until the next attempt."""
        self.waiting(component, dependency, error)
        await asyncio.sleep(backoff.next())

    def _count(self, outage: Outage, now: float) -> None:
        if self._metrics:
            self._metrics.outage_seconds.labels(outage.component, outage.dependency).inc(now - outage.counted_until)
        outage.counted_until = now


def _short(error: BaseException) -> str:
    return repr(error)[:300]
