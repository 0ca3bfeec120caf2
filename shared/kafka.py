"""How every Kafka client of the project connects: the one place where the Kafka settings become connection options.

`security` reads KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD and KAFKA_SSL_CAFILE
into FastStream's security object, which a service's KafkaBroker takes (and shows in its AsyncAPI document);
`client_options` gives the same as keyword arguments for aiokafka's producer, consumer and admin client (the topic
admin, dead-letter replay, the tests' and benchmarks' helpers), translated by FastStream itself. `create_broker` is
the FastStream broker a service reads and publishes with.
"""

import logging
from typing import Any

from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import ServiceSettings

_MECHANISMS = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """The principal and transport security of this process's Kafka connections; None on a PLAINTEXT cluster."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    if not settings.kafka_username or settings.kafka_password is None:
        raise ValueError(
            f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_USERNAME and KAFKA_PASSWORD, the principal's SCRAM "
            "credentials (python -m deploy.kafka_security init makes them)"
        )
    use_ssl = protocol == "SASL_SSL"
    return _MECHANISMS[settings.kafka_sasl_mechanism](
        username=settings.kafka_username,
        password=settings.kafka_password.get_secret_value(),
        # aiokafka's helper verifies the broker's certificate and host name, against the node's CA when given.
        ssl_context=create_ssl_context(cafile=settings.kafka_ssl_cafile) if use_ssl else None,
        use_ssl=use_ssl,
    )


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Keyword arguments for an aiokafka AIOKafkaProducer, AIOKafkaConsumer or AIOKafkaAdminClient."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **parse_security(security(settings))}


def create_broker(settings: ServiceSettings, client_id: str) -> KafkaBroker:
    """A service's broker: its consumer reads and its outbox relay publishes through it (the alliance gateway has a
    second one, for the alliance's cluster). Nothing connects until it starts."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security(settings),
        client_id=client_id,
        # Topics are the administrator's to create (deploy/kafka_security.py); a service has no right to.
        allow_auto_create_topics=False,
        # A subscription to a family of topics (every LMS's, every node's) finds a new member within this time.
        metadata_max_age_ms=30_000,
        acks="all",
        enable_idempotence=True,
        # The outbox relay hands the producer up to 500 events at once: in batches of up to 256 KiB per partition
        # they go in one produce request, where aiokafka's 16 KiB made about one per ten events (below the broker's
        # message.max.bytes, 1 MiB).
        max_batch_size=256 * 1024,
        log_level=logging.DEBUG,  # One line per message is too much at INFO; failures are logged as warnings.
    )
