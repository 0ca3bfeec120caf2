"""Kafka security of a node: who may connect (SCRAM principals), what each may do (ACLs), and the LMS registry.

    python -m deploy.kafka_security broker --config FILE --data DIR ...   the broker's TLS and config (deploy/infra.sh)
    python -m deploy.kafka_security init                                   the node's topics, and a principal per service
    python -m deploy.kafka_security lms add <lms-id> --institution <id> [--name NAME]
    python -m deploy.kafka_security lms remove <lms-id>
    python -m deploy.kafka_security auditor add|remove <name>              a principal that may only read the node's topics
    python -m deploy.kafka_security acls                                   the ACLs the broker holds for the node
    python -m deploy.kafka_security alliance --registry R --public-key K   the alliance bus (the secretariat's)

`init`, `lms` and `acls` act as the node's administrator, a super user of the cluster: the Kafka settings of the
environment (`source .run/env` after `deploy/infra.sh start`). Each principal's credentials are written as a
librdkafka properties file, `<dir>/<principal>.properties` (0600): kcat takes it with `-F`, `deploy/node.sh` reads it
into the service's KAFKA_USERNAME and KAFKA_PASSWORD. The directory is the node's keys directory
(`$MC_KEYS_DIR/kafka`, by default `.run/keys/kafka`), outside the repository.

Each right is derived from the code: a service may write the topics of its contracts (shared/events/<service>.py)
and its dead-letter topic, read the topics it consumes (its `consumes`) with its own consumer group, and nothing else;
an LMS may write its own grade-submission topic and nothing else; an auditor (the conformance kit, a monitoring
tool) may read the node's topics, dead letters included, and nothing else. Topics are created here, by the administrator, never
by a service: creating a topic fixes its partitions for good, and a consumer must find its topics before anything is
written to them. With a TOPIC_PREFIX (a test run, nodes sharing a cluster) every name, the principals' included, is
under the prefix.

`alliance` is the secretariat's, run as the administrator of the alliance's cluster, from the signed registry: each
node's catalogue topic (compacted) and the topics of the messages it addresses to each partner, and each node's
principal (the registry's `kafka_principal`) with exactly these rights: WRITE on everything under `alliance.<node-id>.`
(a prefixed ACL: a node writes under its own name and no other), READ on each other node's catalogue topic and on the
messages addressed to it, READ on its gateway's consumer group `alliance.<node-id>.gateway`. A node that left the
registry loses its rights and its password on the next run. Credentials of new principals are written to `--dir` for
the secretariat to hand to each node. Here TOPIC_PREFIX is the alliance's (ALLIANCE_TOPIC_PREFIX at the nodes).
"""

import argparse
import asyncio
import datetime
import ipaddress
from importlib import import_module
import os
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from services.assessment.lms_registry import RegisteredLms, load, save
from shared.alliance import AllianceRegistry, RegistryRefused
from shared.alliance.commands import CommandError, verify_location
from shared.events import dead_letter_topic, topic_name
from shared.events.topics import (
    addressed_topic,
    alliance_catalogue_topic,
    alliance_group,
    alliance_prefix,
    family_prefix,
    is_family,
    lms_topic,
)
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics, node_topics, published_topics

ROOT = Path(__file__).resolve().parent.parent
# The node's services; the alliance gateway's principal is made on every node, used by those of an alliance.
SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications", "alliance")
BROKER_PRINCIPAL = "mc-broker"
ADMIN_PRINCIPAL = "mc-admin"
SCRAM_ITERATIONS = 8192
CA_VALIDITY = datetime.timedelta(days=3650)
CERTIFICATE_VALIDITY = datetime.timedelta(days=825)


def keys_dir() -> Path:
    """The node's keys directory, as deploy/node.sh names it."""
    state = Path(os.environ.get("MC_STATE_DIR") or ROOT / ".run")
    return Path(os.environ.get("MC_KEYS_DIR") or state / "keys")


def service_principal(service_name: str, prefix: str = "") -> str:
    """A service's principal; the same name as its consumer group."""
    return f"{prefix}mc-{service_name}"


