"""What a message's sync costs the SMTP sink: the kernel's CPU per file when a group of files is written, synced and
moved as deploy/smtp_mailbox.py does it, synced three ways in alternating rounds: one `sync` of the sink for the group
(syncfs(2) where there is one), an `fsync` of each file (the sink before 30 November), and, as the baseline, no sync.

    .venv/bin/python bench/bench_sync.py [--files 1000] [--rounds 5] [--dir .run/bench-sync]

The folder should be on the disk the sink's Maildir is on (the project's `.run/` by default); it is removed at the
end. Printed: per round and way, user and system CPU per file (getrusage) and wall time per file. A benchmark, not a
test: the figures swing with what the disk did just before (deleting many files made later syncs dearer here).
"""

import argparse
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.smtp_mailbox import fsync_each, sync  # noqa: E402

GROUP = 20  # messages per group, about what the sink gathers under a cohort's load
MESSAGE = os.urandom(1500)  # about one rendered email


def no_sync(descriptors: list[int]) -> None:
    return None


WAYS: dict[str, Callable[[list[int]], None]] = {"sync (the sink)": sync, "fsync each file": fsync_each,
                                                "no sync": no_sync}


def store(folder: Path, files: int, synced: Callable[[list[int]], None]) -> tuple[float, float, float]:
    """Write `files` files in groups to tmp/, move them into new/, sync each group; CPU and wall seconds per file."""
    (folder / "tmp").mkdir(parents=True)
    (folder / "new").mkdir()
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for first in range(0, files, GROUP):
        descriptors = []
        for number in range(first, min(first + GROUP, files)):
            descriptor = os.open(folder / "tmp" / str(number), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(descriptor, MESSAGE)
            os.rename(folder / "tmp" / str(number), folder / "new" / str(number))
            descriptors.append(descriptor)
        synced(descriptors)
        for descriptor in descriptors:
            os.close(descriptor)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime) / files, (after.ru_stime - before.ru_stime) / files, wall / files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=ROOT / ".run" / "bench-sync")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    print(f"{args.files:,} files of {len(MESSAGE):,} bytes a round, in groups of {GROUP}, in {args.dir}")
    print(f"  {'round':<6}{'way':<18}{'user µs':>9}{'system µs':>11}{'wall µs':>9}   per file")
    try:
        # Kept until the end: deleting files between rounds would make the next rounds' syncs dearer.
        for round_number in range(1, args.rounds + 1):
            for way, synced in WAYS.items():
                user, system, wall = store(args.dir / f"{round_number}-{way.split()[0]}", args.files, synced)
                print(f"  {round_number:<6}{way:<18}{user * 1e6:>9.0f}{system * 1e6:>11.0f}{wall * 1e6:>9.0f}")
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
