"""Emails per second and CPU per email from the notifications service's mailer to the SMTP sink, in the three ways the
mailer talks to a relay: with PIPELINING (RFC 2920) and CHUNKING (RFC 3030, BDAT), with PIPELINING only (DATA), and,
as the baseline in the same run, one command at a time: the sink started as it is, with --no-chunking and with
--no-pipelining, the runs alternating. Prints emails/s and the CPU seconds of the sending process and of the sink.

    source env.sh; .venv/bin/python bench/bench_mail.py [--emails 5000] [--connections 4] [--rounds 3]
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_cohort import cpu_seconds  # noqa: E402
from services.notifications.domain import Email, to_message  # noqa: E402
from services.notifications.mailer import Mailer  # noqa: E402
from services.notifications.settings import NotificationsSettings  # noqa: E402


async def accepting(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the sink did not start")


# How the sink is started for each way: what it does not offer.
WAYS = {"one by one": ["--no-pipelining", "--no-chunking"], "pipelining": ["--no-chunking"], "pipelining+BDAT": []}


async def run(port: int, way: str, emails: int, connections: int, maildir: Path) -> tuple[float, float, float]:
    command = [sys.executable, "-m", "deploy.smtp_mailbox", "--port", str(port), "--maildir", str(maildir)]
    sink = subprocess.Popen(command + WAYS[way], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        await accepting(port)
        settings = NotificationsSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_connections=connections)
        mailer = Mailer(settings)
        sender = "Saarland University <no-reply@uni-saarland.example>"
        messages = [
            to_message(Email(f"learner-{n}@example.eu", "Your micro-credential has been issued", "Congratulations\n" * 20,
                             "<p>Congratulations</p>" * 20, "credential_issued"), sender, f"<{n}@uni-saarland.example>")
            for n in range(emails)
        ]
        sink_before, own_before, start = cpu_seconds(sink.pid), time.process_time(), time.perf_counter()
        await asyncio.gather(*(mailer.send(message) for message in messages))
        elapsed = time.perf_counter() - start
        own, sink_after = time.process_time() - own_before, cpu_seconds(sink.pid)
        assert sink_before is not None and sink_after is not None, "the sink ended during the run"
        sink_cpu = sink_after[0] - sink_before[0]
        await mailer.close()
        return emails / elapsed, own, sink_cpu
    finally:
        sink.terminate()
        sink.wait(10)
        shutil.rmtree(maildir, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = int(os.environ.get("SMTP_PORT", "1025")) + 1  # next to this checkout's own sink, which may be running
    # On tmpfs, where fsync costs nothing: the disk's syncs are the same either way and their time varies by much more.
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as folder:
        for round_ in range(args.rounds):
            for way in WAYS:
                rate, own, sink = await run(port, way, args.emails, args.connections, Path(folder, "mail"))
                print(f"round {round_ + 1} {way:>15}: {rate:7.0f} emails/s, sender {own:5.2f} s CPU "
                      f"({own / args.emails * 1e6:4.0f} µs/email), sink {sink:5.2f} s CPU "
                      f"({sink / args.emails * 1e6:4.0f} µs/email)", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
