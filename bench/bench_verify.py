"""Where /verify's proof check should run: in the service's event loop, in the signing pool, or in a pool of its own.

    .venv/bin/python bench/bench_verify.py --endorsements 250 --count 200

Prints, for an ordinary credential and for a heavy one (padded with self-made endorsements up to the size limit):
the time of one check; how long the event loop stalls during it (a 10 ms ticker's longest gap) when the check runs in
the loop or in a worker process; checks per second through one worker; and how long a credential's signature waits
when a heavy check is ahead of it in a shared pool versus in a pool of its own. A benchmark: nothing asserts a timing.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.certification.proof_checks import ProofCheck, ProofChecker  # noqa: E402
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


async def main(endorsements: int, count: int) -> None:
    ordinary, heavy = node_credential(), forged_credential(endorsements=endorsements)
    print(f"ordinary credential: {len(json.dumps(ordinary)) / 1024:.1f} KiB; heavy: {len(json.dumps(heavy)) / 1024:.0f} "
          f"KiB ({endorsements} endorsements)")

    documents = DIRECTORY.did_documents()  # the node's institutions, as the service passes them

    def inline(document):
        async def work():
            assert ProofCheck(json.dumps(document), json.dumps(documents)).run().verified
        return work

    checker = ProofChecker(1, max_in_flight=count)  # all of them queued at once: throughput, not the limit
    await checker.submit(len, "")  # started and warmed up

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

    # A signature behind a heavy check: one shared pool of one process, or a pool each.
    keys = Path(__import__("tempfile").mkdtemp())
    create_key(keys, "uni-saarland")
    signing = request(str(keys), SAARLAND)
    signer = CredentialSigner(1)
    await signer.sign(signing)
    for name, heavy_pool in (("shared pool", signer), ("own pools", checker)):
        check = heavy_pool.submit(_check, ProofCheck(json.dumps(heavy), "[]"))
        await asyncio.sleep(0.05)  # the heavy check has started
        start = time.perf_counter()
        await signer.sign(signing)
        print(f"a signature asked for during a heavy check, {name}: ready after {(time.perf_counter() - start) * 1000:.0f} ms")
        await check
    signer.close()
    checker.close()


def _check(check: ProofCheck):
    return check.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--endorsements", type=int, default=250)
    parser.add_argument("--count", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.endorsements, arguments.count))
