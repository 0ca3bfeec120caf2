"""The worker processes that sign and verify end with the service, even when it is killed with SIGKILL."""

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
