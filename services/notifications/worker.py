"""The delivery worker: sends the pending deliveries, then records them as sent, or retries, or records a failure.

Exactly one email per event and recipient, as far as SMTP allows:

1. The Kafka handler records the delivery (rendered email, stable Message-ID) in the same transaction as the consumed
   event's id; the unique (event, recipient) pair makes a second record impossible. When the worker of its process
   has room, it records it claimed for that worker already (as in 2, the lease counted from then) and hands the row
   over once committed (recorded.py); else `pending`, with a NOTIFY.
2. The worker claims due deliveries with `FOR UPDATE SKIP LOCKED` (several instances share the work, none takes a
   row another holds), marks them `sending`, counts the attempt and sets `next_attempt_at` to a lease (longer than
   any send may take), and commits, before talking to SMTP (one statement for a whole batch; it claims again whenever
   half of DELIVERY_BATCH_SIZE has gone out, so the connections never wait for a batch to end). It takes those handed
   over first, which need no claim; it scans the due-deliveries index for the rest when a NOTIFY comes, when its last
   scan filled the batch, and every DELIVERY_POLL_SECONDS. On an orderly shutdown it gives back those handed over
   and not sent.
3. It sends them over a few SMTP connections kept open (mailer.py); an email whose turn comes too late to be sent
   within its lease is not sent but given back (`pending`, the attempt not counted), so that no other worker can take
   it over while it is being sent. Then, in one new transaction, it marks those sent `sent` and publishes a
   NotificationSent (outbox) for each, fenced on the attempt it claimed: if a lease ran out and another worker took
   the delivery over, that one is left alone. The same transaction logs the NotificationSent for the dashboards (the
   service does not consume its own topic back: that cost a consumed event per email).
4. A transient failure puts it back to `pending` with an exponential backoff; a permanent one (5xx to the recipient
   or the message), or running out of attempts or age, marks it `failed` and publishes NotificationFailed.

A worker that dies between the relay's "250 accepted" and step 3 leaves the delivery `sending`; once the lease has
passed, a worker sends it again with the same Message-ID. That window (a crash, or the database lost, in the
milliseconds after the relay accepted) is the only way an email goes out twice; SMTP offers no way to close it, and
the shared Message-ID lets mail systems and clients recognise the copy. On an orderly shutdown the worker finishes
and records the sends in flight first.

A database outage (shared/failures.py) is waited out like the SMTP server's: claiming waits with a capped backoff,
and an email already sent is recorded as soon as the database is back, however long that takes (giving up would
send it again once its lease has passed). The outage is logged once and shown by /health/ready and /metrics.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timedelta

import aiosmtplib
from opentelemetry.trace import SpanKind
from sqlalchemy import Executable, tuple_, update
from sqlmodel import select
from starlette.datastructures import State

from services.notifications.dashboards.handlers import record_event
from services.notifications.domain import Email, Message, gives_up, retry_delay, to_message
from services.notifications.handlers import DELIVERIES_CHANNEL
from services.notifications.mailer import Mailer, NoTimeLeft, is_permanent
from services.notifications.models import Delivery, DeliveryStatus
from services.notifications.recorded import RecordedDeliveries
from services.notifications.settings import NotificationsSettings
from shared.db import Listener, utcnow
from shared.events.notifications import NotificationFailed, NotificationSent
from shared.failures import Backoff, Outages, diagnose
from shared.tracing import continuing, current_traceparent

log = logging.getLogger(__name__)

# How often recording a send is retried when it fails for another reason than an outage (which is waited out).
RECORD_ATTEMPTS = 4
COMPONENT = "delivery worker"
# How long a sent email may wait for others to be recorded with it.
RECORD_TOGETHER_SECONDS = 0.02
# A sent delivery's columns that its NotificationSent tells (DeliveryWorker._common).
SENT_COLUMNS = (
    "id", "about_event_id", "about_event_type", "recipient", "template", "message_id", "language", "attempts"
)


@dataclass(frozen=True)
class Claim:
    delivery_id: str
    attempt: int
    message: Message
    traceparent: str | None = None
    # time.monotonic() when the claim's lease runs out: the send must be over by then.
    deadline: float | None = None


def describe(error: BaseException) -> str:
    """The relay's reply (code and text) when there was one, else what went wrong, short enough to store."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return "; ".join(describe(refusal) for refusal in error.recipients) or repr(error)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {error.message}"[:1000]
    return repr(error)[:1000]


