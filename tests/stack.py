"""The real parts the integration and end-to-end tests run against, and small helpers to read Kafka.

Kafka and PostgreSQL are the servers named by KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else the ones
`deploy/infra.sh start` runs (it starts only what is not running). Each test session works under its own topic
prefix and database prefix, so it never sees a running demo's events or rows, and it drops them at the end.
"""

import asyncio
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from deploy.journey import bearer_header
from shared.auth import Affiliation, Principal, Role, create_keys

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

    def settings(self, settings_class: type, **overrides: object) -> object:
        return settings_class(
            kafka_bootstrap_servers=self.kafka,
            database_url=self.database_url,
            topic_prefix=self.topic_prefix,
            database_prefix=self.database_prefix,
            auth_public_key_file=str(self.auth_public_key),
            **overrides,
        )

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
        }


def start_stack() -> Stack:
    subprocess.run(["bash", str(ROOT / "deploy" / "infra.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    state = Path(os.environ.get("MC_STATE_DIR", ROOT / ".run"))
    written = dict(
        line.removeprefix("export ").split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line
    )
    run = uuid.uuid4().hex[:8]
    private_key, public_key = create_keys(Path(tempfile.mkdtemp(prefix=f"mc-test-{run}-keys-")))
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
    )


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
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(stack.topic_prefix)]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()


async def produce(stack: Stack, topic: str, value: bytes, key: str, headers: dict[str, str] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all")
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
        bootstrap_servers=stack.kafka,
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
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka)
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
