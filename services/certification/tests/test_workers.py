"""The worker processes that sign and verify: they end with the service, even when it is killed with SIGKILL, load
none of the service's heavier layers, and serve signing and verifying in turns.

This module's top-level imports stay light: a worker imports it to run `_layers_loaded`."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.certification.workers import WorkerProcesses

ROOT = Path(__file__).resolve().parents[3]

SERVICE = """
import asyncio, os
from services.certification.workers import WorkerProcesses

async def main():
    workers = WorkerProcesses(1)
    print(await workers.submit(_pid, None, "signing"), flush=True)
    await asyncio.Event().wait()

def _pid(_):
    return os.getpid()

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="the parent's death signal is Linux's")
def test_a_worker_ends_when_its_service_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    service = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, text=True,
    )
    try:
        worker = int(service.stdout.readline())
        assert alive(worker)
        service.send_signal(signal.SIGKILL)
        service.wait()
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker), "the worker outlived the service killed with SIGKILL"
    finally:
        service.kill()


# The service's layers a worker has no use for; importing them cost each worker ~60 MB.
SERVICE_LAYERS = (
    "sqlalchemy", "sqlmodel", "asyncpg", "fastapi", "starlette", "aiokafka", "faststream", "opentelemetry",
    "pydantic_settings", "jinja2", "reportlab",
)


def _layers_loaded(_: object) -> list[str]:
    """Run in a worker: which of SERVICE_LAYERS it has imported."""
    return [name for name in SERVICE_LAYERS if name in sys.modules]


async def test_the_workers_sign_and_verify_without_the_service_layers(tmp_path: Path) -> None:
    # Imported here, not at the top: the workers import this module (for _layers_loaded), and the test's own imports
    # would otherwise be what they load.
    import json

    from services.certification.proof_checks import ProofChecker
    from services.certification.signing import CredentialSigner
    from services.certification.signing_keys import create_key, node_identity
    from services.certification.tests.test_signing import PUBLIC_URL, SAARLAND, SOFIA, request

    create_key(tmp_path, "uni-saarland")
    create_key(tmp_path, "uni-sofia")
    workers = WorkerProcesses(1)
    signer, checker = CredentialSigner(workers), ProofChecker(workers, max_in_flight=4)
    try:
        # A joint credential: a worker signs and endorses, and checks both proofs.
        document = json.loads(await signer.sign(request(str(tmp_path), SAARLAND, SOFIA)))
        identity = node_identity(PUBLIC_URL, str(tmp_path))
        result = await checker.check(document, [identity.document("uni-saarland"), identity.document("uni-sofia")])
        assert result.verified, result.problems
        assert await workers.submit(_layers_loaded, None, "signing") == []
    finally:
        workers.close()


def _slow_job(name: str) -> str:
    """Run in a worker: a job that keeps it busy long enough for the others to queue up."""
    time.sleep(0.1)
    return name


async def test_signing_and_verifying_take_turns_in_the_workers() -> None:
    """A cohort's signatures queued first do not make an employer's check wait for all of them, nor does a burst of
    checks stop issuing: with one worker, the two kinds of work alternate once the first jobs are out."""
    workers = WorkerProcesses(1)
    try:
        finished: list[str] = []
        jobs = [workers.submit(_slow_job, f"sign-{n}", "signing") for n in range(1, 5)]
        jobs += [workers.submit(_slow_job, f"verify-{n}", "verifying") for n in range(1, 5)]
        for job in asyncio.as_completed(jobs):
            finished.append(await job)
        # One job running and one ready were handed out before the checks arrived; then each kind in turn.
        assert finished == ["sign-1", "sign-2", "verify-1", "sign-3", "verify-2", "sign-4", "verify-3", "verify-4"]
    finally:
        workers.close()


async def test_a_job_withdrawn_before_a_worker_takes_it_is_not_run(tmp_path: Path) -> None:
    workers = WorkerProcesses(1)
    trace = tmp_path / "ran"
    try:
        first, second = (workers.submit(_slow_job, f"sign-{n}", "signing") for n in (1, 2))
        waiting = workers.submit(_leave_a_trace, str(trace), "verifying")
        waiting.cancel()  # The employer closed the page while the check waited.
        assert await workers.submit(_slow_job, "sign-3", "signing") == "sign-3"
        assert await asyncio.gather(first, second) == ["sign-1", "sign-2"]
        assert not trace.exists(), "the withdrawn check ran anyway"
    finally:
        workers.close()


def _leave_a_trace(path: str) -> None:
    Path(path).touch()