def lms_principal(lms_id: str, prefix: str = "") -> str:
    return f"{prefix}lms-{lms_id}"


def auditor_principal(name: str, prefix: str = "") -> str:
    return f"{prefix}auditor-{name}"


# --- credentials files (librdkafka properties) ---------------------------------------------------------------------


def librdkafka_config(settings: ServiceSettings) -> dict[str, str]:
    """The Kafka settings in librdkafka's names: kcat's `-F` file, and this module's admin client."""
    config = {"bootstrap.servers": settings.kafka_bootstrap_servers, "security.protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol != "PLAINTEXT":
        config |= {
            "sasl.mechanisms": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_username or "",
            "sasl.password": settings.kafka_password.get_secret_value() if settings.kafka_password else "",
        }
    if settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = settings.kafka_ssl_cafile
    return config


def write_credentials(folder: Path, settings: ServiceSettings) -> Path:
    """Write a principal's settings as `<folder>/<principal>.properties`, readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{settings.kafka_username}.properties"
    text = f"# Kafka credentials of principal {settings.kafka_username} (python -m deploy.kafka_security); kcat -F <file>\n"
    text += "".join(f"{name}={value}\n" for name, value in librdkafka_config(settings).items())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)
    return path


def read_credentials(path: Path) -> dict[str, str]:
    """A credentials file as ServiceSettings' field values (kafka_security_protocol, kafka_username, ...)."""
    properties = dict(
        line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    names = {
        "bootstrap.servers": "kafka_bootstrap_servers",
        "security.protocol": "kafka_security_protocol",
        "sasl.mechanisms": "kafka_sasl_mechanism",
        "sasl.username": "kafka_username",
        "sasl.password": "kafka_password",
        "ssl.ca.location": "kafka_ssl_cafile",
    }
    return {names[key]: value for key, value in properties.items() if key in names}


def as_environment(fields: dict[str, str]) -> dict[str, str]:
    """Settings' field values as the environment variables a process is started with."""
    return {name.upper(): value for name, value in fields.items()}


def principal_settings(admin: ServiceSettings, username: str, password: str) -> ServiceSettings:
    """The administrator's connection settings with another principal's credentials."""
    return admin.model_copy(update={"kafka_username": username, "kafka_password": SecretStr(password)})


def existing_password(folder: Path, principal: str) -> str | None:
    path = folder / f"{principal}.properties"
    return read_credentials(path).get("kafka_password") if path.exists() else None


# --- what each principal may do --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: ALLOW `operation` on a resource (a literal name, or every name with a prefix), from any host."""

    resource: str  # "TOPIC" or "GROUP"
    pattern: str  # "LITERAL" or "PREFIXED"
    name: str
    operation: str  # "READ" or "WRITE" (each implies DESCRIBE)

    def __str__(self) -> str:
        match = "" if self.pattern == "LITERAL" else " (prefix)"
        return f"{self.operation:<5} {self.resource.lower()} {self.name}{match}"


def service_grants(service_name: str, consumes: Sequence[str], consumer: bool, prefix: str = "") -> list[Grant]:
    """Least privilege for a service: write its contracts' topics and its dead-letter topic, read what it consumes in
    its own consumer group. WRITE on a topic also lets its idempotent producer get a producer id (KIP-679)."""
    grants = [Grant("TOPIC", "LITERAL", topic_name(topic, prefix), "WRITE") for topic in published_topics(service_name)]
    if consumer:
        grants.append(Grant("TOPIC", "LITERAL", dead_letter_topic(service_name, prefix), "WRITE"))
        grants.append(Grant("GROUP", "LITERAL", service_principal(service_name, prefix), "READ"))
    for topic in consumes:
        if is_family(topic):
            grants.append(Grant("TOPIC", "PREFIXED", family_prefix(topic, prefix), "READ"))
        else:
            grants.append(Grant("TOPIC", "LITERAL", topic_name(topic, prefix), "READ"))
    return sorted(set(grants))


def lms_grants(lms_id: str, prefix: str = "") -> list[Grant]:
    """An LMS writes its own grade-submission topic, nothing else."""
    return [Grant("TOPIC", "LITERAL", lms_topic(lms_id, prefix), "WRITE")]


def alliance_topics(registry: AllianceRegistry, prefix: str = "") -> list[str]:
    """The alliance bus: each node's catalogue, and a topic for each node's messages to each partner."""
    nodes = [node.id for node in registry.nodes]
    return [alliance_catalogue_topic(node, prefix) for node in nodes] + [
        addressed_topic(sender, recipient, prefix) for sender in nodes for recipient in nodes if sender != recipient
    ]


def alliance_grants(registry: AllianceRegistry, node_id: str, prefix: str = "") -> list[Grant]:
    """A node's rights on the alliance bus: it writes under its own name only, reads the other nodes' catalogues and
    what they address to it, in its own consumer group."""
    grants = [
        Grant("TOPIC", "PREFIXED", alliance_prefix(node_id, prefix), "WRITE"),
        Grant("GROUP", "LITERAL", alliance_group(node_id, prefix), "READ"),
    ]
    for other in registry.nodes:
        if other.id != node_id:
            grants.append(Grant("TOPIC", "LITERAL", alliance_catalogue_topic(other.id, prefix), "READ"))
            grants.append(Grant("TOPIC", "LITERAL", addressed_topic(other.id, node_id, prefix), "READ"))
    return sorted(grants)


def kafka_user(principal: str) -> str:
    """The SCRAM user name of a principal as ACLs name it (`User:saarland` -> `saarland`)."""
    return principal.removeprefix("User:")


def auditor_grants(consumers: Iterable[str], prefix: str = "") -> list[Grant]:
    """An auditor reads every topic the node's services publish on and their dead-letter topics, without a consumer
    group (it reads from where it chooses and commits nothing), and writes nothing."""
    return sorted(Grant("TOPIC", "LITERAL", topic, "READ") for topic in node_topics(prefix, consumers))


def node_services() -> list[tuple[str, list[str], bool]]:
    """(name, topics it consumes, whether it consumes) of each service, from the services' own definitions."""
    found = []
    for name in SERVICES:
        service = import_module(f"services.{name}.app").create_service()
        found.append((name, [str(topic) for topic in service.consumes], bool(service.handlers)))
    return found


# --- the broker's side ------------------------------------------------------------------------------------------------


class KafkaAdmin:
    """SCRAM credentials and ACLs through Kafka's admin API (confluent-kafka: aiokafka has neither), as a super user."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self._client = AdminClient(librdkafka_config(settings))

    def set_password(self, principal: str, password: str) -> None:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        for future in self._client.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(principal, info, password.encode())]
        ).values():
            future.result()

    def wait_until_accepted(self, principal: str, password: str, timeout: float = 60.0) -> None:
        """Return once the broker lets the principal log in with this password. A credential is committed by the
        controller before every broker has applied it: a file handed out at once can be refused for a moment (seen
        here: kcat refused with `invalid credentials` right after `alliance`)."""
        # Quiet: a refusal here is expected for a moment, and reported below if it lasts.
        config = librdkafka_config(principal_settings(self.settings, principal, password)) | {"log_level": "0"}
        deadline = time.monotonic() + timeout
        while True:
            try:
                AdminClient(config).list_topics(timeout=5)
                return
            except KafkaException as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the broker does not accept the new password of {principal}: {error}") from error
                time.sleep(0.5)

    def retire_principal(self, principal: str) -> None:
        """Make the principal unusable: a new random password that nobody is given (its ACLs are revoked apart).

        Not a deletion: with Kafka 3.9.1, once a deleted SCRAM credential is in the metadata log, the restarted broker
        accepts no SCRAM login at all (seen here: create a user, delete it, restart; even the administrator is then
        refused), while replacing a password survives restarts.
        """
        self.set_password(principal, secrets.token_urlsafe(48))

    def principals(self, prefix: str = "") -> list[str]:
        """The SCRAM principals whose name starts with the prefix."""
        result = self._client.describe_user_scram_credentials().result()
        return sorted(name for name in result if name.startswith(prefix))

    def grant(self, principal: str, grants: Iterable[Grant]) -> None:
        """Make the principal's ACLs exactly these: add what is missing, delete what is no longer derived."""
        wanted = set(grants)
        held = self.grants(principal)
        if stale := held - wanted:
            self._delete(principal, stale)
        if missing := wanted - held:
            bindings = [
                AclBinding(g.resource, g.name, g.pattern, f"User:{principal}", "*", g.operation, AclPermissionType.ALLOW)
                for g in sorted(missing)
            ]
            for future in self._client.create_acls(bindings).values():
                future.result()

    def grants(self, principal: str) -> set[Grant]:
        found = self._client.describe_acls(
            AclBindingFilter(
                ResourceType.ANY, None, ResourcePatternType.ANY, f"User:{principal}", None, AclOperation.ANY,
                AclPermissionType.ANY,
            )
        ).result()
        return {Grant(b.restype.name, b.resource_pattern_type.name, b.name, b.operation.name) for b in found}

    def holders(self, name_prefix: str) -> set[str]:
        """The principals that hold a right on any resource whose name starts with `name_prefix`."""
        found = self._client.describe_acls(
            AclBindingFilter(
                ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
            )
        ).result()
        return {kafka_user(b.principal) for b in found if b.name.startswith(name_prefix)}

    def revoke_all(self, principal: str) -> None:
        self._delete(principal, self.grants(principal))

    def _delete(self, principal: str, grants: Iterable[Grant]) -> None:
        filters = [
            AclBindingFilter(g.resource, g.name, g.pattern, f"User:{principal}", "*", g.operation, AclPermissionType.ALLOW)
            for g in grants
        ]
        if filters:
            for future in self._client.delete_acls(filters).values():
                future.result()


def _ensure_principal(
    admin: KafkaAdmin, folder: Path, principal: str, grants: Sequence[Grant]
) -> Path:
    """Create (or keep) the principal's password, set it on the broker, grant exactly these rights, write the file."""
    password = existing_password(folder, principal) or secrets.token_urlsafe(32)
    admin.set_password(principal, password)
    admin.grant(principal, grants)
    admin.wait_until_accepted(principal, password)
    return write_credentials(folder, principal_settings(admin.settings, principal, password))


def init(settings: ServiceSettings, folder: Path) -> dict[str, list[Grant]]:
    """The node's topics, and each service's principal with its rights; returns the rights granted per principal.
    Auditors whose credentials are in the folder get the rights of the node's topics as they are now."""
    prefix = settings.topic_prefix
    services = node_services()
    consumers = [name for name, _, consumer in services if consumer]
    asyncio.run(ensure_topics(settings, node_topics(prefix, consumers)))
    admin = KafkaAdmin(settings)
    granted = {}
    for name, consumes, consumer in services:
        principal = service_principal(name, prefix)
        granted[principal] = service_grants(name, consumes, consumer, prefix)
        _ensure_principal(admin, folder, principal, granted[principal])
    for path in folder.glob(f"{auditor_principal('*', prefix)}.properties"):
        principal = path.name.removesuffix(".properties")
        granted[principal] = auditor_grants(consumers, prefix)
        admin.grant(principal, granted[principal])
    return granted


def add_auditor(settings: ServiceSettings, folder: Path, name: str) -> Path:
    """A principal that reads the node's topics and nothing else; returns its credentials file."""
    consumers = [service for service, _, consumer in node_services() if consumer]
    principal = auditor_principal(name, settings.topic_prefix)
    return _ensure_principal(KafkaAdmin(settings), folder, principal, auditor_grants(consumers, settings.topic_prefix))


def remove_principal(settings: ServiceSettings, folder: Path, principal: str) -> None:
    """The principal can no longer connect or do anything; its credentials file is deleted."""
    admin = KafkaAdmin(settings)
    admin.revoke_all(principal)
    admin.retire_principal(principal)
    (folder / f"{principal}.properties").unlink(missing_ok=True)


def add_lms(
    settings: ServiceSettings, folder: Path, registry: Path, lms: RegisteredLms
) -> Path:
    """Register an LMS: its principal, allowed to write its own topic only, the topic, and the registry entry."""
    prefix = settings.topic_prefix
    asyncio.run(ensure_topics(settings, [lms_topic(lms.id, prefix)]))
    path = _ensure_principal(KafkaAdmin(settings), folder, lms_principal(lms.id, prefix), lms_grants(lms.id, prefix))
    save(registry, load(registry).with_lms(lms))
    return path


def remove_lms(settings: ServiceSettings, folder: Path, registry: Path, lms_id: str) -> None:
    """The LMS can no longer connect, write, or be believed. Its topic stays: what it holds is still read (and
    dead-lettered, as from an LMS that is not registered), and can be audited."""
    remove_principal(settings, folder, lms_principal(lms_id, settings.topic_prefix))
    save(registry, load(registry).without(lms_id))


def alliance(settings: ServiceSettings, folder: Path, registry: AllianceRegistry) -> dict[str, list[Grant]]:
    """The alliance bus as the registry says: topics, each node's principal and rights; the rights and password of a
    principal whose node left the registry are taken. Returns the rights granted per principal."""
    prefix = settings.topic_prefix
    asyncio.run(ensure_topics(settings, alliance_topics(registry, prefix)))
    admin = KafkaAdmin(settings)
    granted = {}
    for node in registry.nodes:
        principal = kafka_user(node.kafka_principal)
        granted[principal] = alliance_grants(registry, node.id, prefix)
        _ensure_principal(admin, folder, principal, granted[principal])
    for gone in admin.holders(topic_name("alliance.", prefix)) - set(granted):
        admin.revoke_all(gone)
        admin.retire_principal(gone)
        (folder / f"{gone}.properties").unlink(missing_ok=True)
    return granted


def drop_principals(settings: ServiceSettings, prefix: str) -> list[str]:
    """Take every right from the principals whose name starts with the prefix (a finished test run's), and retire
    them (see KafkaAdmin.retire_principal)."""
    if not prefix:
        raise ValueError("refusing to drop every principal of the cluster: give the prefix of a test run")
    admin = KafkaAdmin(settings)
    dropped = admin.principals(prefix)
    for principal in dropped:
        admin.revoke_all(principal)
        admin.retire_principal(principal)
    return dropped


# --- the broker's own configuration ------------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Micro-credentials node"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def ensure_certificates(folder: Path, hosts: Sequence[str]) -> tuple[Path, Path]:
    """The node's CA (ca.pem, shared with every client; ca-key.pem stays here) and the broker's key and certificate,
    signed by it, for these host names and addresses (broker-keystore.pem, a PEM keystore Kafka reads directly).
    Made once; the broker's certificate is made again when the hosts change or it is about to expire."""
    ca_file, ca_key_file, keystore = folder / "ca.pem", folder / "ca-key.pem", folder / "broker-keystore.pem"
    now = datetime.datetime.now(datetime.UTC)
    if not (ca_file.exists() and ca_key_file.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca = (
            x509.CertificateBuilder().subject_name(_name("Micro-credentials node Kafka CA")).issuer_name(
                _name("Micro-credentials node Kafka CA")).public_key(key.public_key()).serial_number(
                x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(
                now + CA_VALIDITY).add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write_private(ca_key_file, _pem_key(key))
        ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        os.chmod(ca_file, 0o644)
        keystore.unlink(missing_ok=True)
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    if keystore.exists():
        current = x509.load_pem_x509_certificates(keystore.read_bytes())[0]
        san = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        fresh = current.not_valid_after_utc - now > datetime.timedelta(days=30)
        if fresh and set(san) == set(names) and current.issuer == ca.subject:
            return ca_file, keystore
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = (
        x509.CertificateBuilder().subject_name(_name(hosts[0])).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(keystore, _pem_key(key) + certificate.public_bytes(serialization.Encoding.PEM) + ca_file.read_bytes())
    return ca_file, keystore


def _secret(path: Path) -> str:
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(32).encode())
    return path.read_text().strip()


def broker(args: argparse.Namespace) -> None:
    """Render the broker's server.properties with its TLS files and its own and the administrator's credentials; print
    the `--add-scram` arguments with which `kafka-storage format` bootstraps their SCRAM credentials (KIP-900)."""
    folder = Path(args.keys)
    protocol = args.protocol
    ca_file, keystore = ensure_certificates(folder, args.host)
    broker_password = _secret(folder / f"{BROKER_PRINCIPAL}.password")
    admin_password = existing_password(folder, ADMIN_PRINCIPAL)
    if admin_password is None:
        if (Path(args.data) / "meta.properties").exists():
            raise SystemExit(
                f"{folder / (ADMIN_PRINCIPAL + '.properties')} is missing, but the broker's storage in {args.data} was "
                "formatted with the administrator's credentials it held: restore the file, or start afresh with "
                "`deploy/infra.sh reset`"
            )
        admin_password = secrets.token_urlsafe(32)
    admin = ServiceSettings(
        kafka_bootstrap_servers=f"{args.advertise}:{args.port}",
        kafka_security_protocol=protocol,
        kafka_username=ADMIN_PRINCIPAL,
        kafka_password=admin_password,
        kafka_ssl_cafile=str(ca_file) if protocol == "SASL_SSL" else None,
    )
    write_credentials(folder, admin)
    values = {
        "KAFKA_PORT": str(args.port),
        "KAFKA_CONTROLLER_PORT": str(args.controller_port),
        "KAFKA_LISTEN": args.listen,
        "KAFKA_ADVERTISED": args.advertise,
        "KAFKA_DATA_DIR": args.data,
        "CLIENT_PROTOCOL": protocol,
        "BROKER_PRINCIPAL": BROKER_PRINCIPAL,
        "BROKER_PASSWORD": broker_password,
        "ADMIN_PRINCIPAL": ADMIN_PRINCIPAL,
        "BROKER_KEYSTORE": str(keystore),
        "CA_FILE": str(ca_file),
    }
    text = Path(args.template).read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if protocol != "SASL_SSL":  # TLS settings would make the broker insist on a keystore it does not use.
        text = "\n".join(line for line in text.splitlines() if not line.startswith("ssl.")) + "\n"
    _write_private(Path(args.config), text.encode())
    for principal, password in ((BROKER_PRINCIPAL, broker_password), (ADMIN_PRINCIPAL, admin_password)):
        print(f"SCRAM-SHA-512=[name={principal},iterations={SCRAM_ITERATIONS},password={password}]")


# --- the command line ------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, settings: ServiceSettings | None = None) -> None:
    """The command line; `settings` (the administrator's connection) default to the environment's."""
    parser = argparse.ArgumentParser(prog="python -m deploy.kafka_security", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    b = commands.add_parser("broker", help="the broker's TLS files and server.properties (deploy/infra.sh runs it)")
    b.add_argument("--keys", default=str(keys_dir() / "kafka"), help="where the CA, keys and credentials are kept")
    b.add_argument("--template", default=str(ROOT / "deploy" / "kafka" / "server.properties.in"))
    b.add_argument("--config", required=True, help="the server.properties to write (0600)")
    b.add_argument("--data", required=True, help="the broker's log.dirs")
    b.add_argument("--port", type=int, default=9092)
    b.add_argument("--controller-port", type=int, default=9093)
    b.add_argument("--listen", default="127.0.0.1")
    b.add_argument("--advertise", default="127.0.0.1")
    b.add_argument("--host", action="append", help="a name or address clients reach the broker by (repeatable)")
    b.add_argument("--protocol", choices=["SASL_SSL", "SASL_PLAINTEXT"], default="SASL_SSL")

    def where(sub: argparse.ArgumentParser) -> None:
        default = os.environ.get("MC_KAFKA_CREDENTIALS") or str(keys_dir() / "kafka")
        sub.add_argument("--dir", default=default, help="where credentials files are written")

    i = commands.add_parser("init", help="the node's topics and each service's principal and rights (idempotent)")
    where(i)
    a = commands.add_parser("acls", help="the rights the broker holds for the node's principals")
    where(a)
    al = commands.add_parser("alliance", help="the alliance bus's topics, and each node's principal and rights")
    where(al)
    al.add_argument("--registry", required=True, help="the signed alliance registry (a file or an https URL)")
    al.add_argument("--public-key", required=True, help="the alliance's public key(s) it must be signed with")
    lms = commands.add_parser("lms", help="register or remove an LMS").add_subparsers(dest="action", required=True)
    add = lms.add_parser("add", help="an LMS's principal, topic and registry entry")
    add.add_argument("lms_id")
    add.add_argument("--institution", action="append", required=True, help="an institution it grades for (repeatable)")
    add.add_argument("--name", help="what people call it, e.g. 'Moodle of Saarland University'")
    remove = lms.add_parser("remove", help="take an LMS's principal, rights and registry entry away")
    remove.add_argument("lms_id")
    for sub in (add, remove):
        where(sub)
        sub.add_argument("--registry", default=os.environ.get("LMS_REGISTRY_FILE") or str(keys_dir() / "lms-registry.json"))
    auditor = commands.add_parser("auditor", help="a principal that may only read the node's topics (python -m conformance)")
    auditor_actions = auditor.add_subparsers(dest="action", required=True)
    for action, text in (("add", "make it, or give it the rights of topics added since"), ("remove", "take it away")):
        sub = auditor_actions.add_parser(action, help=text)
        sub.add_argument("name", help="e.g. conformance")
        where(sub)

    args = parser.parse_args(argv)
    if args.command == "broker":
        args.host = args.host or ["localhost", "127.0.0.1"]
        broker(args)
        return
    settings = settings or ServiceSettings()
    folder = Path(args.dir)
    if args.command == "init":
        for principal, grants in init(settings, folder).items():
            print(f"{principal}: {len(grants)} rights, credentials in {folder / (principal + '.properties')}")
    elif args.command == "alliance":
        try:
            registry = verify_location(args.registry, Path(args.public_key), datetime.datetime.now(datetime.UTC))
        except (CommandError, RegistryRefused) as refused:
            raise SystemExit(f"alliance registry {args.registry} refused: {refused}") from None
        for principal, grants in alliance(settings, folder, registry).items():
            print(f"{principal}: {len(grants)} rights on the alliance bus, credentials in {folder / (principal + '.properties')}")
    elif args.command == "acls":
        admin = KafkaAdmin(settings)
        for principal in admin.principals(settings.topic_prefix):
            print(principal)
            for grant in sorted(admin.grants(principal)):
                print(f"    {grant}")
    elif args.command == "auditor":
        principal = auditor_principal(args.name, settings.topic_prefix)
        if args.action == "add":
            path = add_auditor(settings, folder, args.name)
            print(f"{principal} may read the node's topics; its credentials are in {path}")
        else:
            remove_principal(settings, folder, principal)
            print(f"{principal} removed: no rights, and a password nobody holds")
    elif args.action == "add":
        entry = RegisteredLms(id=args.lms_id, name=args.name or args.lms_id, institutions=tuple(args.institution))
        path = add_lms(settings, folder, Path(args.registry), entry)
        print(f"LMS {entry.id} grades for {', '.join(entry.institutions)}; it writes {lms_topic(entry.id, settings.topic_prefix)}"
              f" with the credentials in {path} (kcat -F {path} ...)")
    else:
        remove_lms(settings, folder, Path(args.registry), args.lms_id)
        print(f"LMS {args.lms_id} removed: no principal, no rights, not in {args.registry}")


if __name__ == "__main__":
    main(sys.argv[1:])
