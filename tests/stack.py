"""The real parts the integration and end-to-end tests run against, and small helpers to read Kafka.

Where Kafka and PostgreSQL come from (`choose_backend`): the servers named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL
when set; else containers started with testcontainers when a Docker engine answers (a university's CI); else the
local ones `deploy/infra.sh start` runs (it starts only what is not running). `TEST_STACK=external|testcontainers|
local` overrides the choice. Each test session works under its own topic prefix and database prefix, so it never sees
a running demo's events or rows, and it drops them at the end.

Tests that kill PostgreSQL or Kafka run on a `PrivateInfrastructure` of their own instead (own state directory and
ports, started and stopped with deploy/infra.sh), so that the rest of the suite never notices.
"""

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from deploy.journey import LMS_OF_ANOTHER_INSTITUTION, NODE_LMS, bearer_header
from deploy.kafka_security import ADMIN_PRINCIPAL, as_environment, drop_principals, read_credentials, service_principal
from deploy.kafka_security import main as kafka_security_command
from shared.auth import Affiliation, Principal, Role, create_keys
from shared.kafka import client_options
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent
# The node the session's services belong to: the CloudEvents `source` their topics accept (shared.events.provenance).
NODE_URI = "urn:microcredentials:node:test"


@dataclass(frozen=True)
class Stack:
    kafka: str
    database_url: str
    smtp_host: str
    smtp_port: int
    maildir: Path
    topic_prefix: str
    database_prefix: str
    # This session's token keys (see shared.auth).
    auth_private_key: Path
    auth_public_key: Path
    node_uri: str = NODE_URI
    # Kafka: the cluster administrator's settings (ServiceSettings' kafka_* fields), which the helpers below use as
    # the test harness; and, once `with_kafka_principals` has made them, this session's principals' credentials.
    kafka_admin: dict[str, str] = field(default_factory=dict)
    kafka_credentials: Path | None = None
    lms_registry: Path | None = None

    def settings(self, settings_class: type, **overrides: object) -> object:
        """A service's settings in this session, connecting to Kafka as the service's own principal."""
        service_name = overrides.get("service_name") or settings_class.model_fields["service_name"].default
        return settings_class(
            **(
                dict(
                    kafka_bootstrap_servers=self.kafka,
                    database_url=self.database_url,
                    topic_prefix=self.topic_prefix,
                    database_prefix=self.database_prefix,
                    auth_public_key_file=str(self.auth_public_key),
                    node_uri=self.node_uri,
                    lms_registry_file=str(self.lms_registry) if self.lms_registry else None,
                )
                | self.kafka_settings(service_principal(service_name, self.topic_prefix))
                | overrides
            )
        )

    def harness(self, settings_class: type = ServiceSettings, **overrides: object) -> object:
        """Settings for the tests' own Kafka clients (forging events, reading topics): the cluster's administrator."""
        values = dict(kafka_bootstrap_servers=self.kafka, topic_prefix=self.topic_prefix, **self.kafka_admin)
        return settings_class(**(values | overrides))

    def kafka_settings(self, principal: str) -> dict[str, str]:
        """One of this session's principals' Kafka settings (deploy.kafka_security wrote them)."""
        assert self.kafka_credentials is not None, "with_kafka_principals(stack) first"
        path = self.kafka_credentials / f"{principal}.properties"
        assert path.exists(), f"no Kafka principal {principal} in this session ({path})"
        fields = read_credentials(path)
        fields.pop("kafka_bootstrap_servers", None)
        return fields

    def kafka_env(self, service_name: str) -> dict[str, str]:
        """The Kafka environment of one of the session's service processes: its own principal."""
        return as_environment(self.kafka_settings(service_principal(service_name, self.topic_prefix))) | {
            "LMS_REGISTRY_FILE": str(self.lms_registry)
        }

    def bearer(
        self,
        subject: str,
        *roles: Role,
        institution: str | None = None,
        name: str | None = None,
        email: str | None = None,
        affiliation: Iterable[Affiliation] = (),
        esi: str | None = None,
    ) -> dict[str, str]:
        """The Authorization header of a person with these roles at this institution (and, for a learner, what their
        identity provider attests: affiliation there, email, ESI)."""
        principal = Principal(
            subject=subject,
            name=name or subject,
            roles=frozenset(roles),
            institution=institution,
            email=email,
            affiliation=frozenset(affiliation),
            esi=esi,
        )
        return bearer_header(self.auth_private_key.read_bytes(), principal)

    def env(self) -> dict[str, str]:
        """What a service process of this session is started with."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "DATABASE_URL": self.database_url,
            "TOPIC_PREFIX": self.topic_prefix,
            "DATABASE_PREFIX": self.database_prefix,
            "SMTP_HOST": self.smtp_host,
            "SMTP_PORT": str(self.smtp_port),
            "AUTH_PUBLIC_KEY_FILE": str(self.auth_public_key),
            "NODE_URI": self.node_uri,
        }


Backend = Literal["external", "testcontainers", "local"]
BACKENDS: tuple[Backend, ...] = ("external", "testcontainers", "local")


def choose_backend(environ: Mapping[str, str], docker_engine_answers: Callable[[], bool]) -> Backend:
    """Where the tests' Kafka and PostgreSQL come from (see the module's docstring)."""
    if (forced := environ.get("TEST_STACK")) is not None:
        if forced not in BACKENDS:
            raise ValueError(f"TEST_STACK={forced!r}: expected one of {', '.join(BACKENDS)}")
        return forced  # type: ignore[return-value]
    if environ.get("KAFKA_BOOTSTRAP_SERVERS") or environ.get("DATABASE_URL"):
        return "external"
    return "testcontainers" if docker_engine_answers() else "local"


def docker_engine_answers() -> bool:
    """Whether a Docker engine (DOCKER_HOST, or the local socket) answers a ping."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def start_stack(resources: contextlib.ExitStack | None = None) -> Stack:
    """Kafka, PostgreSQL and SMTP for a test session; containers, if any, are stopped when `resources` closes."""
    environ = dict(os.environ)
    if choose_backend(environ, docker_engine_answers) == "testcontainers":
        if resources is None:
            raise ValueError("containers need an ExitStack that stops them")
        environ |= start_containers(resources)
    # infra.sh uses the servers the environment names (here: the containers) and starts the rest (SMTP).
    subprocess.run(
        ["bash", str(ROOT / "deploy" / "infra.sh"), "start"], check=True, stdout=subprocess.DEVNULL, env=environ
    )
    return _stack(Path(environ.get("MC_STATE_DIR", ROOT / ".run")), environ)


