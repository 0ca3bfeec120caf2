"""The development SMTP sink (deploy/smtp_mailbox.py): every accepted message is one Maildir file that Python's
mailbox reads back, with the envelope in X-Envelope-From/To; a rejected recipient gets 550; the Maildir may be removed
while it runs. Its cheaper session (Sink) stores and answers what aiosmtpd's own does: each test runs with both."""

import asyncio
import errno
import mailbox
import os
import shutil
import smtplib
import threading
from collections.abc import AsyncIterator
from email import message_from_binary_file, policy
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from deploy import smtp_mailbox
from deploy.smtp_mailbox import MaildirHandler, Sink

MESSAGE = (
    "From: Micro-credentials <no-reply@uni.example>\r\nTo: ada@example.org\r\n"
    "Subject: =?utf-8?q?Zertifikat_f=C3=BCr_Ada?=\r\nMessage-ID: <m1@uni.example>\r\n\r\nHello Ada,\r\n.leading dot\r\n"
)


@pytest.fixture(params=[Sink, SMTP], ids=["sink", "aiosmtpd"])
async def sink(tmp_path: Path, request) -> AsyncIterator[tuple[int, Path, MaildirHandler]]:
    maildir = tmp_path / "mail"
    handler = MaildirHandler(maildir, frozenset({"Gone@Example.org"}))
    session = request.param
    server = await asyncio.get_running_loop().create_server(lambda: session(handler, hostname="mc-smtp"), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], maildir, handler
    server.close()
    await server.wait_closed()
    handler.close()


def read(maildir: Path) -> list:
    box = mailbox.Maildir(maildir, factory=lambda f: message_from_binary_file(f, policy=policy.default), create=False)
    return list(box)


async def replies(reader: asyncio.StreamReader, count: int) -> list[str]:
    """The codes of the next `count` replies (a reply of several lines counts once)."""
    lines = []
    while len(lines) < count:
        line = (await asyncio.wait_for(reader.readline(), 5)).decode()
        if line[3:4] != "-":  # The last line of a reply.
            lines.append(line[:3])
    return lines


def send(port: int, recipients: list[str], message: str = MESSAGE) -> dict:
    with smtplib.SMTP("127.0.0.1", port) as client:
        return client.sendmail("no-reply@uni.example", recipients, message.encode())


async def test_each_message_is_one_maildir_file_with_its_envelope(sink) -> None:
    port, maildir, handler = sink

    await asyncio.to_thread(send, port, ["ada@example.org", "bcc@example.org"])
    await asyncio.to_thread(send, port, ["ada@example.org"])

    messages = read(maildir)
    assert len(messages) == 2 and handler.stored == 2
    both = next(m for m in messages if "bcc" in m["X-Envelope-To"])
    assert (both["X-Envelope-From"], both["X-Envelope-To"]) == ("no-reply@uni.example", "ada@example.org, bcc@example.org")
    assert both["Subject"] == "Zertifikat für Ada" and both["Message-ID"] == "<m1@uni.example>"
    assert both.get_content() == "Hello Ada,\n.leading dot\n", "dot-stuffing undone, Unix line endings"
    assert not any((maildir / "tmp").iterdir()), "nothing left half-written"


async def test_a_closed_sink_has_stored_what_it_accepted_stopped_its_writers_and_said_so(sink, capsys) -> None:
    port, maildir, handler = sink
    await asyncio.to_thread(send, port, ["ada@example.org"])

    handler.close()

    assert len(read(maildir)) == 1
    assert not [thread.name for thread in threading.enumerate() if thread.name.startswith("maildir")]
    assert "stored 1 messages (1 since start)" in capsys.readouterr().out


async def test_a_rejected_recipient_gets_550_and_the_others_their_message(sink) -> None:
    port, maildir, _ = sink

    refused = await asyncio.to_thread(send, port, ["gone@example.org", "ada@example.org"])

    assert refused == {"gone@example.org": (550, b"5.1.1 Mailbox unavailable")}
    assert [m["X-Envelope-To"] for m in read(maildir)] == ["ada@example.org"]


async def test_a_maildir_removed_while_the_sink_runs_is_made_again(sink) -> None:
    port, maildir, _ = sink
    await asyncio.to_thread(send, port, ["ada@example.org"])

    shutil.rmtree(maildir)
    await asyncio.to_thread(send, port, ["ada@example.org"])

    assert len(read(maildir)) == 1


