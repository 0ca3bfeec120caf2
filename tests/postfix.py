"""Postfix, the mail server many universities relay through, as a private instance for tests that check the mailer
against an SMTP server this project did not write (deploy/install.sh installs Debian's package, unconfigured).

The instance lives in one folder: its configuration (Debian's master.cf, with no chroot, and a main.cf of its own),
queue, log and a Maildir into which its `virtual` delivery agent stores every message for `DOMAIN`. It listens on
loopback only, on one port per listener, each of which may hide some of the ESMTP extensions Postfix offers (a relay
without CHUNKING, or without PIPELINING either), and refuses `refused` recipients with 550 5.1.1 at RCPT. Postfix's
master runs as root and drops to the `postfix` user for its daemons, so the folder is readable by that user.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.stack import free_port

DOMAIN = "example.eu"
POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
PACKAGED_MASTER_CF = Path("/etc/postfix/master.cf")
# What Postfix's delivery adds in front of a message; everything after them is the message as the relay received it.
TRACE_HEADERS = (b"Return-Path:", b"X-Original-To:", b"Delivered-To:", b"Received:")


class Postfix:
    def __init__(self, listeners: Mapping[str, tuple[str, ...]], refused: Iterable[str] = ()) -> None:
        """`listeners`: by name, the ESMTP keywords each leaves out of its EHLO reply; `ports` has the port of each."""
        for program in (POSTFIX, POSTCONF, PACKAGED_MASTER_CF):
            if not Path(program).exists():
                raise RuntimeError(f"{program} is missing: bash deploy/install.sh installs Debian's postfix package")
        if os.geteuid() != 0:
            raise RuntimeError("Postfix's master must start as root (it drops to the postfix user for its daemons)")
        self.listeners = dict(listeners)
        self.ports = {name: free_port() for name in self.listeners}
        self.refused = tuple(refused)
        self.folder = Path(tempfile.mkdtemp(prefix="mc-postfix-"))
        self.folder.chmod(0o755)  # the postfix user reads its configuration and writes the Maildir in here

    @property
    def maildir(self) -> Path:
        return self.folder / "mail" / "inbox"

    def start(self) -> None:
        etc = self.folder / "etc"
        etc.mkdir()
        owner = pwd.getpwnam("postfix")
        for private in ("mail", "data"):
            (self.folder / private).mkdir()
            os.chown(self.folder / private, owner.pw_uid, owner.pw_gid)
        (etc / "refused").write_text("".join(f"{address} 550 5.1.1 Mailbox unavailable\n" for address in self.refused))
        (etc / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {self.folder}/spool
data_directory = {self.folder}/data
maillog_file_prefixes = {self.folder}
maillog_file = {self.folder}/maillog
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydestination =
# Nothing is delivered locally: no aliases (Debian ships no /etc/aliases.db).
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
# The node is a client like any other: its headers are not rewritten, none are added.
local_header_rewrite_clients =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {self.folder}/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{owner.pw_uid}
virtual_gid_maps = static:{owner.pw_gid}
smtpd_recipient_restrictions = check_recipient_access texthash:{etc}/refused, permit_mynetworks,
    reject_unauth_destination
"""
        )
        shutil.copy(PACKAGED_MASTER_CF, etc / "master.cf")
        self._postconf("-F", "*/*/chroot = n")  # a chroot would need copies of /etc files in the queue folder
        self._postconf("-M#", "smtp/inet")
        self._postconf("-Me", "postlog/unix-dgram = postlog unix-dgram n - n - 1 postlogd")
        for name, hidden in self.listeners.items():
            options = f" -o smtpd_discard_ehlo_keywords={','.join(hidden)}" if hidden else ""
            address = f"127.0.0.1:{self.ports[name]}"
            self._postconf("-Me", f"{address}/inet = {address} inet n - n - - smtpd{options}")
        (self.folder / "spool").mkdir()
        self._run(POSTFIX, "-c", str(etc), "start")
        for port in self.ports.values():
            self._wait_for(port)

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.folder / "etc"), "stop"], capture_output=True, timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def delivered(self, count: int, timeout: float = 20) -> dict[str, bytes]:
        """The messages delivered, by their recipient (X-Original-To), once there are `count` of them. Delivery
        follows the 250 that queued the message, so this waits for it."""
        deadline = time.monotonic() + timeout
        while True:
            messages = {}
            # Files appear in new/ whole (written in tmp/, then moved), and new/ itself comes with the first one.
            for file in (self.maildir / "new").glob("*"):
                data = file.read_bytes()
                recipient = data.split(b"X-Original-To: ", 1)[1].split(b"\n", 1)[0]
                messages[recipient.decode()] = data
            if len(messages) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.05)

    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def _postconf(self, *arguments: str) -> None:
        self._run(POSTCONF, "-c", str(self.folder / "etc"), *arguments)

    def _run(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr}{done.stdout}{self.log()}")

    def _wait_for(self, port: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Postfix does not listen on {port}: {self.log()}")
            time.sleep(0.1)


def as_relayed(delivered: bytes) -> tuple[list[bytes], bytes]:
    """A delivered message split into the trace headers Postfix put in front and the message it received."""
    lines = delivered.split(b"\n")
    trace: list[bytes] = []
    while lines and (lines[0].startswith(TRACE_HEADERS) or (trace and lines[0][:1] in (b" ", b"\t"))):
        line = lines.pop(0)
        if line[:1] in (b" ", b"\t"):
            trace[-1] += b"\n" + line
        else:
            trace.append(line)
    return trace, b"\n".join(lines)
