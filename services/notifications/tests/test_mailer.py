"""The mailer against the development sink (deploy/smtp_mailbox.py, in process) over real connections: with PIPELINING
an email takes two round trips, with CHUNKING too one, and arrives as sent; refusals keep their meaning; a relay without
PIPELINING gets one command at a time. A hop between the two counts the mailer's writes, each of which waits for the
relay's reply."""

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtpd.smtp import SMTP

from deploy.smtp_mailbox import MaildirHandler, Sink
from services.notifications.domain import Email, Message, to_message
from services.notifications.mailer import Mailer, RelayConnection, _crlf, is_permanent
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import describe
from tests.tcp_hop import Hop

SENDER = "Saarland University <no-reply@uni-saarland.example>"
GONE = "gone@example.eu"  # the relay refuses this recipient


@contextlib.asynccontextmanager
async def relay(
    maildir: Path, session: type[SMTP] = Sink, pipelining: bool = True, chunking: bool = True
) -> AsyncIterator[Hop]:
    handler = MaildirHandler(maildir, frozenset({GONE}), pipelining, chunking)
    server = await asyncio.get_running_loop().create_server(
        lambda: session(handler, hostname="mc-smtp", enable_SMTPUTF8=True), "127.0.0.1", 0
    )
    try:
        async with Hop(server.sockets[0].getsockname()[1]) as hop:
            yield hop
    finally:
        server.close()
        await server.wait_closed()
        handler.close()


def stored(maildir: Path) -> dict[str, bytes]:
    """Each stored message's bytes as sent (with Unix line ends) by its envelope recipient."""
    messages = {}
    for file in (maildir / "new").iterdir():
        envelope_from, envelope_to, data = file.read_bytes().split(b"\n", 2)
        assert envelope_from.startswith(b"X-Envelope-From: ") and envelope_to.startswith(b"X-Envelope-To: ")
        messages[envelope_to.removeprefix(b"X-Envelope-To: ").decode()] = data
    return messages


def emails() -> list[Message]:
    dotted = (b"Subject: Dots\r\nMessage-ID: <dots@uni-saarland.example>\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n"
              b"bare line feed\nlast line without its end")
    issued = Email("ada@example.eu", "Ihr Microcredential ist ausgestellt", "Glückwunsch", "<p>Glückwunsch</p>",
                   "credential_issued", "de")
    return [
        Message("no-reply@uni-saarland.example", "dots@example.eu", "<dots@uni-saarland.example>", dotted),
        to_message(issued, SENDER, "<issued@uni-saarland.example>"),
        to_message(Email("jürgen@example.eu", "Willkommen", "Hallo", "<p>Hallo</p>", "enrolled", "de"), SENDER,
                   "<utf8@uni-saarland.example>"),
    ]


def mailer(hop: Hop) -> Mailer:
    return Mailer(NotificationsSettings(smtp_host="127.0.0.1", smtp_port=hop.port, smtp_connections=1,
                                        smtp_timeout_seconds=5))


async def send_each(hop: Hop, sent: list[Message]) -> int:
    """Send the messages one after another through one mailer; the writes it made before its QUIT."""
    sender = mailer(hop)
    for message in sent:
        await sender.send(message)
    writes = hop.writes
    await sender.close()
    return writes


def as_stored(message: Message) -> bytes:
    """What the sink keeps of a message sent as is: SMTP's CRLF line ends, Unix ones in the Maildir."""
    data = message.data.replace(b"\r\n", b"\n")
    return data if data.endswith(b"\n") else data + b"\n"


@pytest.mark.parametrize(
    ("session", "chunking", "writes_per_email"),
    [(Sink, True, 1), (Sink, False, 2), (SMTP, True, 2)],
    ids=["sink with CHUNKING", "sink without CHUNKING", "aiosmtpd, no CHUNKING"],
)
async def test_emails_through_a_pipelining_relay_take_one_round_trip_with_chunking_two_without_and_arrive_as_sent(
    tmp_path, session, chunking, writes_per_email
) -> None:
    """With CHUNKING: MAIL, RCPT and BDAT with the message, in one write. Without: MAIL, RCPT and DATA, then the
    message after DATA's 354. aiosmtpd's own session answers a group with one write per reply, the sink's with one
    write for them all: the mailer reads the replies whichever way they come."""
    sent = emails()
    async with relay(tmp_path / "mail", session, chunking=chunking) as hop:
        writes = await send_each(hop, sent)

    assert hop.connections == 1, "one connection kept for all three"
    assert writes == 1 + writes_per_email * len(sent), "EHLO, then each email's writes"
    received = stored(tmp_path / "mail")
    assert set(received) == {message.recipient for message in sent}
    for message in sent:
        assert received[message.recipient] == as_stored(message), "leading dots as sent, nothing else changed"


