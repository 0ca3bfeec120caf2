"""The notifications service on the real Kafka and PostgreSQL, sending to a real SMTP sink (deploy/smtp_mailbox.py)
that each test starts on its own port and Maildir, and stops and starts to play an outage.

Exactly one email per event and recipient, through redeliveries, outages and restarts; permanent refusals recorded
and published; the learner's language.
"""

import asyncio
import contextlib
import mailbox
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_binary_file, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.enrolment.app import create_service as create_enrolment
from services.enrolment.settings import EnrolmentSettings
from services.notifications.app import create_service
from services.notifications.domain import Email, to_message
from services.notifications.mailer import Mailer, NoTimeLeft
from services.notifications.settings import NotificationsSettings
from shared.auth import Role
from shared.db import create_engine
from shared.events import CloudEvent, Event, Topic
from shared.events.catalogue import AwardingBody
from shared.events.certification import CredentialCompleted, CredentialIssued
from shared.events.common import LearnerCategory, LearnerIdentity
from tests.integration.conftest import eventually, running
from tests.integration.test_enrolment_applications import apply, learner_token, open_offering, registered
from tests.stack import NODE_URI, ROOT, Stack, cloud_event, free_port, produce, read_topic
from tests.tcp_hop import Hop

pytestmark = pytest.mark.integration

SAARLAND = AwardingBody(id="uni-saarland", name="Saarland University", country="DE")


# --- a mail server of the test's own ---


@dataclass
class Sink:
    """deploy/smtp_mailbox.py on a free port, storing in its own Maildir; `start()`/`stop()` play an outage."""

    port: int
    maildir: Path
    reject: tuple[str, ...] = ()
    process: subprocess.Popen | None = None

    async def start(self) -> None:
        command = [sys.executable, "-m", "deploy.smtp_mailbox", "--port", str(self.port), "--maildir", str(self.maildir)]
        for address in self.reject:
            command += ["--reject", address]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await eventually(self._accepting, timeout=15)

    async def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            await asyncio.to_thread(self.process.wait, 10)
            self.process = None

    async def _accepting(self) -> bool:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.close()
            return True
        return False

    def emails_to(self, address: str) -> list[EmailMessage]:
        if not (self.maildir / "new").exists():
            return []
        box = mailbox.Maildir(self.maildir, factory=lambda f: message_from_binary_file(f, policy=policy.default), create=False)
        return [message for message in box if message["To"] == address]


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[Sink]:
    server = Sink(port=free_port(), maildir=tmp_path / "mail")
    yield server
    await server.stop()


def settings_for(stack: Stack, sink: Sink, **overrides: object) -> NotificationsSettings:
    values: dict[str, object] = dict(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_timeout_seconds=2,
        delivery_backoff_seconds=0.2,
        delivery_backoff_max_seconds=1.0,
        delivery_max_attempts=1000,
        delivery_poll_seconds=0.2,
        mail_from="Saarland University <no-reply@uni-saarland.example>",
    )
    return stack.settings(NotificationsSettings, **(values | overrides))


# --- events ---


def learner(name: str = "Jana Nováková", language: str | None = None) -> LearnerIdentity:
    learner_id = f"learner-{uuid.uuid4().hex[:8]}"
    return LearnerIdentity(learner_id=learner_id, name=name, email=f"{learner_id}@example.eu", preferred_language=language)


def credential_issued(who: LearnerIdentity) -> CredentialIssued:
    return CredentialIssued(
        credential_id=f"credential-{uuid.uuid4().hex[:8]}",
        learner_id=who.learner_id,
        learner=who,
        course_id="course-data-literacy",
        course_version=1,
        title="Data Literacy",
        awarding_bodies=[SAARLAND],
        issued_at=datetime.now(UTC),
        grade="1.7",
        credential_url=f"https://mc.uni-saarland.example/credentials/{who.learner_id}",
    )


async def publish(stack: Stack, event: Event) -> CloudEvent:
    envelope = CloudEvent.wrap(event, source=NODE_URI)
    await produce(stack, event.topic, envelope.to_bytes(), key=event.key)
    return envelope


ADMIN: dict[str, str] = {}


@pytest.fixture(autouse=True)
def node_admin(stack: Stack) -> None:
    """Who reads /deliveries in these tests: the node's administrator."""
    ADMIN.update(stack.bearer("admin@uni-saarland.example", Role.NODE_ADMIN, institution="uni-saarland"))


