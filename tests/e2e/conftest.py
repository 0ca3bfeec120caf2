"""End to end: the five services as separate processes, driven only through HTTP and Kafka (kcat as the LMS)."""

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy import alliance_journey
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
    stack: Stack, keys: Path, log_prefix: str = "e2e", replaced: Mapping[str, str] | None = None,
    ports: Mapping[str, int] | None = None, **settings: str,
) -> Iterator[Node]:
    """The five services as processes on free ports (or on `ports`, by service, where given), against `stack`;
    `settings` are extra environment variables, and `replaced` runs another module in a service's place (a stand-in,
    such as the conformance kit's broken node). Their logs go to .run/logs/<log_prefix>-<service>.log."""
    with node_processes(stack, keys, log_prefix, replaced=replaced, ports=ports, **settings) as processes:
        yield processes.node


@dataclasses.dataclass
class NodeProcesses:
    """A node's service processes: each service's first instance on its own port (what `node` talks to), and more
    instances of a service in the same consumer group on ports of their own; each can be killed and started again."""

    stack: Stack
    keys: Path
    log_prefix: str
    settings: dict[str, str]
    ports: dict[str, int] = dataclasses.field(default_factory=lambda: {name: free_port() for name in SERVICES})
    # service -> its instances' processes (None once killed), in the order they were started
    processes: dict[str, list[subprocess.Popen | None]] = dataclasses.field(default_factory=dict)
    urls: dict[tuple[str, int], str] = dataclasses.field(default_factory=dict)
    ready_timeout: float = 90.0
    # service -> the module run in its place (a stand-in, such as the conformance kit's broken node)
    replaced: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # service -> settings of its own, over `settings` (say, HTTP_WORKERS for enrolment alone)
    own_settings: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    node: Node = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.node = Node(
            urls={name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()},
            kafka=self.stack.kafka,
            maildir=self.stack.maildir,
            auth_key=self.stack.auth_private_key,
            topic_prefix=self.stack.topic_prefix,
            kafka_credentials=self.stack.kafka_credentials,
        )

    def log(self, name: str, instance: int = 0) -> Path:
        return ROOT / ".run" / "logs" / f"{self.log_prefix}-{name}{f'-{instance + 1}' if instance else ''}.log"

    def start(self, name: str, instance: int | None = None, wait: bool = True) -> subprocess.Popen:
        """Start an instance of a service (a new one, or the given one again); with `wait`, until it is ready."""
        instances = self.processes.setdefault(name, [])
        if instance is None:
            instance = len(instances)
            instances.append(None)
        port = self.ports[name] if instance == 0 else free_port()
        env = os.environ | self.stack.env() | self.stack.kafka_env(name) | {"HTTP_PORT": str(port)}
        env["PUBLIC_URL"] = f"http://127.0.0.1:{self.ports['certification']}"
        env["ISSUER_KEYS_DIR"] = str(self.keys)
        env["UNSUBSCRIBE_BASE_URL"] = f"http://127.0.0.1:{self.ports['notifications']}"
        # Retry mail soon after an outage, so that the outage test need not wait minutes.
        env |= {"DELIVERY_BACKOFF_SECONDS": "0.5", "DELIVERY_BACKOFF_MAX_SECONDS": "2"} | self.settings
        env |= self.own_settings.get(name, {})
        log = self.log(name, instance)
        log.parent.mkdir(parents=True, exist_ok=True)
        module = [self.replaced[name]] if name in self.replaced else [f"services.{name}", "serve"]
        process = subprocess.Popen(
            [sys.executable, "-m", *module], cwd=ROOT, env=env, stdout=log.open("a"),
            stderr=subprocess.STDOUT,
        )
        instances[instance] = process
        self.urls[(name, instance)] = f"http://127.0.0.1:{port}"
        if wait:
            self.wait_ready(name, instance)
        return process

    def wait_ready(self, name: str, instance: int = 0) -> None:
        process = self.processes[name][instance]
        assert process is not None
        wait_ready(self.urls[(name, instance)], process, str(self.log(name, instance)), self.ready_timeout)

    def kill(self, name: str, instance: int = 0) -> None:
        """kill -9 of one instance of a service (its worker processes end with it)."""
        process = self.processes[name][instance]
        assert process is not None, f"{name} instance {instance} is not running"
        process.kill()
        process.wait()
        self.processes[name][instance] = None

    def stop(self) -> None:
        running = [process for instances in self.processes.values() for process in instances if process is not None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def node_processes(
    stack: Stack, keys: Path, log_prefix: str = "e2e", instances: dict[str, int] | None = None,
    ready_timeout: float = 90.0, replaced: Mapping[str, str] | None = None, ports: Mapping[str, int] | None = None,
    own_settings: Mapping[str, Mapping[str, str]] | None = None, **settings: str,
) -> Iterator[NodeProcesses]:
    """The node's processes (`instances`: how many of each service, one by default; `replaced`: a module run in a
    service's place; `ports`: the first instance's port of some services, known before they start; `own_settings`:
    a service's settings over `settings`), stopped at the end."""
    processes = NodeProcesses(
        stack, keys, log_prefix, settings, ready_timeout=ready_timeout, replaced=replaced or {},
        own_settings=own_settings or {},
    )
    processes.ports.update(ports or {})
    processes.node.urls.update({name: f"http://127.0.0.1:{port}" for name, port in (ports or {}).items()})
    for name in SERVICES:  # Logs start empty, as each run's own.
        processes.log(name).unlink(missing_ok=True)
    try:
        for name in SERVICES:
            for _ in range((instances or {}).get(name, 1)):
                processes.start(name, wait=False)
        for name, started in processes.processes.items():
            for instance in range(len(started)):
                processes.wait_ready(name, instance)
        yield processes
    finally:
        processes.stop()


# --- the alliance of deploy/alliance.sh: three nodes as separate processes, started once for the session ---

ALLIANCE_SH = ["bash", str(ROOT / "deploy" / "alliance.sh")]
# This run's alliance, apart from earlier ones on the same Kafka and PostgreSQL (topics, principals, databases).
RUN = f"e2e{uuid.uuid4().hex[:6]}"
BUS = f"{RUN}.t4eu."
BASES = {"saarland": 8100, "silesia": 8200, "primorska": 8300}
TOKEN_ISSUER = "urn:microcredentials:node:{}:accounts"  # as deploy/alliance.sh names each node's


@dataclass
class Alliance:
    folder: Path
    environment: dict[str, str]
    started: str  # what `alliance.sh start` printed
    nodes: dict[str, Node]


def a_node(stack: Stack, folder: Path, name: str, base: int) -> Node:
    """A node of this run's alliance, as deploy/alliance_journey.py addresses it, on the session's Kafka."""
    _, each = alliance_journey.node(
        f"{name}={base}={folder / name / 'keys' / 'auth-private.pem'}={TOKEN_ISSUER.format(name)}", RUN
    )
    each.kafka, each.maildir = stack.kafka, stack.maildir
    return each


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules that use the alliance run last, one after the other: its nodes, started once for the session and
    stopped when it ends, then run only while they are needed, not beside the other end-to-end tests."""
    here = Path(__file__).parent
    theirs = {
        item.path for item in items
        if item.path.is_relative_to(here) and "alliance" in getattr(item, "fixturenames", ())
    }
    items[:] = [item for item in items if item.path not in theirs] + [item for item in items if item.path in theirs]


@pytest.fixture(scope="session")
def alliance(stack: Stack) -> Iterator[Alliance]:
    """Started once for the session (it takes minutes): test_alliance_demo.py and test_joint_and_stacked.py share it
    (the demo's fourth node, once it joined, runs on beside the three until the session ends)."""
    # In the state folder, not a temporary one: the nodes' logs stay there for a look after a failure.
    folder = ROOT / ".run" / "e2e-alliance"
    shutil.rmtree(folder, ignore_errors=True)
    environment = os.environ | {
        "MC_ALLIANCE_DIR": str(folder), "MC_KEEP_INFRA": "1", "MC_ALLIANCE_PREFIX": RUN,
        # A revocation shows at the other nodes within this; the registry is re-read this often.
        "STATUS_LIST_CACHE_SECONDS": "2", "ALLIANCE_REGISTRY_POLL_SECONDS": "3",
    }
    try:
        started = subprocess.run(ALLIANCE_SH + ["start"], env=environment, capture_output=True, text=True, timeout=900)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        nodes = {name: a_node(stack, folder, name, base) for name, base in BASES.items()}
        (folder / "started.out").write_text(started.stdout)
        yield Alliance(folder, environment, started.stdout, nodes)
    finally:
        subprocess.run(ALLIANCE_SH + ["stop"], env=environment, capture_output=True, timeout=300)
