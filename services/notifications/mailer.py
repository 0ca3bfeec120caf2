"""Sends email over SMTP with aiosmtplib, and tells a failure worth retrying from one that no retry will fix.

With a relay that offers PIPELINING (RFC 2920), an email's MAIL FROM, RCPT TO and DATA go in one write and their three
replies are read together, then the message: 2 round trips per email instead of aiosmtplib's 4 (a command, then its
reply, each time). Over a WAN to a university's relay 30 ms away that is 60 ms of waiting per email instead of 120 ms,
so each kept connection carries about twice the emails per second (less where the relay takes long to queue the
message before its last 250); on the node's own loopback it halves the writes and reads per email, which were a fifth
of the notifications service's CPU in a cohort (bench/bench_cohort.py, py-spy). A relay without PIPELINING gets
aiosmtplib's own exchange, one command at a time.

With a relay that also offers CHUNKING (RFC 3030: Postfix, Exchange, the development sink), the message goes as one
`BDAT <size> LAST` chunk in the same write as MAIL FROM and RCPT TO, as it is (no dots doubled, no end line): one round
trip per email, and one write instead of two, the largest single item of the service's CPU in a cohort
(bench/bench_cohort.py --profile).

For a real relay: SMTP_STARTTLS (upgrade a plain connection, port 587) or SMTP_TLS (TLS from the start, port 465),
SMTP_USERNAME and SMTP_PASSWORD (authentication when both are set), SMTP_VALIDATE_CERTS, MAIL_FROM; SMTP_CONNECTIONS
connections at most, each carrying many emails.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

import aiosmtplib
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import (
    COMMAND_INJECTION_REGEX,
    MAX_RESPONSE_LENGTH,
    PERIOD_REGEX,
    SMTPProtocol,
    normalize_message_line_endings,
)
from aiosmtplib.response import SMTPResponse
from aiosmtplib.typing import Default, SMTPStatus

from services.notifications.domain import PLAIN_ADDRESS, Message
from services.notifications.settings import NotificationsSettings


class NoTimeLeft(Exception):
    """The email was not sent: it could not be done with before its deadline."""


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, which can also write a group of commands at once and read all their replies, in order.

    aiosmtplib's own expects one reply per command written: it parses one reply per arrival of data and drops data that
    arrives while a parsed reply waits to be picked up, so the replies of a group written at once would be lost or wait
    for data that never comes. While a group is out, this one collects every reply of it; otherwise it is aiosmtplib's.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, connection_lost_callback: Callable[[SMTPProtocol], None]) -> None:
        super().__init__(loop=loop, connection_lost_callback=connection_lost_callback)
        self._group: asyncio.Future[list[SMTPResponse]] | None = None
        self._group_replies: list[SMTPResponse] = []
        self._group_size = 0

    @classmethod
    def replacing(cls, protocol: SMTPProtocol) -> "PipeliningProtocol":
        """One of these in place of `protocol` on its connection, between two commands: aiosmtplib makes its protocol
        itself and takes no other, so the connection is handed over once it is made."""
        transport = protocol.transport
        if transport is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        successor = cls(protocol._loop, protocol._connection_lost_callback)
        transport.set_protocol(successor)
        successor.connection_made(transport)
        successor._response_pending = False  # The greeting was read long ago: nothing is awaited now.
        return successor

    async def execute_group(
        self, commands: Sequence[Sequence[bytes]], timeout: float | None, chunk: bytes = b""
    ) -> list[SMTPResponse]:
        """Write the commands (each its words) in one go, followed by `chunk` (the data of a last BDAT command), and
        return their replies, one per command."""
        for words in commands:
            if any(COMMAND_INJECTION_REGEX.search(word) for word in words):
                raise ValueError("Command arg contains a prohibited control character")
        if self._command_lock is None:
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        async with self._command_lock:
            self._group = group = self._loop.create_future()
            self._group_replies, self._group_size = [], len(commands)
            try:
                self.write(b"".join(b" ".join(words) + b"\r\n" for words in commands) + chunk)
                return await asyncio.wait_for(group, timeout)
            except TimeoutError as error:
                raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from error
            finally:
                self._group = None
                del self._buffer[:]  # Whatever followed the group's last reply was not asked for.

    async def execute_content(self, content: bytes, timeout: float | None) -> SMTPResponse:
        """Write a message's content as DATA's 354 asked for it (already dot-stuffed and ended) and return the reply."""
        if self._command_lock is None:
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        async with self._command_lock:
            self._response_pending = True
            self.write(content)
            return await self.read_response(timeout=timeout)

    def data_received(self, data: bytes) -> None:
        group = self._group
        if group is None or group.done():
            super().data_received(data)
            return
        self._buffer.extend(data)
        try:
            while len(self._group_replies) < self._group_size:
                reply = self._read_response_from_buffer()
                if reply is None:
                    break
                self._group_replies.append(reply)
        except Exception as error:
            self._set_response_exception(group, error)
            return
        if len(self._group_replies) == self._group_size:
            group.set_result(self._group_replies)
        elif len(self._buffer) > MAX_RESPONSE_LENGTH:
            self._set_response_exception(
                group, aiosmtplib.SMTPResponseException(SMTPStatus.invalid_response, "Response too long")
            )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._group is not None and not self._group.done():
            lost = aiosmtplib.SMTPServerDisconnected("Connection lost")
            lost.__cause__ = exc
            self._set_response_exception(self._group, lost)
        super().connection_lost(exc)

    def eof_received(self) -> bool:
        if self._group is not None and not self._group.done():
            self._set_response_exception(self._group, aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return super().eof_received()


class RelayConnection(aiosmtplib.SMTP):
    """aiosmtplib's SMTP client (connect, EHLO, STARTTLS, AUTH, timeouts, errors), whose `sendmail` pipelines an email's
    commands when the relay offers PIPELINING, with aiosmtplib's outcomes: SMTPSenderRefused, SMTPRecipientsRefused
    when every recipient is refused (the relay then refuses DATA too), SMTPDataError, the refused recipients returned
    otherwise; RSET after a refusal, so that the connection carries the next email."""

    async def connect(self, **options) -> SMTPResponse:
        response = await super().connect(**options)
        assert self.protocol is not None
        self.protocol = PipeliningProtocol.replacing(self.protocol)
        return response

    async def sendmail(
        self,
        sender: str,
        recipients: str | Sequence[str],
        message: str | bytes,
        /,
        *,
        mail_options: Iterable[str] | None = None,
        rcpt_options: Iterable[str] | None = None,
        timeout: float | Literal[Default.token] | None = Default.token,
    ) -> tuple[dict[str, SMTPResponse], str]:
        if self._sendmail_lock is None:
            self._sendmail_lock = asyncio.Lock()
        async with self._sendmail_lock:
            await self._ehlo_or_helo_if_needed()
            if self.supports_extension("pipelining") and isinstance(self.protocol, PipeliningProtocol):
                return await self._send_pipelined(
                    sender, [recipients] if isinstance(recipients, str) else list(recipients), message,
                    list(mail_options or ()), list(rcpt_options or ()), self.timeout if timeout is Default.token else timeout,
                )
        return await super().sendmail(
            sender, recipients, message, mail_options=mail_options, rcpt_options=rcpt_options, timeout=timeout
        )

    async def _send_pipelined(
        self, sender: str, recipients: list[str], message: str | bytes, mail_options: list[str], rcpt_options: list[str],
        timeout: float | None,
    ) -> tuple[dict[str, SMTPResponse], str]:
        utf8 = any(option.lower() == "smtputf8" for option in mail_options)
        if utf8 and not self.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
        encoding = "utf-8" if utf8 else "ascii"
        # CRLF line ends; the message's octets, as SIZE (RFC 1870) and BDAT count them.
        lines = _crlf(message.encode("ascii") if isinstance(message, str) else message)
        if self.supports_extension("size"):
            mail_options.insert(0, f"size={len(lines)}")
        chunked = self.supports_extension("chunking")
        rcpt_words = [option.encode("ascii") for option in rcpt_options]
        # quote_address refuses an address that would break the command line (CR, LF, ...), before anything is sent.
        commands = [
            (b"MAIL", b"FROM:" + _quoted(sender).encode(encoding), *(o.encode("ascii") for o in mail_options)),
            *((b"RCPT", b"TO:" + _quoted(recipient).encode(encoding), *rcpt_words) for recipient in recipients),
            (b"BDAT", str(len(lines)).encode(), b"LAST") if chunked else (b"DATA",),
        ]
        try:
            with self._closed_when_lost():
                replies = await self._protocol().execute_group(commands, timeout, lines if chunked else b"")
            if any(reply.code == SMTPStatus.domain_unavailable for reply in replies):
                self.close()  # The relay is closing the connection (421), as aiosmtplib sees it for a command.
            mail_reply, *rcpt_replies, reply = replies
            refused = [
                aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, recipient)
                for recipient, answer in zip(recipients, rcpt_replies, strict=True)
                if answer.code not in (SMTPStatus.completed, SMTPStatus.will_forward)
            ]
            nobody = mail_reply.code != SMTPStatus.completed or len(refused) == len(recipients)
            if nobody and not chunked and reply.code == SMTPStatus.start_input:
                # A relay that asks for the content of a transaction it refused: ended at once, nothing sent.
                with self._closed_when_lost():
                    await self._protocol().execute_content(b".\r\n", timeout)
            if mail_reply.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPSenderRefused(mail_reply.code, mail_reply.message, sender)
            if len(refused) == len(recipients):
                raise aiosmtplib.SMTPRecipientsRefused(refused)
            if not chunked:  # DATA's 354, then the message as it goes after DATA (RFC 5321 4.5.2).
                if reply.code != SMTPStatus.start_input:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.message)
                with self._closed_when_lost():
                    reply = await self._protocol().execute_content(PERIOD_REGEX.sub(b"..", lines) + b".\r\n", timeout)
            if reply.code != SMTPStatus.completed:
                raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
                await self.rset(timeout=timeout)
            raise
        return {refusal.recipient: SMTPResponse(refusal.code, refusal.message) for refusal in refused}, reply.message

    @contextlib.contextmanager
    def _closed_when_lost(self) -> Iterator[None]:
        """The connection closed when its replies can no longer be paired with its commands (lost, late, unreadable), as
        aiosmtplib closes it for a command."""
        try:
            yield
        except aiosmtplib.SMTPException:
            self.close()
            raise

    def _protocol(self) -> PipeliningProtocol:
        if not isinstance(self.protocol, PipeliningProtocol):
            raise aiosmtplib.SMTPServerDisconnected("Server not connected")
        return self.protocol


def _crlf(message: bytes) -> bytes:
    """The message with CRLF line ends, the last line ended too. Those to_message makes are so already: counted in C,
    not rewritten by aiosmtplib's regular expression (2 % of notifications' CPU in a cohort)."""
    if message.endswith(b"\r\n") and message.count(b"\n") == message.count(b"\r") == message.count(b"\r\n"):
        return message
    return normalize_message_line_endings(message)


def _quoted(address: str) -> str:
    """The address as MAIL FROM and RCPT TO take it: a plain one (as to_message makes the envelope's) as it is, any
    other parsed and checked by aiosmtplib (parsing both of every email was a tenth of its sending's CPU)."""
    return f"<{address}>" if PLAIN_ADDRESS.fullmatch(address) else quote_address(address)


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
        self._idle: list[tuple[RelayConnection, float]] = []  # each with when it was last used
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    def _connection(self) -> RelayConnection:
        settings = self._settings
        credentials = (
            {"username": settings.smtp_username, "password": settings.smtp_password}
            if settings.smtp_username and settings.smtp_password
            else {}
        )
        return RelayConnection(
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

    async def _open_connection(self) -> RelayConnection | None:
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