async def refused_then_kept(
    hop: Hop, ada: Message
) -> tuple[aiosmtplib.SMTPRecipientsRefused, tuple[dict, str], tuple[dict, str]]:
    """`ada`'s message to GONE sent by the mailer (its refusal returned); then, on one connection, the same again, `ada`
    (the reply returned), and her message to GONE and bob@example.eu (the refusals and reply returned)."""
    gone = Message(ada.sender, GONE, "<gone@uni-saarland.example>", ada.data)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await mailer(hop).send(gone)
    connection = RelayConnection(hostname="127.0.0.1", port=hop.port, start_tls=False, timeout=5)
    await connection.connect()
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await connection.sendmail(gone.sender, [gone.recipient], gone.data)
    kept = await connection.sendmail(ada.sender, [ada.recipient], ada.data)
    some_refused = await connection.sendmail(ada.sender, [gone.recipient, "bob@example.eu"], ada.data)
    await connection.quit()
    return refused.value, kept, some_refused


@pytest.mark.parametrize("chunking", [True, False], ids=["BDAT", "DATA"])
async def test_a_refused_recipient_is_a_permanent_failure_and_the_connection_carries_the_next_email(
    tmp_path, chunking
) -> None:
    """With BDAT the refused transaction's message has gone with its commands: the relay reads it and refuses it, and
    the connection goes on at the next command."""
    async with relay(tmp_path / "mail", chunking=chunking) as hop:
        refused, kept, some_refused = await refused_then_kept(hop, emails()[1])

    assert is_permanent(refused)
    assert describe(refused) == "550 5.1.1 Mailbox unavailable", "the recipient's refusal, not DATA's after it"
    assert kept == ({}, "Message accepted for delivery")
    assert some_refused[0] == {"gone@example.eu": (550, "5.1.1 Mailbox unavailable")}
    assert set(stored(tmp_path / "mail")) == {"ada@example.eu", "bob@example.eu"}


@pytest.mark.parametrize("session", [Sink, SMTP], ids=["sink", "aiosmtpd"])
async def test_a_relay_without_pipelining_gets_the_emails_one_command_at_a_time(tmp_path, session) -> None:
    sent = emails()
    async with relay(tmp_path / "mail", session, pipelining=False) as hop:
        writes = await send_each(hop, sent)

    assert writes == 1 + 4 * len(sent), "EHLO, then MAIL, RCPT, DATA and the message, each after the reply before"
    received = stored(tmp_path / "mail")
    for message in sent:
        assert received[message.recipient] == as_stored(message)



async def test_an_address_with_a_line_break_adds_no_command_to_the_group(tmp_path) -> None:
    """As in aiosmtplib's own exchange, the address is parsed (and one with a control character left refused) before
    the group is written: what follows a line break is never a command of its own."""
    ada = emails()[1]
    async with relay(tmp_path / "mail") as hop:
        connection = RelayConnection(hostname="127.0.0.1", port=hop.port, start_tls=False, timeout=5)
        await connection.connect()
        refusals, _ = await connection.sendmail(ada.sender, ["ada@example.eu>\r\nRCPT TO:<eve@example.org"], ada.data)
        with pytest.raises(ValueError):
            await connection.sendmail(ada.sender, ['"ada\x00"@example.eu'], ada.data)
        await connection.quit()

    assert refusals == {}
    assert set(stored(tmp_path / "mail")) == {"ada@example.eu"}, "nothing for eve@example.org"


def test_line_ends_are_made_crlf_as_aiosmtplib_makes_them_whatever_the_message():
    for length in range(7):
        for parts in itertools.product([b"a", b"\r", b"\n"], repeat=length):
            message = b"".join(parts)
            assert _crlf(message) == normalize_message_line_endings(message), message
    email = to_message(Email("ana@example.eu", "Issued", "one\ntwo\r\n", "<p>one</p>", "credential_issued"),
                       "no-reply@example.eu", "<1@example.eu>")
    assert _crlf(email.data) is email.data, "to_message's lines end in CRLF already: nothing rewritten"
