"""Local SMTP sink: every message it receives becomes one file in a Maildir.

Stands in for a real mail server in development and tests: services send with
plain SMTP (no auth, no TLS), and tests read the delivered files back with
Python's mailbox.Maildir. The SMTP envelope is kept in X-Envelope-From and
X-Envelope-To headers, because Bcc recipients appear nowhere else.

Like a real mail server's queue, a message is synced to disk before the sink answers 250. The messages of several
connections are written and synced together, in groups (a group commit): those that arrive while groups are being
synced make the next, and up to WRITERS groups may be on their way to the disk at once. Synced one after another in
the event loop, every connection waited for every other's `fsync`, and the sink took ~240 messages/s whether 1, 4 or
16 connections sent; synced each in a thread of its own, the threads' `fsync`s on a disk cost the sink ~1.8-2.4 ms of
CPU per email (bench/bench_mail.py with its Maildir on disk). A group's files are written and moved into new/, then
synced together with one syncfs(2) (`sync`), which also makes their names in new/ durable; a group whose sync fails is
taken back out of new/ and refused (451).
It logs one line per second in which messages arrived (how many, and the last one's envelope), not one per message: a
cohort's thousands of emails made the log, and parsing each message for its subject, a visible share of the sink's CPU
(bench/bench_cohort.py).

aiosmtpd reads a message line by line, in Python (`smtp_DATA`), and defines a class each time it parses an address
(`_getaddr`): half of the sink's CPU per email. `Sink` reads the message in the chunks the socket delivers and parses
addresses without the class, with the same replies; a plain `<local@domain>` it takes as it is, without the `email`
package's parser, which still cost half of its CPU per email (bench/bench_mail.py: 800-883 -> 400-483 µs).

It offers PIPELINING (RFC 2920): a client may send MAIL, RCPT and DATA at once and read their replies together. aiosmtpd
reads commands one line at a time from its buffer, so the replies come in order, and DATA after refused recipients is
refused (503); `Sink` writes the replies to the commands already received in one write, not one write each.
`--no-pipelining` offers it no more (a relay like many that does not).

`Sink` also offers CHUNKING (RFC 3030, as Postfix and Exchange do): BDAT gives the message's size first, so the message
goes as it is (no dots doubled, no end line) right behind MAIL and RCPT, and an email takes one write and one round
trip instead of two. A chunk is read whatever its reply, since the client sent it behind the command.
`--no-chunking` offers it no more.

`--reject ADDRESS` (repeatable) makes it refuse a recipient for good ("550 5.1.1 mailbox unavailable"), so tests can
see what a permanent failure does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import functools
import itertools
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from pathlib import Path
from typing import Any, AnyStr

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session

# How often the sink says what it stored.
REPORT_SECONDS = 1.0


# `<local@domain>` with a dot-atom local part and a plain domain, in ASCII: taken as it is, as the `email` package's
# parser would read it (a test compares them).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ANGLE_ADDRESS = re.compile(rf"[ \t]*<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")

# How many groups of messages may be being written and synced at once: a group waiting for the disk does not hold up
# the next one (one at a time, a disk's fsyncs cut the sink's rate by a third).
WRITERS = 4

# The end of a message's data (RFC 5321 4.1.1.4): a line with a lone dot, after the CRLF that ended the last line.
END_OF_DATA = b"\r\n.\r\n"


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """Linux's syncfs(2), which Python's os module lacks; None where the C library has none."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None


