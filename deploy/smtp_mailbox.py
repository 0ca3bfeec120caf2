"""Local SMTP sink: every message it receives becomes one file in a Maildir.

Stands in for a real mail server in development and tests: services send with
plain SMTP (no auth, no TLS), and tests read the delivered files back with
Python's mailbox.Maildir. The SMTP envelope is kept in X-Envelope-From and
X-Envelope-To headers, because Bcc recipients appear nowhere else.

`--reject ADDRESS` (repeatable) makes it refuse a recipient for good ("550 5.1.1 mailbox unavailable"), so tests can
see what a permanent failure does.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import os
import signal
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, maildir: Path, reject: frozenset[str] = frozenset()) -> None:
        self.maildir = maildir
        self.box = mailbox.Maildir(maildir, create=True)
        self.reject = frozenset(address.lower() for address in reject)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Maildir(create=True) skips tmp/new/cur when the folder already
        # exists, and tests may empty it between runs: make sure they exist.
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        envelope_headers = (
            f"X-Envelope-From: {envelope.mail_from}\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\n"
        ).encode()
        body = envelope.original_content or b""
        # Store with Unix line endings, like any other Maildir writer.
        key = self.box.add(envelope_headers + body.replace(b"\r\n", b"\n"))
        subject = BytesHeaderParser(policy=default_policy).parsebytes(body).get("Subject", "")
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        print(f"{stamp} stored {key} from={envelope.mail_from} "
              f"to={','.join(envelope.rcpt_tos)} subject={subject!r}", flush=True)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, maildir: Path, reject: frozenset[str] = frozenset()) -> None:
    handler = MaildirHandler(maildir, reject)
    loop = asyncio.get_running_loop()
    # A fixed hostname skips socket.getfqdn(), which can stall without DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="mc-smtp", enable_SMTPUTF8=True), host, port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp_mailbox listening on {host}:{port}, storing in {maildir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


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
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.maildir, frozenset(args.reject)))


if __name__ == "__main__":
    main()
