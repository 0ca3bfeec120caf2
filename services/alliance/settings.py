"""The gateway's settings: this node's id in the alliance registry, and how it reaches the alliance's Kafka cluster."""

from typing import Literal

from pydantic import Field, SecretStr

from shared.events.topics import alliance_group
from shared.settings import ServiceSettings


class AllianceSettings(ServiceSettings):
    """The node's own Kafka settings (KAFKA_*, TOPIC_PREFIX) are for the node's cluster, as for every service; the
    ALLIANCE_KAFKA_* settings are for the alliance's cluster, each one the node's own when unset (the local demo and
    the tests run both on one cluster, nodes kept apart by their principals and topic prefixes)."""

    service_name: str = "alliance"
    http_port: int = 8006
    # This node's id in the alliance registry, whose `event_source` must be this node's NODE_URI.
    alliance_node_id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")

    alliance_kafka_bootstrap_servers: str | None = None
    alliance_kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    alliance_kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] | None = None
    # The node's principal on the alliance's cluster (the registry's `kafka_principal`, without `User:`).
    alliance_kafka_username: str | None = None
    alliance_kafka_password: SecretStr | None = None
    alliance_kafka_ssl_cafile: str | None = None
    # The alliance bus's topics are named alike on every node: this prefix is the alliance's, not the node's.
    alliance_topic_prefix: str = ""
    # A listing of a node the registry in use does not list is held this long while the registry is re-read, in case
    # the node has just joined (services/alliance/joining.py); then it is dead-lettered. Below
    # CONSUMER_MAX_POLL_INTERVAL_SECONDS, which the wait counts against.
    alliance_joining_hold_seconds: float = Field(default=60.0, ge=0)

    def bus(self) -> "BusSettings":
        """These settings as seen on the alliance's cluster: its connection, its topic prefix, the gateway's group."""
        values = self.model_dump()
        for name in ("bootstrap_servers", "security_protocol", "sasl_mechanism", "username", "password", "ssl_cafile"):
            own = getattr(self, f"alliance_kafka_{name}")
            values[f"kafka_{name}"] = own if own is not None else getattr(self, f"kafka_{name}")
        return BusSettings(**values | {"topic_prefix": self.alliance_topic_prefix})


class BusSettings(AllianceSettings):
    """The gateway on the alliance's cluster, where every node's gateway reads in a consumer group of its own."""

    @property
    def consumer_group(self) -> str:
        if self.alliance_node_id is None:
            raise ValueError("ALLIANCE_NODE_ID is not set: this node's id in the alliance registry")
        return alliance_group(self.alliance_node_id, self.topic_prefix)