def fsync_each(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.fsync(descriptor)


def sync(descriptors: list[int]) -> None:
    """A group's files, and their names in new/, on disk: one syncfs(2) for the whole group where the system has it
    (it returns once everything written to that filesystem is on disk, and reports errors since Linux 5.8), else an
    fsync of each file. A file's own fsync cost this machine 144-1,506 µs of kernel CPU, one syncfs ~56-200 µs per
    file of a group of 20, and the sink's kernel time per cohort fell from 24-26 s to 4-7 s (bench/HISTORY.md,
    30 November)."""
    syncfs = _syncfs()
    if syncfs is None:
        fsync_each(descriptors)
    elif descriptors and syncfs(descriptors[0]) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


class Sink(SMTP):
    """aiosmtpd's SMTP session, cheaper per message: see the module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replies = bytearray()  # Replies not written yet: the client's next command is already here.
        # The BDAT chunks received for an envelope (RFC 3030), and whether they outgrew data_size_limit.
        self._chunks_of: Envelope | None = None
        self._chunks = bytearray()
        self._too_much = False

    async def push(self, status: AnyStr) -> None:
        """Write the reply, with those held back before it; or hold it back too while the client's next command is
        already received (RFC 2920 4: the replies to a pipelined group go out together), unless the client waits for
        it before going on (3xx) or the session ends after it (221, 421). A line of a reply that goes on is held too."""
        if isinstance(status, str):
            status = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii")
        self._replies += status + b"\r\n"
        # asyncio's StreamReader has no public way to tell what it holds; a complete line is a command read at once.
        if status[3:4] == b"-" or (
            status[:1] != b"3" and status[:3] not in (b"221", b"421") and b"\n" in self._reader._buffer
        ):
            return
        replies = bytes(self._replies)
        self._replies.clear()
        self._writer.write(replies)
        await self._writer.drain()

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if self._chunks_of is self.envelope:  # RFC 3030 2: a message is sent with BDAT or DATA, not both.
            await self.push("503 5.5.1 Error: DATA after BDAT")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        # The CRLF before the first line makes an empty message's lone dot an end like any other.
        received = bytearray(b"\r\n")
        searched, too_much = 0, False
        while (end := received.find(END_OF_DATA, searched)) < 0:
            searched = max(0, len(received) - len(END_OF_DATA) + 1)
            # All the reader holds (it holds at most a couple of lines' worth before it pauses the socket).
            chunk = await self._reader.read(1 << 30)
            if not chunk:  # The client went away mid-message.
                return
            received += chunk
            if self.data_size_limit and len(received) > self.data_size_limit + 2 * len(END_OF_DATA):
                del received[:searched]  # Not kept: the message is refused once its end has come.
                searched, too_much = 0, True
        if after := bytes(received[end + len(END_OF_DATA):]):
            # A pipelined command after the message (RFC 2920 allows QUIT or the next MAIL): it stays for later.
            self._reader.feed_data(after)
        if too_much:
            await self._end_transaction("552 Error: Too much mail data")
            return
        lines = bytes(received[2:end + 2]).split(b"\r\n")
        if max(map(len, lines)) + 2 > self.line_length_limit:
            await self._end_transaction("500 Line too long (see RFC5321 4.5.3.1.6)")
            return
        # A line's leading dot was doubled by the client (transparency, RFC 5321 4.5.2).
        await self._take(b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines))

    async def _take(self, content: bytes) -> None:
        """The message of this transaction, whole (after DATA or the last BDAT): stored by the handler, answered."""
        self.envelope.content = self.envelope.original_content = content
        await self._end_transaction(await self._call_handler_hook("DATA"))

    async def _end_transaction(self, status: str) -> None:
        self._set_post_data_state()
        await self.push(status)

    async def smtp_BDAT(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("BDAT"):
            return
        words = arg.split()
        if not (1 <= len(words) <= 2 and words[0].isdigit() and [w.upper() for w in words[1:]] in ([], ["LAST"])):
            await self.push("501 Syntax: BDAT <size> [LAST]")
            return
        size, last = int(words[0]), len(words) == 2
        if self._chunks_of is not self.envelope:  # The first chunk of this transaction.
            self._chunks_of, self._too_much = self.envelope, False
            self._chunks.clear()
        while size:  # Read in pieces: a chunk too big for the limit is read all the same, not kept.
            piece = await self._reader.readexactly(min(size, 1 << 16))  # IncompleteReadError: the client went away.
            size -= len(piece)
            if not self._too_much:
                self._chunks += piece
                self._too_much = bool(self.data_size_limit) and len(self._chunks) > self.data_size_limit
                if self._too_much:
                    self._chunks.clear()
        if not self.envelope.rcpt_tos:  # RFC 3030 2: the chunk is read, and refused like DATA would be.
            await self._end_transaction("503 5.5.1 Error: need RCPT command")
            return
        if not last:
            await self.push(f"250 2.0.0 {words[0]} octets received")
            return
        content, too_much = bytes(self._chunks), self._too_much
        self._chunks_of = None
        self._chunks.clear()
        if too_much:
            await self._end_transaction("552 Error: Too much mail data")
        else:
            await self._take(content)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """An address from MAIL or RCPT and what follows it, as aiosmtpd parses it (None, None: not an address)."""
        if not arg:
            return "", ""
        plain = PLAIN_ANGLE_ADDRESS.match(arg)
        if plain and not (rest := arg[plain.end():].lstrip(" \t")).startswith("("):  # A comment: the parser's.
            address = plain[1]
        else:
            try:
                parsed, rest = (get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec)(arg)
            except HeaderParseError:
                return None, None
            address = parsed.addr_spec
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest


class MaildirHandler:
    def __init__(
        self, maildir: Path, reject: frozenset[str] = frozenset(), pipelining: bool = True, chunking: bool = True
    ) -> None:
        self.maildir = maildir
        self.reject = frozenset(address.lower() for address in reject)
        self.pipelining = pipelining
        self.chunking = chunking  # Offered by Sink only: aiosmtpd's own session has no BDAT.
        # Maildir names (https://cr.yp.to/proto/maildir.html): time, a sequence number of this process, its pid and
        # the host, unique without asking the filesystem.
        self._host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
        self._sequence = itertools.count(1)
        self._folders()
        self.stored = 0
        self._reported = 0
        self._last = ""
        self._report_timer: asyncio.TimerHandle | None = None
        # The messages waiting for the next group, each with its connection's wait for its key; the threads that write
        # groups, and the tasks that hand groups to them while any message waits.
        self._waiting: list[tuple[bytes, asyncio.Future[str]]] = []
        self._writer = ThreadPoolExecutor(WRITERS, thread_name_prefix="maildir")
        self._writing: set[asyncio.Task[None]] = set()

    def _folders(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        # Paths as plain strings: pathlib's joins were ~5 % of the sink's CPU per message.
        self._tmp, self._new = f"{self.maildir}/tmp/", f"{self.maildir}/new/"

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves it to this hook (HELO/EHLO done).
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")  # Before the last line ("250 HELP"), which ends the reply.
        if self.chunking and isinstance(server, Sink):
            responses.insert(-1, "250-CHUNKING")
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipients = ", ".join(envelope.rcpt_tos)
        head = f"X-Envelope-From: {envelope.mail_from}\nX-Envelope-To: {recipients}\n".encode()
        body = envelope.original_content or b""
        # Stored with Unix line endings, like any other Maildir writer; in a group with the messages of other
        # connections (see the module's docstring).
        try:
            key = await self._stored(head + body.replace(b"\r\n", b"\n"))
        except OSError as error:  # Not the message's fault: the client should try again later, as with any MTA.
            print(f"could not store a message from={envelope.mail_from} to={recipients}: {error}", flush=True)
            return f"451 4.3.0 Requested action aborted: the message could not be stored ({error.strerror})"
        self.stored += 1
        self._last = f"last {key} from={envelope.mail_from} to={recipients}"
        if self._report_timer is None:
            self._report_timer = asyncio.get_running_loop().call_later(REPORT_SECONDS, self.report)
        return "250 Message accepted for delivery"

    async def _stored(self, data: bytes) -> str:
        """The message's key once it is in new/, synced, with the others of its group."""
        stored = asyncio.get_running_loop().create_future()
        self._waiting.append((data, stored))
        if len(self._writing) < WRITERS:
            writing = asyncio.create_task(self._write_groups())
            self._writing.add(writing)
            writing.add_done_callback(self._writing.discard)
        return await stored

    async def _write_groups(self) -> None:
        """While messages wait: take them all as a group, have a writer store them, and answer each connection."""
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                keys = await asyncio.get_running_loop().run_in_executor(
                    self._writer, self.store, [data for data, _ in group]
                )
            except Exception as error:  # Each message of the group fails with it (handle_DATA: 451 for an OSError).
                keys = [error] * len(group)
            for (_, stored), key in zip(group, keys):
                if not stored.done():  # Else the connection went away meanwhile.
                    (stored.set_exception if isinstance(key, Exception) else stored.set_result)(key)

    def store(self, messages: list[bytes]) -> list[str]:
        """Write the messages to tmp/, sync them, and move them into new/ (where readers see them whole); their keys."""
        written = []
        try:
            for data in messages:
                now = time.time()
                key = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(self._sequence)}.{self._host}"
                temporary = self._tmp + key
                try:
                    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileNotFoundError:  # Tests may remove the Maildir between runs.
                    self._folders()
                    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                written.append((key, temporary, descriptor))
                view = memoryview(data)
                while view:
                    view = view[os.write(descriptor, view):]
            for key, temporary, _ in written:
                try:
                    os.rename(temporary, self._new + key)
                except FileNotFoundError:
                    self._folders()
                    os.rename(temporary, self._new + key)
            try:
                sync([descriptor for _, _, descriptor in written])
            except OSError:
                # Refused (451), so the client sends them again: none may stay behind in new/ as well.
                for key, _, _ in written:
                    with contextlib.suppress(OSError):
                        os.unlink(self._new + key)
                raise
        finally:
            for _, _, descriptor in written:
                os.close(descriptor)
        return [key for key, _, _ in written]

    def close(self) -> None:
        """Once the server takes no more messages: the messages being written are finished, the writers stop, and what
        was stored since the last report is reported."""
        self._writer.shutdown(wait=True)
        if self._report_timer is not None:
            self._report_timer.cancel()
        if self.stored > self._reported:
            self.report()

    def report(self) -> None:
        self._report_timer = None
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        print(f"{stamp} stored {self.stored - self._reported} messages ({self.stored} since start), {self._last}",
              flush=True)
        self._reported = self.stored


