"""Sends email over SMTP with aiosmtplib; STARTTLS and authentication come from the settings for a real relay."""

from email.message import EmailMessage

import aiosmtplib

from services.notifications.settings import NotificationsSettings


class Mailer:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        settings = self._settings
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )
