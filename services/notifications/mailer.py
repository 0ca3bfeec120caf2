"""Sends email over SMTP with aiosmtplib, and tells a failure worth retrying from one that no retry will fix.

For a real relay: SMTP_STARTTLS (upgrade a plain connection, port 587) or SMTP_TLS (TLS from the start, port 465),
SMTP_USERNAME and SMTP_PASSWORD (authentication when both are set), SMTP_VALIDATE_CERTS, MAIL_FROM; SMTP_CONNECTIONS
connections at most, each carrying many emails.
"""

import asyncio
import contextlib
from email.message import EmailMessage

import aiosmtplib

from services.notifications.settings import NotificationsSettings


class Mailer:
    """Up to SMTP_CONNECTIONS connections to the relay, each kept open and carrying one email after another: a
    connection per email (connect, EHLO, STARTTLS, AUTH, QUIT) cost more than the email (bench/bench_cohort.py).

    A connection that failed in any way is closed, and the next email opens a new one; one the relay closed while idle
    is noticed before it is used."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._idle: list[aiosmtplib.SMTP] = []
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

    async def send(self, message: EmailMessage) -> None:
        async with self._slots:
            connection = None
            while self._idle and connection is None:
                candidate = self._idle.pop()
                if candidate.is_connected:
                    connection = candidate
            connection = connection or self._connection()
            try:
                # aiosmtplib bounds each command by the timeout; this bounds the whole exchange, which a claim's lease
                # outlasts.
                async with asyncio.timeout(2 * self._settings.smtp_timeout_seconds):
                    if not connection.is_connected:
                        await connection.connect()
                    await connection.send_message(message)
            except BaseException:
                connection.close()
                raise
            self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
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
