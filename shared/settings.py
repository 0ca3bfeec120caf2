"""Settings every service reads from the environment; each service subclasses them with its own defaults."""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "service"
    # The CloudEvents `source` of everything this node publishes: the university's node.
    node_uri: str = "urn:microcredentials:node:local"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Lets several nodes, or several test runs, share one Kafka cluster without seeing each other's events.
    topic_prefix: str = ""
    # Partitions bound how many instances of a consumer can share the work; replication 1 suits a single broker.
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # The PostgreSQL server; each service uses its own database on it, named `<database_prefix>_<service_name>`.
    database_url: str = "postgresql+asyncpg://mc:mc@127.0.0.1:5433/postgres"
    database_prefix: str = "mc"

    # The public key that verifies bearer tokens (see shared.auth); without it, every write is refused with 401.
    auth_public_key_file: str | None = None

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # The largest request body a route takes (413 beyond it); routes that take uploads have their own (shared.limits).
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)

    # Consumer behaviour: how often a failing message is retried before it is dead-lettered, and the first backoff.
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, gt=0)
    # Messages that are waiting are handled together, up to this many in one transaction (one commit instead of one
    # per message; bench/bench_issuing.py); a batch that fails is handled again one message at a time.
    consumer_batch_size: int = Field(default=100, ge=1)
    # The outbox relay wakes up on NOTIFY; this is only the fallback poll interval.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Published outbox rows are deleted after this long (the events live on in Kafka); the relay prunes hourly.
    outbox_retention_hours: float = Field(default=168.0, gt=0)

    # `otlp` sends spans to OTEL_EXPORTER_OTLP_ENDPOINT (an OpenTelemetry collector), `console` prints them to stderr,
    # `none` keeps tracing in-process only (trace ids still flow through Kafka and into the logs).
    otel_traces_exporter: Literal["none", "console", "otlp"] = "none"
    # `json`: one JSON object per line, for log collectors; `text` for people reading a terminal.
    log_format: Literal["text", "json"] = "text"

    @property
    def service_database_url(self) -> str:
        """The URL of this service's own database on the configured server."""
        return make_url(self.database_url).set(database=f"{self.database_prefix}_{self.service_name}").render_as_string(
            hide_password=False
        )

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}mc-{self.service_name}"