async def test_long_messages_dotted_lines_and_empty_bodies_arrive_as_sent(sink) -> None:
    port, maildir, _ = sink
    # Far more than the session's reader holds at once (two lines' worth): it arrives in many chunks.
    long_body = "".join(f".line {number} " + "x" * 900 + "\r\n" for number in range(300))

    await asyncio.to_thread(send, port, ["long@example.org"], MESSAGE.split("\r\n\r\n")[0] + "\r\n\r\n" + long_body)
    await asyncio.to_thread(send, port, ["dots@example.org"], ".\r\n..\r\n")
    await asyncio.to_thread(send, port, ["empty@example.org"], "")

    stored = {m["X-Envelope-To"]: m for m in read(maildir)}
    assert stored["long@example.org"].get_content() == long_body.replace("\r\n", "\n")
    with open(maildir / "new" / next(k for k, m in mailbox.Maildir(maildir, create=False).items()
                                     if m["X-Envelope-To"] == "dots@example.org"), "rb") as file:
        assert file.read().endswith(b"dots@example.org\n.\n..\n"), "each leading dot undoubled once"
    assert "empty@example.org" in stored


async def test_a_line_too_long_is_refused_and_the_connection_goes_on(sink) -> None:
    port, maildir, _ = sink

    def refused_then_sent() -> tuple[int, dict]:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo()
            client.mail("no-reply@uni.example")
            client.rcpt("ada@example.org")
            code, _ = client.data(b"Subject: long\r\n\r\n" + b"y" * 1200 + b"\r\n")
            return code, client.sendmail("no-reply@uni.example", ["ada@example.org"], MESSAGE.encode())

    code, refusals = await asyncio.to_thread(refused_then_sent)

    assert code == 500 and refusals == {}
    assert [m["Subject"] for m in read(maildir)] == ["Zertifikat für Ada"]


async def test_pipelining_is_offered_and_a_pipelined_group_is_answered_in_order(sink) -> None:
    """RFC 2920: MAIL, RCPT and DATA written at once get their replies in order; DATA after a refused recipient (and no
    other) is refused; the command after a message's end, sent with it, is answered after the message's 250."""
    port, maildir, _ = sink
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    await replies(reader, 1)
    writer.write(b"EHLO client.example\r\n")
    ehlo = await asyncio.wait_for(reader.readuntil(b"250 HELP\r\n"), 5)
    writer.write(b"MAIL FROM:<no-reply@uni.example>\r\nRCPT TO:<gone@example.org>\r\nRCPT TO:<ada@example.org>\r\nDATA\r\n")
    accepted = await replies(reader, 4)
    writer.write(b"Subject: piped\r\n\r\n..dotted\r\n.\r\n"
                 b"MAIL FROM:<no-reply@uni.example>\r\nRCPT TO:<gone@example.org>\r\nDATA\r\nQUIT\r\n")
    refused = await replies(reader, 5)
    writer.close()

    assert b"250-PIPELINING\r\n" in ehlo
    assert accepted == ["250", "550", "250", "354"]
    assert refused == ["250", "250", "550", "503", "221"], "the message kept; DATA refused without a recipient"
    [message] = read(maildir)
    assert message["X-Envelope-To"] == "ada@example.org" and message.get_content() == ".dotted\n"


