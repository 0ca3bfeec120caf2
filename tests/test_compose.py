"""docker-compose.yml and the Dockerfile stay in step with the local node (deploy/node.sh).

No Docker engine is needed: the compose file is only parsed. Each service must get every variable that
`deploy/node.sh env <service>` starts it with, so a setting added to the local path cannot be forgotten here.
"""

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
SERVICES = ["catalogue", "enrolment", "assessment", "certification", "notifications"]


@cache
def compose() -> dict[str, Any]:
    with COMPOSE.open() as file:
        return yaml.safe_load(file)


def compose_service(name: str) -> dict[str, Any]:
    services = compose().get("services") or {}
    assert name in services, f"docker-compose.yml: no service {name!r} under services (has {sorted(services)})"
    return services[name]


@cache
def node_env(name: str, state_dir: str) -> dict[str, str]:
    """What `deploy/node.sh env NAME` prints, as a dict; it needs no running infrastructure."""
    result = subprocess.run(
        ["bash", "deploy/node.sh", "env", name],
        cwd=ROOT,
        # An empty state directory: the output must not depend on a local node having been started.
        env={**os.environ, "MC_STATE_DIR": state_dir},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, f"deploy/node.sh env {name} failed ({result.returncode}): {result.stderr}"
    env = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition("=")
        assert sep and key, f"deploy/node.sh env {name}: not a KEY=VALUE line: {line!r}"
        env[key] = value
    assert env, f"deploy/node.sh env {name} printed no variables"
    return env


def service_environment(name: str) -> dict[str, str | None]:
    """A compose service's environment, from either the mapping or the list form."""
    environment = compose_service(name).get("environment") or {}
    if isinstance(environment, dict):
        return {key: None if value is None else str(value) for key, value in environment.items()}
    entries = {}
    for entry in environment:
        key, sep, value = str(entry).partition("=")
        entries[key] = value if sep else None
    return entries


def published_ports(name: str) -> list[tuple[str, str]]:
    """(host port, container port) for each of a service's `ports`, short or long syntax."""
    pairs = []
    for entry in compose_service(name).get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((str(entry.get("published", "")), str(entry.get("target", ""))))
            continue
        spec = str(entry).split("/")[0]  # drop a /tcp or /udp suffix
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:  # container port only: the host port is random
            pairs.append(("", parts[0]))
        else:  # [ip:]host:container
            pairs.append((parts[-2], parts[-1]))
    return pairs


def command_words(name: str) -> list[str]:
    command = compose_service(name).get("command") or []
    return command.split() if isinstance(command, str) else [str(word) for word in command]


def kafka_version_in_pom() -> str:
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    for dependency in ET.parse(KAFKA_POM).getroot().iterfind(".//m:dependency", namespace):
        if dependency.findtext("m:artifactId", namespaces=namespace) == "kafka_2.13":
            version = dependency.findtext("m:version", namespaces=namespace)
            assert version, f"{KAFKA_POM.relative_to(ROOT)}: kafka_2.13 has no <version>"
            return version.strip()
    pytest.fail(f"{KAFKA_POM.relative_to(ROOT)}: no dependency on artifact kafka_2.13")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("node-state"))


