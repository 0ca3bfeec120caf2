"""The node description: what the kit needs to know about a node to check it from outside, given by its operator.

A JSON document (a file, or a URL that serves it); paths in it are relative to the file. See conformance/example-node.json
and README.md ("Checking a node: the conformance kit").
"""

import json
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from deploy.kafka_security import read_credentials
from services.certification.vc.keys import did_web_location
from shared.settings import ServiceSettings

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications")


class Strict(BaseModel):
    # A misspelt field is an error, not silently ignored: the operator learns what the kit did not understand.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principal(Strict):
    """A Kafka principal's credentials: a username and password, or the librdkafka properties file that
    `python -m deploy.kafka_security` writes (kcat -F reads the same), whose settings win over the `kafka` section's."""

    username: str | None = None
    password: SecretStr | None = None
    properties: Path | None = None

    @model_validator(mode="after")
    def _one_way(self) -> "Principal":
        if (self.properties is None) == (self.username is None):
            raise ValueError("give either `properties` (a credentials file) or `username` and `password`")
        return self


class Lms(Principal):
    # An LMS registered at the node for the test institution: the kit sends grades as it, onto its topic.
    id: str = Field(min_length=1)


class Kafka(Strict):
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    ssl_cafile: Path | None = None
    # The node's TOPIC_PREFIX: its topics are named `<prefix>mc.<service>.<aggregate>`.
    topic_prefix: str = ""
    # May read the node's topics and dead-letter topics (`python -m deploy.kafka_security auditor add conformance`).
    auditor: Principal
    lms: Lms


