"""Settings every service reads from the environment; each service subclasses them with its own defaults."""

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_commas(value: object) -> object:
    """A list as the environment writes it: "a,b,c", or JSON's "[a, b, c]"; pydantic converts the items."""
    if isinstance(value, str):
        return [item.strip().strip('"') for item in value.strip().strip("[]").split(",") if item.strip()]
    return value


# The one way a setting takes several values: `Annotated[tuple[str, ...], NoDecode, CommaSeparated]`.
CommaSeparated = BeforeValidator(_split_commas)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "service"
    # The CloudEvents `source` of everything this node publishes: the university's node.
    node_uri: str = "urn:microcredentials:node:local"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # Who this process is to Kafka (shared/kafka.py turns these into client options). The node's broker requires
    # SASL_SSL with SCRAM-SHA-512, each service its own principal (python -m deploy.kafka_security init); PLAINTEXT
    # only suits a cluster without authentication.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    # The CA that signed the broker's certificate (SASL_SSL); without it, the system's trusted CAs.
    kafka_ssl_cafile: str | None = None
    # Lets several nodes, or several test runs, share one Kafka cluster without seeing each other's events.
    topic_prefix: str = ""
    # Partitions bound how many instances of a consumer can share the work; replication 1 suits a single broker.
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # The PostgreSQL server; each service uses its own database on it, named `<database_prefix>_<service_name>`.
    database_url: str = "postgresql+asyncpg://mc:mc@127.0.0.1:5433/postgres"
    database_prefix: str = "mc"
    # Connections a process keeps open (DATABASE_POOL_SIZE) and how many more it opens, then closes again, when they
    # are all in use (DATABASE_POOL_OVERFLOW). Kept connections should cover the requests and batches usually in
    # flight: an overflow connection costs a connect (and a server process) each time it is opened.
    database_pool_size: int = Field(default=10, ge=1)
    database_pool_overflow: int = Field(default=10, ge=0)

    # Who signs the bearer tokens this node accepts (shared.auth): the node's own Ed25519 key (its public half), and
    # the node's own OpenID Connect providers (issuer URLs, comma-separated: keys from each one's discovery document);
    # members' identity providers come from the alliance registry. With none of them every write is refused with 401.
    auth_public_key_file: str | None = None
    auth_oidc_issuers: Annotated[tuple[str, ...], NoDecode, CommaSeparated] = ()
    # Published keys (OpenID Connect providers', members' jwks_uri) are kept this long, fetched again sooner when a
    # token names a key not yet seen, but never more often than every AUTH_KEYS_REFRESH_MIN_SECONDS per provider (a
    # flood of made-up key ids cannot hammer it); each fetch is bounded by the timeout.
    auth_keys_cache_seconds: float = Field(default=3600.0, gt=0)
    auth_keys_refresh_min_seconds: float = Field(default=10.0, ge=0)
    auth_keys_fetch_timeout_seconds: float = Field(default=5.0, gt=0)

    # The alliance registry (shared.alliance): where it is published (a file path, or an https URL; its signature is
    # beside it at the same place + ".jws"), the alliance's public key(s) it must be signed with (PEM or JWK Set), and
    # how often to look for a new one. Without a URL the node is on its own.
    alliance_registry_url: str | None = None
    alliance_public_key_file: str | None = None
    alliance_registry_poll_seconds: float = Field(default=60.0, gt=0)

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # uvicorn worker processes, each with the whole service (HTTP, consumer, outbox relay): more than one lets HTTP use
    # more than one core (bench/bench_apply.py measures 1 against 2 for enrolment).
    http_workers: int = Field(default=1, ge=1)
    # The largest request body a route takes (413 beyond it); routes that take uploads have their own (shared.limits).
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1)

    # Consumer behaviour: how often a message whose handling fails is retried before it is dead-lettered, and the
    # first backoff. An outage of the database or Kafka is not the message's failure (shared/failures.py): it is
    # waited out, with the same first backoff doubling up to outage_backoff_max_seconds, for as long as it lasts;
    # the consumer, the outbox relay and the delivery worker alike.
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_seconds: float = Field(default=0.2, gt=0)
    outage_backoff_max_seconds: float = Field(default=5.0, gt=0)
    # A consumer that holds a batch longer than this (waiting out an outage) leaves its group; its partitions come back
    # from the last committed offsets, and what it handled meanwhile is recognised as redelivered (Kafka's
    # max.poll.interval.ms).
    consumer_max_poll_interval_seconds: float = Field(default=300.0, gt=0)
    # Messages that are waiting are handled together, up to this many in one transaction (one commit instead of one
    # per message; bench/bench_issuing.py); a batch that fails is handled again one message at a time.
    consumer_batch_size: int = Field(default=100, ge=1)
    # The outbox relay wakes up on NOTIFY; this is only the fallback poll interval.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Woken, the relay waits this long before reading, so that the events of transactions committing close together
    # (HTTP requests, consumer batches) go to Kafka in one produce request and reach each consumer in one fetch.
    outbox_gather_seconds: float = Field(default=0.01, ge=0)
    # Published outbox rows are deleted after this long (the events live on in Kafka); the relay prunes hourly.
    outbox_retention_hours: float = Field(default=168.0, gt=0)

    # `otlp` sends spans to OTEL_EXPORTER_OTLP_ENDPOINT (an OpenTelemetry collector), `console` prints them to stderr,
    # `none` keeps tracing in-process only (trace ids still flow through Kafka and into the logs).
    otel_traces_exporter: Literal["none", "console", "otlp"] = "none"
    # `json`: one JSON object per line, for log collectors; `text` for people reading a terminal.
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _alliance_registry_needs_its_key(self) -> "ServiceSettings":
        if self.alliance_registry_url and not self.alliance_public_key_file:
            raise ValueError("ALLIANCE_REGISTRY_URL needs ALLIANCE_PUBLIC_KEY_FILE: the key the registry must be signed with")
        return self

    @property
    def service_database_url(self) -> str:
        """The URL of this service's own database on the configured server."""
        from sqlalchemy.engine import make_url  # Here, not at the top: command-line tools that import settings start faster.

        return make_url(self.database_url).set(database=f"{self.database_prefix}_{self.service_name}").render_as_string(
            hide_password=False
        )

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}mc-{self.service_name}"
