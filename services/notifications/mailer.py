"""Sends email over SMTP with aiosmtplib, and tells a failure worth retrying from one that no retry will fix.

For a real relay: SMTP_STARTTLS (upgrade a plain connection, port 587) or SMTP_TLS (TLS from the start, port 465),
SMTP_USERNAME and SMTP_PASSWORD (authentication when both are set), SMTP_VALIDATE_CERTS, MAIL_FROM.
"""

import asyncio
from email.message import EmailMessage

import aiosmtplib

from services.notifications.settings import NotificationsSettings


class Mailer:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self._settings
        credentials = (
            {"username": settings.smtp_username, "password": settings.smtp_password}
            if settings.smtp_username and settings.smtp_password
            else {}
        )
        # aiosmtplib bounds each command by the timeout; this bounds the whole exchange, which a claim's lease outlasts.
        async with asyncio.timeout(2 * settings.smtp_timeout_seconds):
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                validate_certs=settings.smtp_validate_certs,
                timeout=settings.smtp_timeout_seconds,
                **credentials,
            )


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
