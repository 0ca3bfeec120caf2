"""End to end: the five services as separate processes, driven only through HTTP and Kafka (kcat as the LMS)."""

import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from deploy.journey import Node
from tests.stack import ROOT, Stack, free_port, with_kafka_principals

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications")


def wait_ready(url: str, process: subprocess.Popen, log: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s; see {log}")


@pytest.fixture(scope="session")
def stack(stack: Stack) -> Stack:
    """The session's stack under prefixes of its own: the node's processes run until the session ends, and must not
    share consumer groups or databases with the services the integration tests start in-process. Its Kafka principals
    are its own too: each service runs as its own least-privileged principal, and kcat as an LMS."""
    return with_kafka_principals(
        dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}e2e.", database_prefix=f"{stack.database_prefix}_e2e")
    )


# The universities whose credentials this test node signs (the lead and the partner of the joint course), with the
# names and countries its operator states for them (what verification shows).
ISSUING_INSTITUTIONS = {"uni-saarland": ("Saarland University", "DE"), "uni-sofia": ("Sofia University", "BG")}


def issuer_keys(folder: Path) -> Path:
    for institution, (name, country) in ISSUING_INSTITUTIONS.items():
        subprocess.run(
            [sys.executable, "-m", "services.certification", "keys", "--institution", institution, "--dir", str(folder),
             "--name", name, "--country", country],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
    return folder


@pytest.fixture(scope="session")
def node(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(stack, issuer_keys(tmp_path_factory.mktemp("issuer-keys"))) as started:
        yield started


@contextlib.contextmanager
def running_node(
    stack: Stack, keys: Path, log_prefix: str = "e2e", replaced: Mapping[str, str] | None = None, **settings: str
) -> Iterator[Node]:
    """The five services as processes on free ports, against `stack`; `settings` are extra environment variables, and
    `replaced` runs another module in a service's place (a stand-in, such as the conformance kit's broken node).
    Their logs go to .run/logs/<log_prefix>-<service>.log."""
    ports = {name: free_port() for name in SERVICES}
    logs = ROOT / ".run" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = {}
    for name in SERVICES:
        env = os.environ | stack.env() | stack.kafka_env(name) | {"HTTP_PORT": str(ports[name])}
        env["PUBLIC_URL"] = f"http://127.0.0.1:{ports['certification']}"
        env["ISSUER_KEYS_DIR"] = str(keys)
        env["UNSUBSCRIBE_BASE_URL"] = f"http://127.0.0.1:{ports['notifications']}"
        # Retry mail soon after an outage, so that the outage test need not wait minutes.
        env |= {"DELIVERY_BACKOFF_SECONDS": "0.5", "DELIVERY_BACKOFF_MAX_SECONDS": "2"} | settings
        log = logs / f"{log_prefix}-{name}.log"
        module = [replaced[name]] if replaced and name in replaced else [f"services.{name}", "serve"]
        processes[name] = (
            subprocess.Popen(
                [sys.executable, "-m", *module],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            ),
            str(log),
        )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for name, (process, log) in processes.items():
            wait_ready(urls[name], process, log)
        yield Node(
            urls=urls,
            kafka=stack.kafka,
            maildir=stack.maildir,
            auth_key=stack.auth_private_key,
            topic_prefix=stack.topic_prefix,
            kafka_credentials=stack.kafka_credentials,
        )
    finally:
        for process, _ in processes.values():
            process.terminate()
        for process, _ in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