class DeliveryWorker:
    def __init__(
        self, settings: NotificationsSettings, unit_of_work, mailer: Mailer, outages: Outages | None = None,
        database_answers=None, recorded: RecordedDeliveries | None = None,
    ) -> None:
        self._settings = settings
        self._unit_of_work = unit_of_work
        self._mailer = mailer
        self._wake = asyncio.Event()
        # Whether a NOTIFY came since the last scan (the wake may also be deliveries handed over, which need none).
        self._notified = False
        self._recorded = recorded if recorded is not None else RecordedDeliveries(settings.delivery_lease_seconds)
        self._recorded.when_added(self._wake.set)
        self._outages = outages or Outages()
        self._database_answers = database_answers
        # The sends claimed and not yet recorded, each with its claim.
        self._sending: dict[asyncio.Future, Claim] = {}
        self._stopping = False

    async def run(self) -> None:
        """Keep every connection fed while deliveries are due: claim again whenever half of DELIVERY_BATCH_SIZE has
        gone out (never more than a batch claimed and unrecorded), record the sends as they end; on an orderly
        shutdown, claim no more and let the sends in flight finish and be recorded first."""
        async with Listener(self._settings, DELIVERIES_CHANNEL, self._on_notify):
            task = asyncio.ensure_future(self._deliver())
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                self._stopping = True
                self._wake.set()
                await asyncio.wait({task}, timeout=self._settings.delivery_lease_seconds)
                await self._give_back_handed()
                raise

    async def _give_back_handed(self) -> None:
        """On the way out: the deliveries handed over and not sent are due again at once, for whichever worker runs
        next (else they would wait for their lease to run out)."""
        if handed := self.handed_over(len(self._recorded)):
            try:
                await self._give_back(handed)
            except Exception as error:
                log.warning("%d deliveries handed over and not sent are due once their lease has run out: %r",
                            len(handed), error)

    def _on_notify(self) -> None:
        self._notified = True
        self._wake.set()

    def _backoff(self) -> Backoff:
        return Backoff.for_outages(self._settings)

    async def _deliver(self) -> None:
        settings = self._settings
        backoff = self._backoff()
        # Claimed in chunks of half a batch at least: a claim is a transaction; the other half keeps the connections
        # busy meanwhile.
        refill = max(1, settings.delivery_batch_size // 2)
        more_due = True  # whether the last claim may have left due deliveries behind
        claim_after = next_poll = time.monotonic()
        while not (self._stopping and not self._sending):
            now = time.monotonic()
            room = settings.delivery_batch_size - len(self._sending)
            may_claim = not self._stopping and room >= refill and now >= claim_after
            if may_claim and any(task.done() for task in self._sending):
                # Sends that ended meanwhile are recorded before claiming: a claim takes back deliveries whose lease
                # ran out (as after a database outage), and one sent but not yet recorded would be sent again.
                await self._record_what_ends(0, woken=False)
                continue
            scan = more_due or self._notified or now >= next_poll
            if may_claim and (scan or self._recorded):
                # Before claiming: a NOTIFY or deliveries handed over meanwhile mean another round.
                self._wake.clear()
                if scan:
                    self._notified, next_poll = False, now + settings.delivery_poll_seconds
                handed = self.handed_over(room)
                self._start(handed)
                # A scan the handed-over deliveries leave no room for is only put off.
                more_due = scan
                if scan and len(handed) < room:
                    try:
                        claims = await self.claim(room - len(handed))
                    except Exception as error:  # The rows wait for the database to come back; the sends go on.
                        if (dependency := await diagnose(error, self._database_answers)) is None:
                            log.warning("delivery worker could not claim deliveries, will retry: %r", error)
                        else:
                            self._outages.waiting(COMPONENT, dependency, error)
                        claim_after = time.monotonic() + backoff.next()
                        continue
                    self._outages.resumed(COMPONENT)
                    backoff.reset()
                    more_due = len(claims) == room - len(handed)
                    self._start(claims)
                continue
            if self._stopping or room < refill:
                timeout = None  # Until a send ends (there are some).
            else:
                timeout = (claim_after if now < claim_after else next_poll) - now
            await self._record_what_ends(timeout, woken=may_claim)

    async def _record_what_ends(self, timeout: float | None, woken: bool) -> None:
        """Wait for sends to end (or a NOTIFY, when `woken`, or `timeout`), and record those that ended.

        The sends that end within RECORD_TOGETHER_SECONDS of the first are recorded in one transaction (one per email
        cost more than the email, bench/bench_cohort.py): a worker that dies sends again (after the lease) only the
        emails of its last moments, never all it has sent."""
        waiting = set(self._sending)
        wake = asyncio.ensure_future(self._wake.wait()) if woken else None
        if not waiting and wake is None:
            await asyncio.sleep(timeout or 0)
            return
        try:
            done, pending = await asyncio.wait(
                waiting | ({wake} if wake else set()), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if wake is not None:
                wake.cancel()
        done &= waiting
        if not done:
            return
        pending &= waiting
        if pending:
            more, _ = await asyncio.wait(pending, timeout=RECORD_TOGETHER_SECONDS)
            done |= more
        outcomes = [(self._sending.pop(task), *task.result()) for task in done]
        sent = [(claim, traceparent) for claim, error, traceparent in outcomes if error is None]
        if sent:
            await self._recording(f"{len(sent)} sent deliveries", lambda: self._record_sent(sent))
        unsent = [claim for claim, error, _ in outcomes if isinstance(error, NoTimeLeft)]
        if unsent:
            await self._recording(f"{len(unsent)} unsent deliveries", lambda: self._give_back(unsent))
        for claim, error, _ in outcomes:
            if error is not None and not isinstance(error, NoTimeLeft):
                await self._recording(
                    f"delivery {claim.delivery_id}", lambda claim=claim, error=error: self._record_failure(claim, error)
                )

    def handed_over(self, limit: int) -> list[Claim]:
        """Up to `limit` deliveries the consumer of this process claimed for this worker when it recorded them
        (recorded.py), oldest first."""
        return [
            Claim(handed.delivery["id"], handed.delivery["attempts"], self._message(handed.delivery),
                  handed.delivery["traceparent"], handed.deadline)
            for handed in self._recorded.take(limit)
        ]

    def _start(self, claims: list[Claim]) -> None:
        for claim in claims:
            self._sending[asyncio.ensure_future(self.send(claim))] = claim

    async def claim(self, limit: int) -> list[Claim]:
        """Claim up to `limit` due deliveries, oldest first (the lease starts now): mark them `sending`, count the
        attempt. The deliveries recorded pending, retries that came due, and those whose lease ran out."""
        claims: list[Claim] = []
        settings = self._settings
        now, deadline = utcnow(), time.monotonic() + settings.delivery_lease_seconds
        deliveries = Delivery.__table__.c
        due = (
            select(deliveries.id, deliveries.status.label("was"))
            .where(
                deliveries.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
                deliveries.next_attempt_at <= now,
            )
            .order_by(deliveries.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        async with self._unit_of_work() as uow:
            rows = (await uow.session.execute(self._claiming(due, now))).mappings().all()
            await uow.commit()
        for row in rows:
            if row["was"] == DeliveryStatus.SENDING:
                log.warning(
                    "delivery %s (%s) was claimed but never recorded (a worker stopped): sending it again with the "
                    "same Message-ID", row["id"], row["message_id"]
                )
            claims.append(Claim(row["id"], row["attempts"], self._message(row), row["traceparent"], deadline))
        return claims

    def _claiming(self, due: Any, now: datetime) -> Executable:
        """Mark the `due` deliveries `sending` until the lease ends, counting the attempt; each row as it is now, and
        what its status was."""
        deliveries = Delivery.__table__.c
        return (
            update(Delivery.__table__)
            .where(deliveries.id == due.c.id)
            .values(
                status=DeliveryStatus.SENDING,
                attempts=deliveries.attempts + 1,
                next_attempt_at=now + timedelta(seconds=self._settings.delivery_lease_seconds),
            )
            .returning(*Delivery.__table__.c, due.c.was)
        )

    def _message(self, delivery: Mapping) -> Message:
        email = Email(
            recipient=delivery["recipient"],
            subject=delivery["subject"],
            text=delivery["text_body"],
            html=delivery["html_body"],
            template=delivery["template"],
            language=delivery["language"],
            unsubscribe_url=delivery["unsubscribe_url"],
        )
        return to_message(email, self._settings.mail_from, delivery["message_id"])

    async def send(self, claim: Claim) -> tuple[BaseException | None, str | None]:
        """Send one email: the error, if it failed, and the trace context its NotificationSent continues."""
        # Sending and recording continue the trace of the event the email is about (NotificationSent carries it on),
        # in a span of their own when spans are exported.
        with continuing(claim.traceparent, "notifications send email", kind=SpanKind.CLIENT):
            try:
                await self._mailer.send(claim.message, claim.deadline)
            except Exception as error:
                return error, current_traceparent()
            return None, current_traceparent()

    async def _recording(self, what: str, record: Callable[[], Awaitable[None]]) -> None:
        """Record an outcome, waiting out a database outage for as long as it lasts (a sent email that is not
        recorded would be sent again once its lease has passed); other errors are retried a few times."""
        failures, backoff = 0, self._backoff()
        while True:
            try:
                await record()
                self._outages.resumed(COMPONENT)
                return
            except Exception as error:
                if (dependency := await diagnose(error, self._database_answers)) is not None:
                    await self._outages.wait(COMPONENT, dependency, error, backoff)
                    continue
                failures += 1
                if failures == RECORD_ATTEMPTS:
                    log.error("could not record %s; retried after its lease: %r", what, error)
                    return
                await asyncio.sleep(backoff.next())

    @staticmethod
    def _common(delivery: Any) -> dict[str, Any]:
        return dict(
            notification_id=delivery.id,
            about_event_id=delivery.about_event_id,
            about_event_type=delivery.about_event_type,
            recipient=delivery.recipient,
            template=delivery.template,
            message_id=delivery.message_id,
            language=delivery.language,
            attempts=delivery.attempts,
        )

    async def _record_sent(self, sent: list[tuple[Claim, str | None]]) -> None:
        """Mark the deliveries sent and publish a NotificationSent for each, in one transaction."""
        traceparents = {(claim.delivery_id, claim.attempt): traceparent for claim, traceparent in sent}
        deliveries = Delivery.__table__.c
        async with self._unit_of_work() as uow:
            recorded = (
                await uow.session.execute(
                    update(Delivery.__table__)
                    .where(
                        tuple_(deliveries.id, deliveries.attempts).in_(list(traceparents)),
                        deliveries.status == DeliveryStatus.SENDING,
                    )
                    .values(status=DeliveryStatus.SENT, sent_at=utcnow(), last_error=None)
                    # What NotificationSent tells, not the bodies: every byte of both came back per email.
                    .returning(*(deliveries[column] for column in SENT_COLUMNS))
                )
            ).all()
            for delivery in recorded:
                event = NotificationSent(**self._common(delivery))
                envelope = uow.publish(event, traceparent=traceparents[(delivery.id, delivery.attempts)])
                await record_event(event, envelope, uow)
            await uow.commit()
        for delivery_id, attempt in set(traceparents) - {(row.id, row.attempts) for row in recorded}:
            log.warning("delivery %s attempt %d was taken over by another worker", delivery_id, attempt)

    async def _give_back(self, unsent: list[Claim]) -> None:
        """Deliveries claimed but not sent: due again at once, as if this attempt had not been made."""
        deliveries = Delivery.__table__.c
        async with self._unit_of_work() as uow:
            await uow.session.execute(
                update(Delivery.__table__)
                .where(
                    tuple_(deliveries.id, deliveries.attempts).in_([(claim.delivery_id, claim.attempt) for claim in unsent]),
                    deliveries.status == DeliveryStatus.SENDING,
                )
                .values(status=DeliveryStatus.PENDING, attempts=deliveries.attempts - 1, next_attempt_at=utcnow())
            )
            await uow.commit()

    async def _record_failure(self, claim: Claim, error: BaseException) -> None:
        settings = self._settings
        now = utcnow()
        async with self._unit_of_work() as uow:
            delivery = (
                await uow.session.exec(
                    select(Delivery)
                    .where(
                        Delivery.id == claim.delivery_id,
                        Delivery.status == DeliveryStatus.SENDING,
                        Delivery.attempts == claim.attempt,
                    )
                    .with_for_update()
                )
            ).first()
            if delivery is None:
                log.warning("delivery %s attempt %d was taken over by another worker", claim.delivery_id, claim.attempt)
                return
            delivery.last_error = describe(error)
            permanent = is_permanent(error)
            if permanent or gives_up(
                delivery.attempts, delivery.created_at, now, settings.delivery_max_attempts, settings.delivery_max_age_seconds
            ):
                delivery.status = DeliveryStatus.FAILED
                delivery.failed_at = now
                reason = delivery.last_error if permanent else (
                    f"gave up after {delivery.attempts} attempts: {delivery.last_error}"
                )
                log.warning("delivery %s to %s failed: %s", delivery.id, delivery.recipient, reason)
                event = NotificationFailed(**self._common(delivery), reason=reason, permanent=permanent)
                await record_event(event, uow.publish(event), uow)
            else:
                delivery.status = DeliveryStatus.PENDING
                delivery.next_attempt_at = now + retry_delay(
                    delivery.attempts, settings.delivery_backoff_seconds, settings.delivery_backoff_max_seconds
                )
                log.info(
                    "delivery %s attempt %d failed, retrying at %s: %s",
                    delivery.id, delivery.attempts, delivery.next_attempt_at.isoformat(), delivery.last_error,
                )
            await uow.commit()


async def run_delivery_worker(
    state: State, *, settings: NotificationsSettings, recorded: RecordedDeliveries | None = None
) -> None:
    """The background task of the service (see shared.service.Service.background)."""
    mailer = Mailer(settings)
    try:
        await DeliveryWorker(
            settings, state.unit_of_work, mailer, state.outages, state.database_answers, recorded
        ).run()
    finally:
        await mailer.close()


def delivery_worker(settings: NotificationsSettings, recorded: RecordedDeliveries | None = None):
    return functools.partial(run_delivery_worker, settings=settings, recorded=recorded)
