"""The worker processes that sign and verify: they end with the service, even when it is killed with SIGKILL, and
load none of the service's heavier layers.

This module's top-level imports stay light: a worker imports it to run `_layers_loaded`."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SERVICE = """
import asyncio, os
from services.certification.workers import WorkerProcesses

async def main():
    workers = WorkerProcesses(1, "signing")
    print(await workers.submit(_pid, None), flush=True)
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
    signer, checker = CredentialSigner(1), ProofChecker(1, max_in_flight=4)
    try:
        # A joint credential: the signing worker signs and endorses; the verifying worker checks both proofs.
        document = json.loads(await signer.sign(request(str(tmp_path), SAARLAND, SOFIA)))
        identity = node_identity(PUBLIC_URL, str(tmp_path))
        result = await checker.check(document, [identity.document("uni-saarland"), identity.document("uni-sofia")])
        assert result.verified, result.problems
        assert await signer.submit(_layers_loaded, None) == []
        assert await checker.submit(_layers_loaded, None) == []
    finally:
        signer.close()
        checker.close()