async def deliveries(client: httpx.AsyncClient, **params: str) -> list[dict]:
    response = await client.get("/deliveries", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def all_sent(client: httpx.AsyncClient, recipients: list[str]) -> bool:
    rows = [row for recipient in recipients for row in await deliveries(client, recipient=recipient)]
    return len(rows) == len(recipients) and all(row["status"] == "sent" for row in rows)


async def notifications_about(stack: Stack, recipients: set[str], count: int) -> list[dict]:
    def mine(records: list) -> list[dict]:
        return [e for e in map(cloud_event, records) if e["data"]["recipient"] in recipients]

    return mine(await read_topic(stack, Topic.NOTIFICATIONS, until=lambda rs: len(mine(rs)) >= count, timeout=30))


async def logged_about(stack: Stack, settings: NotificationsSettings, about_event_id: str) -> list[str]:
    """The types of the dashboards' event log's entries about an event (its emails' NotificationSent/Failed)."""
    rows = await rows_of(
        settings, "SELECT type FROM event_log WHERE data->>'about_event_id' = :about ORDER BY sequence",
        about=about_event_id,
    )
    return [row["type"] for row in rows]


async def rows_of(settings: NotificationsSettings, query: str, **parameters: object) -> list[dict]:
    """What a query of the service's database finds, read without the service (which may be stopped)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            return [dict(row) for row in (await connection.execute(text(query), parameters)).mappings()]
    finally:
        await engine.dispose()


# --- the tests ---


async def test_the_same_credential_issued_delivered_twice_is_one_email(stack, sink):
    await sink.start()
    ada, control = learner("Ada Lovelace"), learner("Grace Hopper")
    settings = settings_for(stack, sink)
    async with running(create_service(settings)) as client:
        issued = CloudEvent.wrap(credential_issued(ada), source=NODE_URI)
        duplicate = issued.to_bytes()
        await produce(stack, Topic.CREDENTIALS, duplicate, key="same-partition")
        await produce(stack, Topic.CREDENTIALS, duplicate, key="same-partition")
        # Same key, same partition: once this one is sent, both copies before it were handled.
        await produce(
            stack, Topic.CREDENTIALS, CloudEvent.wrap(credential_issued(control), source=NODE_URI).to_bytes(), key="same-partition"
        )
        await eventually(lambda: all_sent(client, [ada.email, control.email]))

        [email] = sink.emails_to(ada.email)
        assert "Data Literacy" in email["Subject"] and "issued" in email["Subject"]
        [delivery] = await deliveries(client, recipient=ada.email)
        assert email["Message-ID"].strip() == delivery["message_id"]
        assert delivery["message_id"].endswith("@uni-saarland.example>")
        sent = await notifications_about(stack, {ada.email}, 1)
        assert [e["type"].split(".")[-2] for e in sent] == ["sent"]
        # The dashboards saw the email once.
        assert await logged_about(stack, settings, issued.id) == [sent[0]["type"]]


async def test_a_delivery_the_consumer_records_goes_out_at_once_without_waiting_for_the_workers_next_scan(stack, sink):
    """The worker scans for due deliveries at start and then only every minute here: the email comes within seconds
    because the consumer hands what it recorded to the worker of its process, by id, once committed."""
    await sink.start()
    ada = learner("Ada Lovelace")
    async with running(create_service(settings_for(stack, sink, delivery_poll_seconds=60))) as client:
        await asyncio.sleep(1)  # The scan at start is over.
        await publish(stack, credential_issued(ada))
        await eventually(lambda: all_sent(client, [ada.email]), timeout=20)
    assert len(sink.emails_to(ada.email)) == 1


async def test_a_delivery_another_process_recorded_is_sent_when_its_notify_comes(stack, sink):
    """A delivery no consumer of this process recorded (another instance's, with no worker of its own) is announced
    by a NOTIFY, which makes the worker scan at once instead of at its next poll, a minute later."""
    await sink.start()
    recipient, event_id = f"other-{uuid.uuid4().hex[:8]}@example.eu", str(uuid.uuid4())
    settings = settings_for(stack, sink, delivery_poll_seconds=60)
    async with running(create_service(settings)):
        await asyncio.sleep(1)  # The scan at start is over.
        await _record_elsewhere(settings, event_id, "CredentialIssued", recipient, "Recorded elsewhere", notify=True)

        async def sent() -> bool:
            return len(sink.emails_to(recipient)) == 1

        await eventually(sent, timeout=20)


async def test_an_event_whose_email_was_recorded_before_under_another_delivery_is_not_emailed_again(stack, sink):
    """The consumer claims what it records for its own worker and hands it over in memory: a delivery that was not
    inserted (the event's email to that recipient is recorded already, here sent long ago) must not be handed over."""
    await sink.start()
    ada, control = learner("Ada Lovelace"), learner("Grace Hopper")
    settings = settings_for(stack, sink)
    issued = CloudEvent.wrap(credential_issued(ada), source=NODE_URI)
    async with running(create_service(settings)) as client:
        await _record_elsewhere(settings, issued.id, issued.type, ada.email, "Sent before", sent=True)
        await produce(stack, Topic.CREDENTIALS, issued.to_bytes(), key="same-partition")
        # Same key, same partition: once this one is sent, the one before it was handled.
        await produce(
            stack, Topic.CREDENTIALS, CloudEvent.wrap(credential_issued(control), source=NODE_URI).to_bytes(),
            key="same-partition",
        )
        await eventually(lambda: all_sent(client, [control.email]))
        await asyncio.sleep(1)
        [delivery] = await deliveries(client, recipient=ada.email)
    assert delivery["subject"] == "Sent before", "the delivery recorded first is the one kept"
    assert sink.emails_to(ada.email) == [], "no second email about the same event"


async def test_deliveries_handed_over_and_not_sent_when_the_service_stops_go_out_once_when_it_is_back(stack, sink):
    """The consumer records deliveries claimed for its process's worker (`sending`, under a lease). Those the worker
    had not begun to send when the service stopped are given back, due at once, so the next worker sends them now,
    not once their lease (95 s here, with a 30 s SMTP timeout) has run out; each email still goes out once."""
    cohort = [learner(f"Handed Over {number}") for number in range(8)]
    recipients = [who.email for who in cohort]
    await sink.start()
    settings = settings_for(stack, sink, smtp_timeout_seconds=30, smtp_connections=1, delivery_batch_size=2)
    async with Hop(sink.port, delay=0.3) as slow:
        slow_relay = settings.model_copy(update={"smtp_port": slow.port})
        async with running(create_service(slow_relay)) as client:
            for who in cohort:
                await publish(stack, credential_issued(who))

            async def some_sent_all_recorded() -> bool:
                statuses = [row["status"] for row in await _rows(client, recipients)]
                return len(statuses) == len(recipients) and "sent" in statuses

            await eventually(some_sent_all_recorded, timeout=60)
        stopped = await rows_of(
            settings, "SELECT recipient, status, attempts FROM deliveries WHERE recipient = ANY(:recipients)",
            recipients=recipients,
        )
    left = [row for row in stopped if row["status"] != "sent"]
    assert left, "the service stopped with emails still to send (else this test shows nothing)"
    assert all(row["status"] == "pending" and row["attempts"] == 0 for row in left), (
        f"given back, the attempt not counted: {left}"
    )

    async with running(create_service(settings)) as client:
        await eventually(lambda: all_sent(client, recipients), timeout=60)
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1


async def _record_elsewhere(
    settings: NotificationsSettings, event_id: str, event_type: str, recipient: str, subject: str,
    *, sent: bool = False, notify: bool = False,
) -> None:
    """A delivery written straight into the table, as another instance (or an earlier record) would have: pending, or
    sent already; with `notify`, announced as the consumer announces what it records for no worker in particular."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO deliveries (id, about_event_id, about_event_type, recipient, subject, template, "
                    "language, message_id, status, attempts, created_at, next_attempt_at, sent_at, text_body, "
                    "html_body) VALUES (:id, :event, :type, :recipient, :subject, 'credential_issued', 'en', "
                    ":message_id, :status, :attempts, now(), now(), :sent_at, 'Hello', '<p>Hello</p>')"
                ),
                {"id": str(uuid.uuid4()), "event": event_id, "type": event_type, "recipient": recipient,
                 "subject": subject, "message_id": f"<{event_id}@uni-saarland.example>",
                 "status": "sent" if sent else "pending", "attempts": 1 if sent else 0,
                 "sent_at": datetime.now(UTC) if sent else None},
            )
            if notify:
                await connection.execute(text("SELECT pg_notify('deliveries', '')"))
    finally:
        await engine.dispose()


async def test_a_cohort_graded_while_the_mail_server_is_down_gets_every_email_exactly_once_when_it_returns(stack, sink):
    cohort = [learner(f"Learner {number}") for number in range(10)]
    recipients = [who.email for who in cohort]
    async with running(create_service(settings_for(stack, sink))) as client:
        for who in cohort:
            await publish(stack, credential_issued(who))

        async def all_retrying() -> bool:
            rows = [row for recipient in recipients for row in await deliveries(client, recipient=recipient)]
            # A row may be caught mid-attempt ("sending"): what matters is that each was tried and none was sent.
            return len(rows) == 10 and all(row["status"] in ("pending", "sending") and row["attempts"] >= 2 for row in rows)

        # The consumer recorded all ten and moved on; the worker keeps trying, backing off.
        await eventually(all_retrying)
        failing = (await deliveries(client, recipient=recipients[0]))[0]
        assert "Connect" in failing["last_error"] or "refused" in failing["last_error"].lower()
        assert sink.emails_to(recipients[0]) == []

        await sink.start()
        await eventually(lambda: all_sent(client, recipients))
        # Let a few more polls pass: nothing is sent again.
        await asyncio.sleep(1)

    for who in cohort:
        [email] = sink.emails_to(who.email)
        assert who.name in email.get_body(("plain",)).get_content()
    sent = await notifications_about(stack, set(recipients), 10)
    assert sorted(e["data"]["recipient"] for e in sent) == sorted(recipients), "one NotificationSent each"
    assert all(e["type"].endswith("notification.sent.v1") for e in sent)


async def test_deliveries_pending_when_the_service_stopped_are_sent_once_after_it_restarts(stack, sink):
    cohort = [learner(f"Restarting {number}") for number in range(3)]
    recipients = [who.email for who in cohort]
    settings = settings_for(stack, sink)
    async with running(create_service(settings)) as client:
        for who in cohort:
            await publish(stack, credential_issued(who))
        await eventually(
            lambda: _count_status(client, recipients, "pending", minimum_attempts=1)
        )
    # A worker that died after claiming one of them and before recording it (the lease has run out since).
    engine = create_engine(settings)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE deliveries SET status = 'sending', next_attempt_at = :past WHERE recipient = :recipient"),
            {"past": datetime.now(UTC) - timedelta(seconds=1), "recipient": recipients[0]},
        )
    await engine.dispose()

    await sink.start()
    async with running(create_service(settings)) as client:
        await eventually(lambda: all_sent(client, recipients))
        await asyncio.sleep(1)
        resent = (await deliveries(client, recipient=recipients[0]))[0]
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1
    assert sink.emails_to(recipients[0])[0]["Message-ID"].strip() == resent["message_id"], "a resend keeps its Message-ID"


async def _count_status(client: httpx.AsyncClient, recipients: list[str], status: str, minimum_attempts: int) -> bool:
    rows = [row for recipient in recipients for row in await deliveries(client, recipient=recipient)]
    return len(rows) == len(recipients) and all(r["status"] == status and r["attempts"] >= minimum_attempts for r in rows)


async def test_a_mailbox_refused_for_good_is_recorded_as_failed_and_published(stack, tmp_path):
    gone, present = learner("Former Student"), learner("Current Student")
    sink = Sink(port=free_port(), maildir=tmp_path / "mail", reject=(gone.email,))
    await sink.start()
    try:
        async with running(create_service(settings_for(stack, sink))) as client:
            await publish(stack, credential_issued(gone))
            await publish(stack, credential_issued(present))

            [failed] = await eventually(lambda: deliveries(client, status="failed", recipient=gone.email))
            await eventually(lambda: all_sent(client, [present.email]))

            assert failed["attempts"] == 1, "a 5xx is not retried"
            assert failed["last_error"].startswith("550") and failed["failed_at"]
            assert sink.emails_to(gone.email) == [] and len(sink.emails_to(present.email)) == 1
            assert [row["recipient"] for row in await deliveries(client, status="failed")].count(gone.email) == 1
            [event] = await notifications_about(stack, {gone.email}, 1)
            assert event["type"] == "eu.microcredentials.notifications.notification.failed.v1"
            assert event["data"]["reason"].startswith("550") and event["data"]["permanent"] is True
            assert event["data"]["template"] == "credential_issued"
    finally:
        await sink.stop()


async def test_deliveries_are_shown_to_the_nodes_administrators_only(stack, sink):
    async with running(create_service(settings_for(stack, sink))) as client:
        assert (await client.get("/deliveries")).status_code == 401
        nosy = stack.bearer("learner-nosy", Role.LEARNER)
        assert (await client.get("/deliveries", headers=nosy)).json() == [], "a learner reads only their own emails"
        designer = stack.bearer("designer@uni-saarland", Role.COURSE_DESIGNER, institution="uni-saarland")
        assert (await client.get("/deliveries", headers=designer)).status_code == 403
        assert (await client.get("/deliveries/nope", headers=ADMIN)).status_code == 404


async def test_two_instances_share_the_work_and_still_send_each_email_once(stack, sink):
    await sink.start()
    cohort = [learner(f"Shared {number}") for number in range(12)]
    recipients = [who.email for who in cohort]
    settings = settings_for(stack, sink)
    async with running(create_service(settings)) as first, running(create_service(settings)):
        for who in cohort:
            await publish(stack, credential_issued(who))
        await eventually(lambda: all_sent(first, recipients))
        await asyncio.sleep(1)
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1


async def test_a_transient_failure_that_never_ends_is_given_up_after_the_attempts_allowed(stack, sink):
    who = learner("Patient Learner")
    settings = settings_for(stack, sink, delivery_max_attempts=3)
    async with running(create_service(settings)) as client:
        issued = await publish(stack, credential_issued(who))
        [failed] = await eventually(lambda: deliveries(client, status="failed", recipient=who.email))
        # While the service runs: its outbox relay publishes NotificationFailed a moment after the row is written.
        [event] = await notifications_about(stack, {who.email}, 1)
    assert failed["attempts"] == 3
    assert event["data"]["permanent"] is False and "gave up after 3 attempts" in event["data"]["reason"]
    assert await logged_about(stack, settings, issued.id) == [event["type"]]


async def test_a_german_speaking_learner_registered_with_enrolment_gets_the_german_email(stack, sink):
    await sink.start()
    async with (
        running(create_enrolment(stack.settings(EnrolmentSettings))) as enrolment,
        running(create_service(settings_for(stack, sink))) as notifications,
    ):
        offering = await open_offering(stack, enrolment)
        learner_id, headers = await registered(
            stack, enrolment, LearnerCategory.ALLIANCE_STUDENT, name="Lena Schmidt", preferred_language="de"
        )
        english_id, english_headers = await registered(stack, enrolment, name="Liam Walsh")
        me = await enrolment.get(f"/learners/{learner_id}", headers=headers)
        assert me.json()["preferred_language"] == "de"
        assert (await apply(enrolment, headers, offering["id"])).status_code == 201
        assert (await apply(enrolment, english_headers, offering["id"])).status_code == 201

        lena, liam = f"{learner_id}@learners.example.eu", f"{english_id}@learners.example.eu"
        await eventually(lambda: all_sent(notifications, [lena, liam]))

        [german] = sink.emails_to(lena)
        assert "Sie sind in „" in german["Subject"] and "eingeschrieben" in german["Subject"]
        assert german["Content-Language"] == "de"
        assert "Guten Tag Lena Schmidt" in german.get_body(("plain",)).get_content()
        [english] = sink.emails_to(liam)
        assert "enrolled" in english["Subject"] and english["Content-Language"] == "en"
        assert (await deliveries(notifications, recipient=lena))[0]["language"] == "de"

        refused = await enrolment.post(
            "/learners", json={"preferred_language": "Deutsch"}, headers=learner_token(stack, "learner-x")
        )
        assert refused.status_code == 422, "ISO 639-1 codes only"
        assert refused.json()["detail"][0]["loc"] == ["body", "preferred_language"]


# --- connections kept open to the relay ---


async def test_a_kept_connection_that_went_silent_is_replaced_before_an_email_goes_out_on_it(stack, sink):
    await sink.start()
    first, second = learner("First Learner"), learner("Second Learner")
    async with Hop(sink.port) as proxy:
        settings = settings_for(stack, sink, smtp_port=proxy.port, smtp_connections=1, smtp_idle_check_seconds=0)
        async with running(create_service(settings)) as client:
            await publish(stack, credential_issued(first))
            await eventually(lambda: all_sent(client, [first.email]))
            proxy.silence()

            await publish(stack, credential_issued(second))
            await eventually(lambda: all_sent(client, [second.email]))
            [delivery] = await deliveries(client, recipient=second.email)
    assert delivery["attempts"] == 1, "the silent connection was noticed before the email was sent on it"
    assert len(sink.emails_to(first.email)) == 1 and len(sink.emails_to(second.email)) == 1


async def test_a_restarted_relay_gets_the_next_email_on_a_new_connection_at_its_first_attempt(stack, sink):
    await sink.start()
    before, after = learner("Before Restart"), learner("After Restart")
    async with running(create_service(settings_for(stack, sink, smtp_connections=1))) as client:
        await publish(stack, credential_issued(before))
        await eventually(lambda: all_sent(client, [before.email]))
        await sink.stop()
        await sink.start()

        await publish(stack, credential_issued(after))
        await eventually(lambda: all_sent(client, [after.email]))
        [delivery] = await deliveries(client, recipient=after.email)
    assert delivery["attempts"] == 1
    assert len(sink.emails_to(before.email)) == 1 and len(sink.emails_to(after.email)) == 1


async def test_an_email_that_could_not_be_sent_before_its_deadline_is_not_sent(stack, sink):
    await sink.start()
    mailer = Mailer(settings_for(stack, sink))
    who = learner("Late Learner")
    email = Email(who.email, "Late", "text", "<p>html</p>", "credential_issued", "en")
    message = to_message(email, "Saarland University <no-reply@uni-saarland.example>", "<late@uni-saarland.example>")
    try:
        with pytest.raises(NoTimeLeft):
            await mailer.send(message, deadline=time.monotonic() + 1)  # less than the exchange may take (2 x 2 s)
        await mailer.send(message, deadline=time.monotonic() + 60)
    finally:
        await mailer.close()
    assert len(sink.emails_to(who.email)) == 1


async def test_a_batch_longer_than_its_lease_is_never_taken_over_mid_send_by_another_instance(stack, sink):
    """One connection to a slow relay (1.5 s an email: its two round trips with PIPELINING, each reply 0.75 s late; 3 s
    with the connection's greeting and EHLO, within the exchange's 4 s) and a lease of 11 s: the end of a batch of six
    would still be waiting for the connection when the lease ran out, and the other instance would take it over and
    send it too.
    The worker gives back what it cannot send within the lease instead."""
    cohort = [learner(f"Slow Relay {number}") for number in range(6)]
    recipients = [who.email for who in cohort]
    settings, before = await _all_due_at_once(stack, sink, cohort)

    await sink.start()
    async with Hop(sink.port, delay=0.75) as slow:
        slow_relay = settings.model_copy(update={"smtp_port": slow.port, "smtp_connections": 1})
        async with running(create_service(slow_relay)) as first, running(create_service(slow_relay)):
            await eventually(lambda: all_sent(first, recipients), timeout=120)
            after = {row["recipient"]: row["attempts"] for row in await _rows(first, recipients)}
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1, "each email once"
    assert after == {recipient: attempts + 1 for recipient, attempts in before.items()}, (
        "one attempt each: an email given back is not counted"
    )


async def test_the_worker_claims_more_as_its_emails_go_out_not_once_a_batch_is_over(stack, sink):
    """Eight emails due, at most four claimed at a time, one slow connection: once two have gone out, two more are
    claimed while the other two of the first four are still waiting, so the connection always has an email waiting."""
    cohort = [learner(f"Kept Busy {number}") for number in range(8)]
    recipients = [who.email for who in cohort]
    settings, _ = await _all_due_at_once(stack, sink, cohort)
    await sink.start()
    async with Hop(sink.port, delay=0.3) as slow:
        slow_relay = settings.model_copy(
            update={"smtp_port": slow.port, "smtp_connections": 1, "delivery_batch_size": 4}
        )
        async with running(create_service(slow_relay)) as client:

            async def claimed_again_before_the_first_four_are_out() -> bool:
                statuses = [row["status"] for row in await _rows(client, recipients)]
                sent, sending = statuses.count("sent"), statuses.count("sending")
                return sent < 4 and sent + sending > 4

            await eventually(claimed_again_before_the_first_four_are_out, timeout=60)
            await eventually(lambda: all_sent(client, recipients), timeout=60)
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1


async def _all_due_at_once(
    stack: Stack, sink: Sink, cohort: list[LearnerIdentity]
) -> tuple[NotificationsSettings, dict[str, int]]:
    """A batch of pending deliveries all due at once: one email to each of `cohort`, recorded (and tried once) while
    the relay is away, then made due together, so that a worker with these settings claims them all in one batch.
    The settings, and each recipient's attempts so far."""
    recipients = [who.email for who in cohort]
    settings = settings_for(stack, sink, delivery_batch_size=len(cohort))
    async with running(create_service(settings)) as client:
        for who in cohort:
            await publish(stack, credential_issued(who))
        await eventually(lambda: _count_status(client, recipients, "pending", minimum_attempts=1))
    engine = create_engine(settings)
    async with engine.begin() as connection:
        attempts = dict((await connection.execute(
            text(
                "UPDATE deliveries SET next_attempt_at = now() WHERE recipient = ANY(:recipients) "
                "RETURNING recipient, attempts"
            ),
            {"recipients": recipients},
        )).all())
    await engine.dispose()
    return settings, attempts


async def _rows(client: httpx.AsyncClient, recipients: list[str]) -> list[dict]:
    return [row for recipient in recipients for row in await deliveries(client, recipient=recipient)]


async def test_a_joint_credential_made_complete_is_emailed_to_its_learner_even_after_opting_out(stack, sink):
    """Certification says a joint credential is complete (every co-awarding university's endorsement attached): the
    learner is told to fetch the new copy, in their language, whatever their choice about optional emails."""
    await sink.start()
    marta = learner("Marta Nowak", language="de")
    silesia = AwardingBody(id="uni-silesia", name="University of Silesia in Katowice", country="PL")
    async with running(create_service(settings_for(stack, sink))) as client:
        opted = await client.post("/preferences", json={"optional_emails": False},
                                  headers=stack.bearer(marta.learner_id, Role.LEARNER, email=marta.email))
        assert opted.status_code == 200, opted.text
        credential_id = f"credential-{uuid.uuid4().hex[:8]}"
        await publish(stack, CredentialCompleted(
            credential_id=credential_id, learner_id=marta.learner_id, learner=marta, course_id="course-just-transition",
            course_version=1, title="Just Transition", awarding_bodies=[SAARLAND, silesia],
            endorsed_by=[silesia.name], completed_at=datetime.now(UTC),
            credential_url=f"https://mc.uni-saarland.example/credentials/{credential_id}",
            download_url=f"https://mc.uni-saarland.example/credentials/{credential_id}/credential.json",
        ))
        await eventually(lambda: all_sent(client, [marta.email]))

    [email] = sink.emails_to(marta.email)
    assert email["Subject"] == "Ihr Microcredential „Just Transition“ ist jetzt vollständig"
    body = " ".join(email.get_body(("plain",)).get_content().split())
    assert "University of Silesia in Katowice" in body and f"{credential_id}/credential.json" in body
    assert "List-Unsubscribe" not in email, "about the credential itself: not an email one can opt out of"


async def test_a_batchs_sent_emails_are_recorded_while_the_rest_are_still_going_out(stack, sink):
    """A worker killed in the middle of a batch must send again only the emails of its last moments: those the relay
    accepted earlier are already recorded sent (and published) while the batch's last ones are still being sent."""
    cohort = [learner(f"Recorded Early {number}") for number in range(4)]
    recipients = [who.email for who in cohort]
    settings, _ = await _all_due_at_once(stack, sink, cohort)

    await sink.start()
    async with Hop(sink.port, delay=0.3) as slow:
        slow_relay = settings.model_copy(update={"smtp_port": slow.port, "smtp_connections": 1})
        async with running(create_service(slow_relay)) as client:

            async def some_recorded_sent_while_the_others_are_sending() -> bool:
                statuses = [row["status"] for row in await _rows(client, recipients)]
                return "sent" in statuses and "sending" in statuses and "pending" not in statuses

            await eventually(some_recorded_sent_while_the_others_are_sending, timeout=60)
            await eventually(lambda: all_sent(client, recipients), timeout=60)
    for recipient in recipients:
        assert len(sink.emails_to(recipient)) == 1
