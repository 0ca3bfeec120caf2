"""docker-compose.alliance.yml (two nodes of an alliance in containers) stays in step with deploy/alliance.sh.

No container engine runs here: the file is only parsed. Each node's services must get every variable that
`deploy/alliance.sh env <node> <service>` starts them with, name only settings that exist, listen on ports that do not
collide, and follow the secretariat's registry, whose entries must name the nodes' own origins."""

import importlib
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings


ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.alliance.yml"
NODES = {"saarland": 8100, "silesia": 8200}
SERVICES = ["catalogue", "enrolment", "assessment", "certification", "notifications", "alliance", "web"]
# Set by the entrypoint from the credentials files, not by the compose file's environment.
FROM_CREDENTIALS = {"KAFKA_PASSWORD", "ALLIANCE_KAFKA_PASSWORD"}
# Read by the services' shared plumbing outside their settings classes.
OUTSIDE_SETTINGS = {"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"}


@cache
def compose() -> dict[str, Any]:
    with COMPOSE.open() as file:
        return yaml.safe_load(file)


def environment(service: str) -> dict[str, str]:
    services = compose()["services"]
    assert service in services, f"docker-compose.alliance.yml: no service {service!r} (has {sorted(services)})"
    return {key: str(value) for key, value in (services[service].get("environment") or {}).items()}


@cache
def alliance_env(node: str, service: str, state_dir: str) -> dict[str, str]:
    result = subprocess.run(
        ["bash", "deploy/alliance.sh", "env", node, service], cwd=ROOT,
        env={**os.environ, "MC_STATE_DIR": state_dir}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def settings_class(service: str) -> type[BaseSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == module.__name__]
    # The service's own: the one every other class of the module derives from, or the only one.
    return next(cls for cls in classes if all(issubclass(other, cls) for other in classes))


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("alliance-state"))


@pytest.mark.parametrize("node", NODES)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_of_each_node_has_every_variable_alliance_sh_starts_it_with(node: str, service: str, state_dir: str):
    expected = alliance_env(node, service, state_dir)
    missing = sorted(set(expected) - set(environment(f"{node}-{service}")))
    assert not missing, f"{node}-{service} lacks {missing}, which `deploy/alliance.sh env {node} {service}` sets"
    assert f"services.{service}" in compose()["services"][f"{node}-{service}"]["command"]


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_names_a_setting_the_service_has(service: str):
    fields = set(settings_class(service).model_fields)
    for node in NODES:
        unknown = [key for key in environment(f"{node}-{service}")
                   if key.lower() not in fields and key not in OUTSIDE_SETTINGS]
        assert not unknown, f"{node}-{service}: {unknown} are no settings of {settings_class(service).__name__}"


def test_the_ports_do_not_collide():
    services = compose()["services"]
    # The node services share the host's network: their HTTP ports must all differ, and differ from the ports the
    # infrastructure publishes on the host.
    published = [int(str(port).split(":")[-2]) for name in ("kafka", "postgres", "mailpit")
                 for port in services[name].get("ports") or []]
    listening = [int(environment(name)["HTTP_PORT"]) for name in services if name.split("-")[0] in NODES]
    assert len(listening) == len(NODES) * len(SERVICES) and len(set(listening)) == len(listening), listening
    assert not set(listening) & set(published), (listening, published)
    for node, base in NODES.items():
        assert {int(environment(f"{node}-{service}")["HTTP_PORT"]) for service in SERVICES} == set(range(base, base + 7))


@pytest.mark.parametrize("node", NODES)
def test_every_node_follows_the_registry_on_its_own_topics_database_and_origin(node: str):
    origin = f"http://127.0.0.1:{NODES[node]}"
    for service in SERVICES[:-1]:
        env = environment(f"{node}-{service}")
        assert env["ALLIANCE_REGISTRY_URL"] == "/secretariat/alliance-registry.json"
        assert env["ALLIANCE_PUBLIC_KEY_FILE"] == "/secretariat/alliance-public.pem"
        assert (env["TOPIC_PREFIX"], env["DATABASE_PREFIX"], env["NODE_URI"]) == (
            f"{node}.", f"mc_{node}", f"urn:microcredentials:node:{node}"
        )
        assert env["KAFKA_USERNAME"] == f"{node}.mc-{service}"
        assert compose()["services"][f"{node}-{service}"]["depends_on"]["secretariat"]["condition"] == (
            "service_completed_successfully"
        )
    gateway = environment(f"{node}-alliance")
    assert (gateway["ALLIANCE_NODE_ID"], gateway["ALLIANCE_KAFKA_USERNAME"]) == (node, f"t4eu.{node}")
    assert environment(f"{node}-certification")["PUBLIC_URL"] == environment(f"{node}-web")["PUBLIC_URL"] == origin
    # The secretariat lists the node at that origin, with DIDs on its host and the node's token key.
    secretariat = compose()["services"]["secretariat"]["command"][-1]
    entry = re.search(rf"--node {node} --node-url (\S+) .*?--token-key (\S+) --did (\S+)", secretariat)
    assert entry, secretariat
    assert entry.group(1) == origin and entry.group(2) == environment(f"{node}-catalogue")["AUTH_PUBLIC_KEY_FILE"]
    assert entry.group(3).startswith(f"did:web:127.0.0.1%3A{NODES[node]}:institutions:")