def test_compose_file_uses_the_compose_spec() -> None:
    assert isinstance(compose(), dict), "docker-compose.yml: not a YAML mapping"
    assert "version" not in compose(), (
        "docker-compose.yml: has a top-level `version:` key, obsolete in the Compose spec"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_its_own_module(name: str) -> None:
    words = command_words(name)
    assert f"services.{name}" in words, (
        f"docker-compose.yml: service {name!r} command {words} does not run services.{name}"
    )
    assert "serve" in words, f"docker-compose.yml: service {name!r} command {words} does not `serve`"
    assert compose_service(name).get("build"), f"docker-compose.yml: service {name!r} is not built from the Dockerfile"


@pytest.mark.parametrize("name", SERVICES)
def test_service_environment_has_every_variable_of_the_local_node(name: str, state_dir: str) -> None:
    expected = node_env(name, state_dir)
    environment = service_environment(name)
    missing = [key for key in expected if key not in environment]
    assert not missing, (
        f"docker-compose.yml: service {name!r} environment lacks {missing}, "
        f"which `deploy/node.sh env {name}` sets ({', '.join(expected)})"
    )


@pytest.mark.parametrize("name", SERVICES)
def test_service_listens_where_it_is_published(name: str, state_dir: str) -> None:
    port = service_environment(name).get("HTTP_PORT")
    assert port, f"docker-compose.yml: service {name!r} has no HTTP_PORT in its environment"
    local_port = node_env(name, state_dir)["HTTP_PORT"]
    assert port == local_port, (
        f"docker-compose.yml: service {name!r} has HTTP_PORT={port}, but deploy/node.sh runs it on {local_port}"
    )
    assert (port, port) in published_ports(name), (
        f"docker-compose.yml: service {name!r} does not publish its HTTP_PORT {port} as host port {port} "
        f"(ports: {compose_service(name).get('ports')})"
    )
    host = service_environment(name).get("HTTP_HOST")
    assert host == "0.0.0.0", f"docker-compose.yml: service {name!r} has HTTP_HOST={host}, unreachable from outside"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_its_infrastructure_and_is_health_checked(name: str) -> None:
    service = compose_service(name)
    depends_on = service.get("depends_on") or {}
    for dependency in ("kafka", "postgres"):
        assert dependency in depends_on, f"docker-compose.yml: service {name!r} does not depend_on {dependency!r}"
        condition = depends_on[dependency].get("condition") if isinstance(depends_on, dict) else None
        assert condition == "service_healthy", (
            f"docker-compose.yml: service {name!r} starts before {dependency!r} is healthy (condition {condition!r})"
        )
    test = " ".join(str(word) for word in (service.get("healthcheck") or {}).get("test") or [])
    assert "/health/ready" in test, f"docker-compose.yml: service {name!r} has no healthcheck on /health/ready"


def test_notifications_sends_to_mailpit() -> None:
    assert "mailpit" in (compose_service("notifications").get("depends_on") or {}), (
        "docker-compose.yml: service 'notifications' does not depend_on 'mailpit'"
    )
    host = service_environment("notifications").get("SMTP_HOST")
    assert host == "mailpit", f"docker-compose.yml: service 'notifications' has SMTP_HOST={host}, not mailpit"


def test_kafka_is_the_official_image_of_the_pinned_version() -> None:
    version = kafka_version_in_pom()
    image = compose_service("kafka").get("image")
    assert image == f"apache/kafka:{version}", (
        f"docker-compose.yml: service 'kafka' image is {image!r}, but deploy/kafka/pom.xml pins Kafka {version} "
        f"(expected apache/kafka:{version})"
    )
    assert compose_service("kafka").get("healthcheck"), "docker-compose.yml: service 'kafka' has no healthcheck"


@pytest.mark.parametrize(("name", "image"), [("postgres", "postgres:"), ("mailpit", "axllent/mailpit")])
def test_infrastructure_service_exists(name: str, image: str) -> None:
    actual = str(compose_service(name).get("image", ""))
    assert actual.startswith(image), f"docker-compose.yml: service {name!r} image is {actual!r}, expected {image}..."


def test_dockerfile_installs_from_the_lock() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY\s+(\S+\s+)*requirements\.lock\s", text, re.MULTILINE), (
        "Dockerfile: does not COPY requirements.lock into the image"
    )
    assert re.search(r"uv pip sync\b[^\n]*\brequirements\.lock\b", text), (
        "Dockerfile: does not install the dependencies with `uv pip sync ... requirements.lock`"
    )
    assert re.search(r"^USER\s+(?!root\b|0\b)\S+", text, re.MULTILINE), "Dockerfile: does not switch to a non-root USER"


@pytest.mark.parametrize("name", SERVICES)
def test_service_connects_to_kafka_as_its_own_principal(name: str, state_dir: str) -> None:
    local, environment = node_env(name, state_dir), service_environment(name)
    assert environment.get("KAFKA_USERNAME") == "${TOPIC_PREFIX:-}" + local["KAFKA_USERNAME"], (
        f"docker-compose.yml: service {name!r} has KAFKA_USERNAME={environment.get('KAFKA_USERNAME')!r}, not its own "
        f"principal {local['KAFKA_USERNAME']!r} (under the TOPIC_PREFIX), as deploy/node.sh starts it"
    )
    protocol = environment.get("KAFKA_SECURITY_PROTOCOL") or ""
    assert protocol.startswith("SASL_"), f"docker-compose.yml: service {name!r} connects to Kafka with {protocol!r}"
    assert environment.get("KAFKA_SASL_MECHANISM") == local["KAFKA_SASL_MECHANISM"], (
        f"docker-compose.yml: service {name!r} uses SASL mechanism {environment.get('KAFKA_SASL_MECHANISM')!r}, "
        f"deploy/node.sh {local['KAFKA_SASL_MECHANISM']!r}"
    )


def test_kafka_authenticates_every_listener_and_authorizes_with_acls() -> None:
    environment = {key: str(value) for key, value in (compose_service("kafka").get("environment") or {}).items()}
    listeners = dict(entry.split(":") for entry in environment.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(","))
    insecure = [name for name, protocol in listeners.items() if not protocol.startswith("SASL_")]
    assert listeners and not insecure, f"docker-compose.yml: Kafka listeners without SASL: {insecure or 'none listed'}"
    assert environment.get("KAFKA_AUTHORIZER_CLASS_NAME") == "org.apache.kafka.metadata.authorizer.StandardAuthorizer", (
        "docker-compose.yml: Kafka runs without KRaft's StandardAuthorizer"
    )
    assert environment.get("KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND") == "false", (
        "docker-compose.yml: Kafka allows everyone where no ACL is found"
    )
    assert "kafka-init" in (compose_service("assessment").get("depends_on") or {}), (
        "docker-compose.yml: the services start before kafka-init has made their principals"
    )


