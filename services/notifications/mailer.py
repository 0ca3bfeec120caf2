"""Sends email over SMTP with aiosmtplib, and tells a failure worth retrying from one that no retry will fix.

For a real relay: SMTP_STARTTLS (upgrade a plain connection, port 587) or SMTP_TLS (TLS from the start, port 465),
SMTP_USERNAME and SMTP_PASSWORD (authentication when both are set), SMTP_VALIDATE_CERTS, MAIL_FROM; SMTP_CONNECTIONS
connections at most, each carrying many emails.
"""

import asyncio
import contextlib
import time

import aiosmtplib

from services.notifications.domain import Message
from services.notifications.settings import NotificationsSettings


class NoTimeLeft(Exception):
    """The email was not sent: it could not be done with before its deadline."""


class Mailer:
    """Up to SMTP_CONNECTIONS connections to the relay, each kept open and carrying one email after another: a
    connection per email (connect, EHLO, STARTTLS, AUTH, QUIT) cost more than the email (bench/bench_cohort.py).

    A connection that failed in any way is closed, and the next email opens a new one (the email it failed on is
    retried by the worker, never here: whether the relay kept it is unknown). Before an email goes on a connection that
    sat idle, the connection is checked: closed by the relay (noticed by the transport), or, idle for longer than
    SMTP_IDLE_CHECK_SECONDS, asked for a NOOP (a relay that restarted or timed it out may have dropped it without this
    side noticing); one that does not answer is closed and a new one opened, so neither costs the email an attempt."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # each with when it was last used
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    def _connection(self) -> aiosmtplib.SMTP:
        settings = self._settings
        credentials = (
            {"username": settings.smtp_username, "password": settings.smtp_password}
            if settings.smtp_username and settings.smtp_password
            else {}
        )
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls,
            validate_certs=settings.smtp_validate_certs,
            timeout=settings.smtp_timeout_seconds,
            **credentials,
        )

    async def send(self, message: Message, deadline: float | None = None) -> None:
        """Send on a free connection; with a `deadline` (time.monotonic()), only if the exchange is sure to be over by
        then, else NoTimeLeft (an email waits for a connection while the others of its batch go first)."""
        async with self._slots:
            connection = await self._open_connection() or self._connection()
            if deadline is not None and time.monotonic() + 2 * self._settings.smtp_timeout_seconds > deadline:
                if connection.is_connected:
                    self._idle.append((connection, time.monotonic()))
                raise NoTimeLeft(message.message_id)
            try:
                # aiosmtplib bounds each command by the timeout; this bounds the whole exchange, which a claim's lease
                # outlasts.
                async with asyncio.timeout(2 * self._settings.smtp_timeout_seconds):
                    if not connection.is_connected:
                        await connection.connect()
                    await connection.sendmail(
                        message.sender, [message.recipient], message.data,
                        mail_options=["SMTPUTF8"] if message.smtputf8 else None,
                    )
            except BaseException:
                connection.close()
                raise
            self._idle.append((connection, time.monotonic()))

    async def _open_connection(self) -> aiosmtplib.SMTP | None:
        """An idle connection that still works, if there is one; the others are closed."""
        while self._idle:
            connection, since = self._idle.pop()
            if not connection.is_connected:
                connection.close()
                continue
            if time.monotonic() - since < self._settings.smtp_idle_check_seconds:
                return connection  # Used a moment ago, as in a batch: not worth a round trip.
            try:
                async with asyncio.timeout(self._settings.smtp_timeout_seconds):
                    await connection.noop()
            except BaseException as error:
                connection.close()
                if not isinstance(error, Exception):
                    raise
                continue
            return connection
        return None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            with contextlib.suppress(Exception):
                await connection.quit()


def is_permanent(error: BaseException) -> bool:
    """Whether no retry will deliver this email: the relay refused the recipient or the message with a 5xx reply.

    Transient: the relay unreachable (refused, reset, timeout), any 4xx (greylisting, mailbox busy, rate limits).
    A 5xx to what this node says of itself (HELO, STARTTLS, AUTH, MAIL FROM) is the node's misconfiguration, not the
    email's: it is retried (and so still ends as failed once the attempts or the age run out, but after the
    administrator had a chance to fix the settings, and with the reason recorded).
    """
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(is_permanent(refusal) for refusal in error.recipients)
    if isinstance(error, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)):
        return 500 <= error.code < 600
    return False