class Institution(Strict):
    """The institution the kit acts for: its staff create a course, and its LMS grades it. A test institution is best,
    so that the kit's courses never show in a real catalogue."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class Tokens(Strict):
    """How the kit gets bearer tokens the node accepts: a signing key (an Ed25519 PEM the node trusts; the kit makes
    its test users' tokens), or tokens made in advance for each role, with at least three learners."""

    signing_key: Path | None = None
    issuer: str = "urn:microcredentials:conformance"
    course_designer: str | None = Field(default=None, alias="course-designer")
    qa_officer: str | None = Field(default=None, alias="qa-officer")
    registrar: str | None = None
    assessor: str | None = None
    learners: list[str] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _key_or_tokens(self) -> "Tokens":
        staff = (self.course_designer, self.qa_officer, self.registrar, self.assessor)
        if self.signing_key is None and (None in staff or len(self.learners) < 3):
            raise ValueError(
                "give `signing_key`, or a token for each of course-designer, qa-officer, registrar and assessor "
                "and at least three `learners`"
            )
        return self


class Bus(Strict):
    """The alliance's Kafka cluster, as the kit's own node reaches it: the principal the secretariat gave that node
    (`python -m deploy.kafka_security alliance` writes its properties file), the bus's topic prefix."""

    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "SASL_SSL"
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    ssl_cafile: Path | None = None
    topic_prefix: str = ""
    principal: Principal


class Alliance(Strict):
    """The kit as a partner node of the node under test, for the joint-course and endorsement exchanges: a node of the
    alliance registry the node under test follows (`node`, `event_source`, `base_url` as the registry lists them),
    hosting one member institution (`institution`, whose `credential_dids` in the registry name `did`), whose
    endorsements the kit signs with `signing_key` (an Ed25519 PEM) and whose DID document it serves at `base_url`."""

    node: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    event_source: str = Field(min_length=1)
    base_url: str = Field(pattern=r"^https?://")
    institution: Institution
    did: str = Field(pattern=r"^did:web:")
    signing_key: Path
    # The node under test's id in the registry (its `event_source` is the description's `source`).
    node_under_test: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    bus: Bus
    # Where the kit's HTTP server listens, when not at base_url's own host and port (behind a proxy, say).
    listen: str | None = Field(default=None, pattern=r"^[^:]+:[0-9]{1,5}$")

    @model_validator(mode="after")
    def _did_at_base_url(self) -> "Alliance":
        # The node under test fetches the DID document from the kit's node, which the registry says is at base_url.
        try:
            host, _ = did_web_location(self.did)
        except ValueError as error:
            raise ValueError(f"`did`: {error}") from None
        if host != urlsplit(self.base_url).netloc:
            raise ValueError(f"`did` {self.did} is not served at `base_url` {self.base_url} (its host is {host})")
        return self


class NodeDescription(Strict):
    # The node's CloudEvents `source` (its NODE_URI): every event it publishes must carry it.
    source: str = Field(min_length=1)
    # Base URLs of the node's HTTP APIs, by service (one URL for all five if the node serves them together).
    services: dict[Literal[SERVICES], str]  # type: ignore[valid-type]
    kafka: Kafka
    institution: Institution
    tokens: Tokens
    # Optional: without it the joint-course and endorsement checks are not applicable.
    alliance: Alliance | None = None

    @model_validator(mode="after")
    def _every_service(self) -> "NodeDescription":
        if missing := [name for name in SERVICES if name not in self.services]:
            raise ValueError(f"`services` lacks the base URL of {', '.join(missing)}")
        return self

    def url(self, service: str, path: str) -> str:
        return self.services[service].rstrip("/") + path

    def kafka_settings(self, principal: Principal, cluster: "Kafka | Bus | None" = None) -> ServiceSettings:
        """A principal's connection (to the node's cluster, or to `cluster`: the alliance bus) as the project's Kafka
        settings (shared.kafka.client_options takes them)."""
        cluster = cluster or self.kafka
        fields: dict[str, object] = {
            "kafka_bootstrap_servers": cluster.bootstrap_servers,
            "kafka_security_protocol": cluster.security_protocol,
            "kafka_sasl_mechanism": cluster.sasl_mechanism,
            "kafka_ssl_cafile": str(cluster.ssl_cafile) if cluster.ssl_cafile else None,
            "kafka_username": principal.username,
            "kafka_password": principal.password,
            "topic_prefix": cluster.topic_prefix,
        }
        if principal.properties is not None:
            fields |= read_credentials(principal.properties)
        if not fields["kafka_bootstrap_servers"]:
            raise ValueError("the node description names no Kafka `bootstrap_servers`")
        return ServiceSettings(**fields)


class InvalidDescription(ValueError):
    """The description cannot be read, or is not one; the message says where and why."""


def load(location: str) -> NodeDescription:
    """The description at a path or an http(s) URL; relative paths in a file are taken from the file's folder."""
    if location.startswith(("http://", "https://")):
        try:
            response = httpx.get(location, timeout=30, follow_redirects=False)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise InvalidDescription(f"cannot fetch the node description {location}: {error}") from error
        text, base = response.text, Path.cwd()
    else:
        path = Path(location)
        try:
            text = path.read_text()
        except OSError as error:
            raise InvalidDescription(f"cannot read the node description {location}: {error}") from error
        base = path.resolve().parent
    try:
        document = json.loads(text)
        return _resolved(NodeDescription.model_validate(document), base)
    except json.JSONDecodeError as error:
        raise InvalidDescription(f"{location} is not JSON: {error}") from error
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors())
        raise InvalidDescription(f"{location} is not a node description: {problems}") from error


def _resolved(description: NodeDescription, base: Path) -> NodeDescription:
    def path(value: Path | None) -> Path | None:
        return value if value is None or value.is_absolute() else base / value

    kafka, alliance = description.kafka, description.alliance
    if alliance is not None:
        bus = alliance.bus
        alliance = alliance.model_copy(
            update={
                "signing_key": path(alliance.signing_key),
                "bus": bus.model_copy(
                    update={
                        "ssl_cafile": path(bus.ssl_cafile),
                        "principal": bus.principal.model_copy(update={"properties": path(bus.principal.properties)}),
                    }
                ),
            }
        )
    return description.model_copy(
        update={
            "alliance": alliance,
            "kafka": kafka.model_copy(
                update={
                    "ssl_cafile": path(kafka.ssl_cafile),
                    "auditor": kafka.auditor.model_copy(update={"properties": path(kafka.auditor.properties)}),
                    "lms": kafka.lms.model_copy(update={"properties": path(kafka.lms.properties)}),
                }
            ),
            "tokens": description.tokens.model_copy(update={"signing_key": path(description.tokens.signing_key)}),
        }
    )