def _stack(state: Path, environ: Mapping[str, str]) -> Stack:
    written = dict(
        line.removeprefix("export ").split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line
    )
    run = uuid.uuid4().hex[:8]
    private_key, public_key = create_keys(Path(tempfile.mkdtemp(prefix=f"mc-test-{run}-keys-")))
    kafka_admin = {
        name.lower(): value
        for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_SSL_CAFILE")
        if (value := environ.get(name) or os.environ.get(name) or written.get(name))
    }
    return Stack(
        kafka=environ.get("KAFKA_BOOTSTRAP_SERVERS") or written["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=environ.get("DATABASE_URL") or written["DATABASE_URL"],
        smtp_host=written["SMTP_HOST"],
        smtp_port=int(written["SMTP_PORT"]),
        maildir=Path(written["MAILDIR"]),
        topic_prefix=f"test-{run}.",
        database_prefix=f"test_{run}",
        auth_private_key=private_key,
        auth_public_key=public_key,
        kafka_admin=kafka_admin,
    )


# --- containers, where a Docker engine exists ---

# The images docker-compose.yml runs.
KAFKA_IMAGE = "apache/kafka:3.9.1"
POSTGRES_IMAGE = "postgres:15"


def start_containers(resources: contextlib.ExitStack) -> dict[str, str]:
    """PostgreSQL and Kafka in containers, configured as deploy/infra.sh configures its own; returns the settings
    (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL) that point the tests and infra.sh at them."""
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient
    from testcontainers.core.waiting_utils import wait_for_logs

    postgres = PostgresContainer(POSTGRES_IMAGE, username="mc", password="mc", dbname="postgres", driver="asyncpg")
    # As infra.sh and compose: room for five services' pools, and durable commits (the image's defaults).
    postgres.with_command("postgres -c max_connections=200")
    resources.enter_context(postgres)

    # Kafka's port is the same inside and outside, so that the address the broker advertises works from here.
    host, port, controller_port = DockerClient().host(), free_port(), free_port()
    state = Path(tempfile.mkdtemp(prefix="mc-test-kafka-container-"))
    config, scram = kafka_container_broker(state, host, port, controller_port)
    kafka = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    # The broker's configuration, CA, certificate and credentials at the same paths inside as outside.
    kafka.with_volume_mapping(str(state), str(state), "rw")
    kafka.with_command(kafka_container_command(config, scram))
    resources.enter_context(kafka)
    wait_for_logs(kafka, "Kafka Server started", timeout=120)
    # The tests, infra.sh and the services then connect as the broker's administrator, as with the local stack.
    admin = read_credentials(state / "keys" / f"{ADMIN_PRINCIPAL}.properties")
    return {"DATABASE_URL": postgres.get_connection_url(), **as_environment(admin | {"kafka_bootstrap_servers": f"{host}:{port}"})}


def kafka_container_broker(state: Path, host: str, port: int, controller_port: int) -> tuple[Path, list[str]]:
    """The broker deploy/infra.sh runs (SASL_SSL, SCRAM, ACLs: `deploy.kafka_security broker`), rendered for a container
    that listens on every interface and is reached at `host:port`; returns its server.properties and the SCRAM
    credentials its storage is formatted with."""
    config = state / "server.properties"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        kafka_security_command([
            "broker", "--keys", str(state / "keys"), "--config", str(config), "--data", str(state / "data"),
            "--port", str(port), "--controller-port", str(controller_port), "--listen", "0.0.0.0",
            "--advertise", host, "--host", host,
        ])
    return config, printed.getvalue().split()


def kafka_container_command(config: Path, scram: list[str]) -> list[str]:
    """Format the storage with the broker's and administrator's SCRAM credentials (KIP-900), then start the broker: what
    deploy/infra.sh does, with the official image's scripts."""
    add_scram = " ".join(f"--add-scram '{credential}'" for credential in scram)
    return [
        "bash", "-c",
        f"/opt/kafka/bin/kafka-storage.sh format --ignore-formatted -t $(/opt/kafka/bin/kafka-storage.sh random-uuid) "
        f"-c {config} {add_scram} && exec /opt/kafka/bin/kafka-server-start.sh {config}",
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- a private infrastructure, for tests that kill and restart its parts ---


@dataclass
class PrivateInfrastructure:
    """Kafka, PostgreSQL and SMTP of one test module alone, run by deploy/infra.sh in their own state directory and
    on free ports: killing them disturbs no other test."""

    state: Path
    env: dict[str, str] = field(init=False)
    stack: Stack = field(init=False)

    def __post_init__(self) -> None:
        environ = {name: value for name, value in os.environ.items() if name not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        ports = {name: str(free_port()) for name in ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "PG_PORT", "SMTP_PORT")}
        self.env = environ | ports | {"MC_STATE_DIR": str(self.state)}

    def start(self) -> None:
        """Start what is not running (also after a kill, as an operator would)."""
        self.infra("start")
        if not hasattr(self, "stack"):
            self.stack = with_kafka_principals(_stack(self.state, {}))

    def stop(self) -> None:
        self.infra("stop")

    def infra(self, command: str) -> None:
        subprocess.run(
            ["bash", str(ROOT / "deploy" / "infra.sh"), command], check=True, env=self.env, stdout=subprocess.DEVNULL
        )

    def kill(self, part: Literal["postgresql", "kafka"]) -> int:
        """kill -9 of PostgreSQL's postmaster or Kafka's broker; returns the pid that was killed."""
        pidfile = self.state / "pg" / "postmaster.pid" if part == "postgresql" else self.state / "pids" / "kafka.pid"
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        return pid


@contextlib.contextmanager
def private_infrastructure(state: Path) -> Iterator[PrivateInfrastructure]:
    infrastructure = PrivateInfrastructure(state)
    try:
        infrastructure.start()
        yield infrastructure
    finally:
        infrastructure.stop()


def kafka_security(stack: Stack, *arguments: str) -> None:
    """`python -m deploy.kafka_security ...` as the cluster's administrator under the session's topic prefix (in this
    process: the same command without a new interpreter's start)."""
    with contextlib.redirect_stdout(io.StringIO()):
        kafka_security_command(list(arguments), settings=stack.harness())


def with_kafka_principals(stack: Stack) -> Stack:
    """The session's topics and principals, made with the node's own command: one principal per service with the
    rights its code needs, and two LMSs (the node's, and one of another institution)."""
    folder = Path(tempfile.mkdtemp(prefix="mc-test-kafka-"))
    stack = dataclasses.replace(stack, kafka_credentials=folder / "kafka", lms_registry=folder / "lms-registry.json")
    kafka_security(stack, "init", "--dir", str(stack.kafka_credentials))
    for lms in (NODE_LMS, LMS_OF_ANOTHER_INSTITUTION):
        arguments = ["lms", "add", lms.id, "--name", lms.name, "--dir", str(stack.kafka_credentials)]
        arguments += [f"--institution={institution}" for institution in lms.institutions]
        kafka_security(stack, *arguments, "--registry", str(stack.lms_registry))
    return stack


async def clean_up(stack: Stack) -> None:
    """Drop the session's databases and topics."""
    server = make_url(stack.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(server)
    try:
        names = await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{stack.database_prefix}_%")
        for row in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()
    admin = AIOKafkaAdminClient(**client_options(stack.harness()))
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(stack.topic_prefix)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()
    if stack.kafka_admin:
        await asyncio.to_thread(drop_principals, stack.harness(), stack.topic_prefix)


async def produce(stack: Stack, topic: str, value: bytes, key: str, headers: dict[str, str] | None = None) -> None:
    producer = AIOKafkaProducer(**client_options(stack.harness()), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{stack.topic_prefix}{topic}",
            value,
            key=key.encode(),
            headers=[(name, text.encode()) for name, text in (headers or {}).items()],
        )
    finally:
        await producer.stop()


async def read_topic(
    stack: Stack, topic: str, until: Callable[[list[ConsumerRecord]], bool], timeout: float = 30.0
) -> list[ConsumerRecord]:
    """Every record on a topic (named without the session's prefix), from the start, until `until(records)`."""
    consumer = AIOKafkaConsumer(
        f"{stack.topic_prefix}{topic}",
        **client_options(stack.harness()),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        async with asyncio.timeout(timeout):
            while not until(records):
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    except TimeoutError:
        pass
    finally:
        await consumer.stop()
    return records


def cloud_event(record: ConsumerRecord) -> dict:
    return json.loads(record.value)


def header(record: ConsumerRecord, name: str) -> str | None:
    return next((value.decode() for key, value in record.headers if key == name), None)


async def unconsumed(stack: Stack, service_name: str) -> int:
    """How many messages a service's consumer group has not yet committed, over every topic it reads."""
    group = f"{stack.topic_prefix}mc-{service_name}"
    admin = AIOKafkaAdminClient(**client_options(stack.harness()))
    consumer = AIOKafkaConsumer(**client_options(stack.harness()))
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ends = await consumer.end_offsets(list(committed))
        return sum(ends[partition] - offset.offset for partition, offset in committed.items())
    finally:
        await consumer.stop()
        await admin.close()


def wait_until_all_consumed(node, stack: Stack) -> None:
    """Every consuming service of a running node has handled everything on its topics: nothing more is on its way."""
    for service in ("enrolment", "assessment", "certification", "notifications"):
        node.wait_for(f"{service} to catch up", lambda: True if asyncio.run(unconsumed(stack, service)) == 0 else None)