KEYCLOAK_POM = ROOT / "deploy" / "keycloak" / "pom.xml"
REALM_URL = "http://keycloak:8180/realms/microcredentials"


def keycloak_version_in_pom() -> str:
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    for dependency in ET.parse(KEYCLOAK_POM).getroot().iterfind(".//m:dependency", namespace):
        if dependency.findtext("m:artifactId", namespaces=namespace) == "keycloak-quarkus-dist":
            return (dependency.findtext("m:version", namespaces=namespace) or "").strip()
    pytest.fail(f"{KEYCLOAK_POM.relative_to(ROOT)}: no dependency on artifact keycloak-quarkus-dist")


def test_web_front_end_has_every_variable_of_the_local_node_and_listens_where_it_is_published(state_dir: str) -> None:
    expected, environment = node_env("web", state_dir), service_environment("web")
    missing = [key for key in expected if key not in environment]
    assert not missing, f"docker-compose.yml: service 'web' environment lacks {missing}, which deploy/node.sh sets"
    assert "services.web" in command_words("web") and "serve" in command_words("web")
    assert environment["HTTP_PORT"] == expected["HTTP_PORT"] and environment["HTTP_HOST"] == "0.0.0.0"
    assert (expected["HTTP_PORT"], expected["HTTP_PORT"]) in published_ports("web")
    # Server to server, the front end reaches each service by its name in the compose network, on its port.
    for name in SERVICES:
        port = service_environment(name)["HTTP_PORT"]
        assert environment[f"{name.upper()}_URL"] == f"http://{name}:{port}", name
        assert (compose_service("web").get("depends_on") or {}).get(name, {}).get("condition") == "service_healthy"
    test = " ".join(str(word) for word in (compose_service("web").get("healthcheck") or {}).get("test") or [])
    assert "/health/ready" in test, "docker-compose.yml: service 'web' has no healthcheck on /health/ready"


def test_keycloak_is_the_official_image_of_the_pinned_version_with_the_demo_realm() -> None:
    keycloak = compose_service("keycloak")
    assert keycloak.get("image") == f"quay.io/keycloak/keycloak:{keycloak_version_in_pom()}", (
        f"docker-compose.yml: Keycloak image {keycloak.get('image')!r}, deploy/keycloak/pom.xml pins "
        f"{keycloak_version_in_pom()}")
    words = command_words("keycloak")
    assert "--import-realm" in words and "--hostname=http://keycloak:8180" in words and "--http-port=8180" in words
    assert ("8180", "8180") in published_ports("keycloak"), "the browser and the containers use one issuer address"
    # The realm is the one deploy/keycloak.sh imports: written by deploy.keycloak_realm into Keycloak's import folder.
    writer = command_words("keycloak-realm")
    assert writer[:3] == ["python", "-m", "deploy.keycloak_realm"], writer
    realm_volume = writer[writer.index("--out") + 1].rsplit("/", 1)[0]
    mounted = {str(v).split(":")[0]: str(v).split(":")[1] for v in keycloak.get("volumes") or []}
    shared = next(name for name, path in mounted.items() if path == "/opt/keycloak/data/import")
    assert f"{shared}:{realm_volume}" in [str(v) for v in compose_service("keycloak-realm").get("volumes") or []]
    assert keycloak["depends_on"]["keycloak-realm"]["condition"] == "service_completed_successfully"


def test_the_front_end_and_the_services_trust_the_same_keycloak_realm() -> None:
    web = service_environment("web")
    assert web["OIDC_ISSUER"] == "${OIDC_ISSUER:-" + REALM_URL + "}"
    assert web["OIDC_CLIENT_SECRET"] == "${OIDC_CLIENT_SECRET:-demo-web-client-secret}"
    for name in SERVICES:
        assert service_environment(name)["AUTH_OIDC_ISSUERS"] == "${AUTH_OIDC_ISSUERS:-" + REALM_URL + "}", name
    assert service_environment("certification")["VERIFY_PAGE_URL"].endswith("http://localhost:8000/verify}")


def test_the_image_holds_the_deploy_modules_the_init_containers_run() -> None:
    text = DOCKERFILE.read_text()
    for module in ("kafka_security", "keycloak_realm"):
        assert re.search(rf"^COPY\s[^\n]*deploy/{module}\.py\b", text, re.MULTILINE), f"Dockerfile: no deploy/{module}.py"