async def test_pipelining_is_not_offered_when_told_not_to(tmp_path: Path) -> None:
    handler = MaildirHandler(tmp_path / "mail", pipelining=False)
    server = await asyncio.get_running_loop().create_server(lambda: Sink(handler, hostname="mc-smtp"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    def offered() -> bool:
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.ehlo()
            return client.has_extn("pipelining")

    try:
        assert not await asyncio.to_thread(offered)
    finally:
        server.close()
        await server.wait_closed()
        handler.close()


async def test_chunking_is_offered_and_bdat_chunks_make_one_message_as_sent(tmp_path: Path) -> None:
    """RFC 3030 with PIPELINING: chunks are taken as they are (a leading dot stays single, no end line); a chunk behind
    a transaction without recipients is read and refused, not taken for commands; DATA after BDAT is refused."""
    handler = MaildirHandler(tmp_path / "mail", frozenset({"gone@example.org"}))
    server = await asyncio.get_running_loop().create_server(lambda: Sink(handler, hostname="mc-smtp"), "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])

    first, last = b"Subject: chunked\r\n\r\n.leading", b" dot\r\nQUIT\r\n"
    try:
        await replies(reader, 1)
        writer.write(b"EHLO client.example\r\n")
        ehlo = await asyncio.wait_for(reader.readuntil(b"250 HELP\r\n"), 5)
        writer.write(b"MAIL FROM:<no-reply@uni.example>\r\nRCPT TO:<ada@example.org>\r\n"
                     + b"BDAT %d\r\n" % len(first) + first + b"BDAT %d LAST\r\n" % len(last) + last)
        accepted = await replies(reader, 4)
        writer.write(b"MAIL FROM:<no-reply@uni.example>\r\nRCPT TO:<gone@example.org>\r\nBDAT 6 LAST\r\nRSET\r\n"
                     b"MAIL FROM:<no-reply@uni.example>\r\nRCPT TO:<bob@example.org>\r\nBDAT 4\r\nHi\r\nDATA\r\nQUIT\r\n")
        refused = await replies(reader, 8)
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
        handler.close()

    assert b"250-CHUNKING\r\n" in ehlo
    assert accepted == ["250", "250", "250", "250"]
    assert refused == ["250", "550", "503", "250", "250", "250", "503", "221"], "RSET read as the chunk, then DATA refused"
    [message] = read(tmp_path / "mail")
    assert message["X-Envelope-To"] == "ada@example.org" and message["Subject"] == "chunked"
    assert message.get_content() == ".leading dot\nQUIT\n", "the chunk's QUIT is the message's, not a command"


@pytest.mark.parametrize("argument", [
    "<ana@example.eu>", " <ana@example.eu>", "<ana@example.eu> SIZE=100", "<ana@example.eu>\tSIZE=1 BODY=8BITMIME",
    "<a.b-c+d@x-y.example.eu> SMTPUTF8", "<ana@example.eu> (a comment) SIZE=1", "<ana@example.eu>(x)", "<a..b@c>",
    '<"quoted local"@example.eu>', "<ana@[192.0.2.1]>", "<ana@example.eu>>", "<ana@example.eu>x", "<ané@example.eu>",
    "ana@example.eu", "<ana@>", "<>",
])
def test_an_address_is_read_from_mail_and_rcpt_as_the_email_packages_parser_reads_it(argument: str, tmp_path: Path) -> None:
    try:
        parsed, rest = (get_angle_addr if argument.lstrip().startswith("<") else get_addr_spec)(argument)
        expected = (parsed.addr_spec, rest)
    except HeaderParseError:
        expected = (None, None)
    assert Sink(MaildirHandler(tmp_path))._getaddr(argument) == expected


async def test_messages_of_many_connections_at_once_are_each_stored_once_and_a_failed_write_refuses_them_all(
    sink,
) -> None:
    port, maildir, handler = sink
    senders = [asyncio.to_thread(send, port, [f"learner-{n}@example.org"]) for n in range(12)]
    await asyncio.gather(*senders)
    assert sorted(m["X-Envelope-To"] for m in read(maildir)) == sorted(f"learner-{n}@example.org" for n in range(12))
    assert not any((maildir / "tmp").iterdir()) and handler.stored == 12

    shutil.rmtree(maildir)
    maildir.write_text("not a folder")  # Nothing can be written now: every message of the group is refused.
    refused = await asyncio.gather(
        *(asyncio.to_thread(send, port, [f"late-{n}@example.org"]) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(error, smtplib.SMTPDataError) and error.smtp_code == 451 for error in refused), refused
    maildir.unlink()
    await asyncio.to_thread(send, port, ["ada@example.org"])  # The sink goes on once the disk takes messages again.
    assert [m["X-Envelope-To"] for m in read(maildir)] == ["ada@example.org"] and handler.stored == 13


async def test_a_group_the_disk_could_not_sync_is_refused_and_none_of_it_stays_in_the_maildir(
    sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, maildir, handler = sink

    def disk_fails(descriptors: list[int]) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    # A disk that fails to sync cannot be made here on purpose: the sync is what fails.
    monkeypatch.setattr(smtp_mailbox, "sync", disk_fails)
    refused = await asyncio.gather(
        *(asyncio.to_thread(send, port, [f"learner-{n}@example.org"]) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(error, smtplib.SMTPDataError) and error.smtp_code == 451 for error in refused), refused
    assert read(maildir) == [] and handler.stored == 0  # Sent again by the client later, so stored only then.

    monkeypatch.undo()
    await asyncio.to_thread(send, port, ["ada@example.org"])
    assert [m["X-Envelope-To"] for m in read(maildir)] == ["ada@example.org"] and handler.stored == 1
