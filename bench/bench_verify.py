"""Where /verify's proof check should run: in the service's event loop, or in the proof workers it shares with signing.

    .venv/bin/python bench/bench_verify.py --endorsements 250 --count 200

Prints, for an ordinary credential and for a heavy one (padded with self-made endorsements up to the size limit):
the time of one check; how long the event loop stalls during it (a 10 ms ticker's longest gap) when the check runs in
the loop or in a worker process; checks per second through one worker; how long a credential's signature waits when
a heavy check is ahead of it; and how long an ordinary check waits behind a cohort's signatures, the two kinds taking
turns in the one worker, against the signatures' own time. A benchmark: nothing asserts a timing.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.certification.proof_checks import ProofCheck, ProofChecker  # noqa: E402
from services.certification.workers import WorkerProcesses  # noqa: E402
from services.certification.signing import CredentialSigner  # noqa: E402
from services.certification.tests.test_signing import SAARLAND, request  # noqa: E402
from services.certification.tests.test_verification import DIRECTORY, forged_credential, node_credential  # noqa: E402
from services.certification.signing_keys import create_key  # noqa: E402


async def longest_stall(work) -> tuple[float, float]:
    """(seconds the work took, the longest gap between ticks of a 10 ms ticker meanwhile)."""
    gaps, running = [], True

    async def ticker() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last - 0.01)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    start = time.perf_counter()
    await work()
    took = time.perf_counter() - start
    running = False
    await task
    return took, max(gaps)


async def main(endorsements: int, count: int, cohort_size: int) -> None:
    ordinary, heavy = node_credential(), forged_credential(endorsements=endorsements)
    print(f"ordinary credential: {len(json.dumps(ordinary)) / 1024:.1f} KiB; heavy: {len(json.dumps(heavy)) / 1024:.0f} "
          f"KiB ({endorsements} endorsements)")

    documents = DIRECTORY.did_documents()  # the node's institutions, as the service passes them

    def inline(document):
        async def work():
            assert ProofCheck(json.dumps(document), json.dumps(documents)).run().verified
        return work

    workers = WorkerProcesses(1)
    checker = ProofChecker(workers, max_in_flight=count)  # all of them queued at once: throughput, not the limit
    signer = CredentialSigner(workers)
    await workers.submit(len, "", "verifying")  # started and warmed up

    def pooled(document):
        async def work():
            assert (await checker.check(document, documents)).verified
        return work

    for name, document in (("ordinary", ordinary), ("heavy", heavy)):
        await inline(document)()  # contexts cached in both processes
        await pooled(document)()
        for where, work in (("in the event loop", inline(document)), ("in a worker process", pooled(document))):
            took, stall = min([await longest_stall(work) for _ in range(3)])
            print(f"{name}: {where} {took * 1000:.0f} ms, the loop stalls up to {stall * 1000:.0f} ms")

    start = time.perf_counter()
    await asyncio.gather(*(checker.check(ordinary, documents) for _ in range(count)))
    print(f"ordinary credentials checked through one worker: {count / (time.perf_counter() - start):.0f}/s")

    keys = Path(__import__("tempfile").mkdtemp())
    create_key(keys, "uni-saarland")
    signing = request(str(keys), SAARLAND)
    await signer.sign(signing)

    # A signature behind a heavy check: it waits for the check to end (a worker does not stop a job).
    check = workers.submit(_check, ProofCheck(json.dumps(heavy), "[]"), "verifying")
    await asyncio.sleep(0.05)  # the heavy check has started
    start = time.perf_counter()
    await signer.sign(signing)
    print(f"a signature asked for during a heavy check: ready after {(time.perf_counter() - start) * 1000:.0f} ms")
    await check

    # An ordinary check asked for while a cohort's signatures wait: it has its turn after a chunk or two of them.
    start = time.perf_counter()
    cohort = asyncio.gather(*(signer.sign(signing) for _ in range(cohort_size)))
    await asyncio.sleep(0)  # the signatures are queued
    await checker.check(ordinary, documents)
    checked = time.perf_counter() - start
    await cohort
    print(f"an ordinary check asked for behind {cohort_size} signatures: ready after {checked * 1000:.0f} ms; "
          f"the signatures took {(time.perf_counter() - start) * 1000:.0f} ms")
    workers.close()


def _check(check: ProofCheck):
    return check.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--endorsements", type=int, default=250)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--cohort", type=int, default=500, help="signatures queued ahead of an ordinary check")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.endorsements, arguments.count, arguments.cohort))