async def serve(
    host: str, port: int, maildir: Path, reject: frozenset[str] = frozenset(), pipelining: bool = True,
    chunking: bool = True,
) -> None:
    handler = MaildirHandler(maildir, reject, pipelining, chunking)
    loop = asyncio.get_running_loop()
    # A fixed hostname skips socket.getfqdn(), which can stall without DNS.
    server = await loop.create_server(
        lambda: Sink(handler, hostname="mc-smtp", enable_SMTPUTF8=True), host, port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp_mailbox listening on {host}:{port}, storing in {maildir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()
    handler.close()


def main() -> None:
    state = os.environ.get("MC_STATE_DIR") or Path(__file__).resolve().parent.parent / ".run"
    maildir = os.environ.get("MAILDIR") or Path(state, "mail")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT", "1025")))
    parser.add_argument("--maildir", type=Path, default=Path(maildir))
    parser.add_argument(
        "--reject", action="append", default=[], metavar="ADDRESS", help="refuse this recipient with 550 (repeatable)"
    )
    parser.add_argument(
        "--no-pipelining", dest="pipelining", action="store_false", help="do not offer PIPELINING (RFC 2920)"
    )
    parser.add_argument(
        "--no-chunking", dest="chunking", action="store_false", help="do not offer CHUNKING (BDAT, RFC 3030)"
    )
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port, args.maildir, frozenset(args.reject), args.pipelining, args.chunking))


if __name__ == "__main__":
    main()
