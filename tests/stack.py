"""The real parts the integration and end-to-end tests run against, and small helpers to read Kafka.

Kafka and PostgreSQL are the servers named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else the ones
`deploy/infra.sh start` runs (it starts only what is not running). Each test session works under its own topic
prefix and database prefix, so it never sees a running demo's events or rows, and it drops them at the end.
"""

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from deploy.journey import LMS_OF_ANOTHER_INSTITUTION, NODE_LMS, bearer_header
from deploy.kafka_security import as_environment, drop_principals, read_credentials, service_principal
from deploy.kafka_security import main as kafka_security_command
from shared.auth import Principal, Role, create_keys
from shared.kafka import client_options
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parent.parent


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
        self, subject: str, *roles: Role, institution: str | None = None, name: str | None = None, email: str | None = None
    ) -> dict[str, str]:
        """The Authorization header of a person with these roles at this institution."""
        principal = Principal(
            subject=subject, name=name or subject, roles=frozenset(roles), institution=institution, email=email
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
        }


def start_stack() -> Stack:
    subprocess.run(["bash", str(ROOT / "deploy" / "infra.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    state = Path(os.environ.get("MC_STATE_DIR", ROOT / ".run"))
    written = dict(
        line.removeprefix("export ").split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line
    )
    run = uuid.uuid4().hex[:8]
    private_key, public_key = create_keys(Path(tempfile.mkdtemp(prefix=f"mc-test-{run}-keys-")))
    kafka_admin = {
        name.lower(): value
        for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_USERNAME", "KAFKA_PASSWORD", "KAFKA_SSL_CAFILE")
        if (value := os.environ.get(name) or written.get(name))
    }
    return Stack(
        kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or written["KAFKA_BOOTSTRAP_SERVERS"],
        database_url=os.environ.get("DATABASE_URL") or written["DATABASE_URL"],
        smtp_host=written["SMTP_HOST"],
        smtp_port=int(written["SMTP_PORT"]),
        maildir=Path(written["MAILDIR"]),
        topic_prefix=f"test-{run}.",
        database_prefix=f"test_{run}",
        auth_private_key=private_key,
        auth_public_key=public_key,
        kafka_admin=kafka_admin,
    )


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
