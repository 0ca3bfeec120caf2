"""When a failed email is tried again, and when it is given up: SMTP's replies, the backoff, the limits."""

from datetime import UTC, datetime, timedelta

import aiosmtplib
import pytest

from services.notifications.domain import gives_up, message_id, retry_delay
from services.notifications.mailer import is_permanent
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import describe

REFUSED_FOR_GOOD = aiosmtplib.SMTPRecipientRefused(550, "5.1.1 Mailbox unavailable", "gone@example.eu")
MAILBOX_BUSY = aiosmtplib.SMTPRecipientRefused(450, "4.2.1 Mailbox busy, try later", "busy@example.eu")


@pytest.mark.parametrize(
    "error",
    [
        REFUSED_FOR_GOOD,
        aiosmtplib.SMTPRecipientsRefused([REFUSED_FOR_GOOD]),
        aiosmtplib.SMTPDataError(554, "5.7.1 Message rejected as spam"),
        aiosmtplib.SMTPDataError(552, "5.3.4 Message too big"),
    ],
)
def test_a_5xx_refusal_of_the_recipient_or_the_message_is_permanent(error: Exception) -> None:
    assert is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        aiosmtplib.SMTPConnectError("Error connecting to 127.0.0.1 on port 1025"),
        aiosmtplib.SMTPConnectTimeoutError("Timed out connecting"),
        aiosmtplib.SMTPServerDisconnected("Connection lost"),
        aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
        TimeoutError(),
        MAILBOX_BUSY,
        aiosmtplib.SMTPRecipientsRefused([MAILBOX_BUSY]),
        aiosmtplib.SMTPRecipientsRefused([MAILBOX_BUSY, REFUSED_FOR_GOOD]),
        aiosmtplib.SMTPDataError(451, "4.3.0 Temporary failure, greylisted"),
        aiosmtplib.SMTPResponseException(421, "4.7.0 Too many connections"),
        # 5xx about the node itself: its settings to fix, not the learner's email to drop.
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication credentials invalid"),
        aiosmtplib.SMTPSenderRefused(553, "5.7.1 Sender not allowed", "no-reply@uni.example"),
        aiosmtplib.SMTPHeloError(501, "Bad HELO"),
    ],
)
def test_an_unreachable_relay_a_4xx_or_a_misconfigured_node_is_retried(error: Exception) -> None:
    assert not is_permanent(error)


def test_the_reason_recorded_is_the_relays_reply() -> None:
    assert describe(aiosmtplib.SMTPRecipientsRefused([REFUSED_FOR_GOOD])) == "550 5.1.1 Mailbox unavailable"
    assert "Connection refused" in describe(ConnectionRefusedError(111, "Connection refused"))


def test_retries_back_off_exponentially_up_to_a_ceiling() -> None:
    delays = [retry_delay(attempt, first=5, most=60).total_seconds() for attempt in range(1, 7)]
    assert delays == [5, 10, 20, 40, 60, 60]


def test_a_delivery_is_given_up_after_its_attempts_or_its_age() -> None:
    created = datetime(2025, 1, 1, tzinfo=UTC)
    soon = created + timedelta(minutes=5)
    assert not gives_up(3, created, soon, max_attempts=10, max_age_seconds=3600)
    assert gives_up(10, created, soon, max_attempts=10, max_age_seconds=3600)
    assert gives_up(2, created, created + timedelta(hours=2), max_attempts=10, max_age_seconds=3600)


def test_the_message_id_is_stable_and_in_the_senders_domain() -> None:
    first = message_id("event-1", "credential_issued", "Saarland University <no-reply@uni-saarland.de>")
    assert first == message_id("event-1", "credential_issued", "Saarland University <no-reply@uni-saarland.de>")
    assert first == "<event-1.credential_issued@uni-saarland.de>"


def test_starttls_and_implicit_tls_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        NotificationsSettings(smtp_starttls=True, smtp_tls=True)
    assert NotificationsSettings(smtp_starttls=True).delivery_lease_seconds > 2 * NotificationsSettings().smtp_timeout_seconds
