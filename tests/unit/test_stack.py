"""Where the tests' Kafka and PostgreSQL come from: named servers, containers where Docker exists, or the local stack.

Containers cannot start on the machines this suite is developed on (no Docker engine), so this checks the choice
and the containers' Kafka settings; a CI with Docker runs the whole suite on them.
"""

import re
import socket

import pytest

from tests.stack import choose_backend, docker_engine_answers, kafka_container_broker, kafka_container_command


def no_docker() -> bool:
    return False


def docker() -> bool:
    return True


def must_not_ask() -> bool:
    raise AssertionError("servers named in the environment are used without asking for Docker")


@pytest.mark.parametrize(
    "environ",
    [
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka.ci:9092", "DATABASE_URL": "postgresql+asyncpg://mc:mc@db.ci/postgres"},
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka.ci:9092"},
        {"DATABASE_URL": "postgresql+asyncpg://mc:mc@db.ci/postgres"},
    ],
    ids=["both", "kafka", "database"],
)
def test_servers_named_in_the_environment_are_used(environ) -> None:
    assert choose_backend(environ, must_not_ask) == "external"


def test_containers_where_a_docker_engine_answers() -> None:
    assert choose_backend({"KAFKA_BOOTSTRAP_SERVERS": ""}, docker) == "testcontainers"


def test_the_local_stack_otherwise() -> None:
    assert choose_backend({}, no_docker) == "local"


def test_the_choice_can_be_forced_and_a_wrong_one_is_named() -> None:
    assert choose_backend({"TEST_STACK": "local"}, docker) == "local"
    assert choose_backend({"TEST_STACK": "testcontainers", "DATABASE_URL": "x"}, no_docker) == "testcontainers"
    with pytest.raises(ValueError, match="TEST_STACK='docker'.*external, testcontainers, local"):
        choose_backend({"TEST_STACK": "docker"}, docker)


def test_a_docker_host_that_does_not_answer_means_no_docker(monkeypatch) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    assert docker_engine_answers() is False


def test_the_kafka_container_runs_the_broker_deploy_infra_configures(tmp_path) -> None:
    config, scram = kafka_container_broker(tmp_path, "docker.ci", 39092, 39093)

    properties = dict(line.split("=", 1) for line in config.read_text().splitlines() if "=" in line and line[0] != "#")
    # Reachable through the container's published port, and telling clients the address they can reach.
    assert properties["listeners"].startswith("CLIENT://0.0.0.0:39092,")
    assert properties["advertised.listeners"] == "CLIENT://docker.ci:39092"
    # The same security as the local broker: TLS and SCRAM for clients, ACLs, nothing allowed without one.
    assert properties["listener.security.protocol.map"].startswith("CLIENT:SASL_SSL")
    assert properties["authorizer.class.name"].endswith("StandardAuthorizer")
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    settings = "\n".join(line for line in config.read_text().splitlines() if not line.startswith("#"))
    assert not re.search(r"@[A-Z_]+@", settings), "a placeholder left"
    assert [credential.split("name=")[1].split(",")[0] for credential in scram] == ["mc-broker", "mc-admin"]
    command = kafka_container_command(config, scram)[-1]
    assert "format --ignore-formatted" in command and command.count("--add-scram") == 2
    assert command.endswith(f"kafka-server-start.sh {config}")
