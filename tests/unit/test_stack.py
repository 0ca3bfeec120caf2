"""Where the tests' Kafka and PostgreSQL come from: named servers, containers where Docker exists, or the local stack.

Containers cannot start on the machines this suite is developed on (no Docker engine), so this checks the choice
and the containers' Kafka settings; a CI with Docker runs the whole suite on them.
"""

import socket

import pytest

from tests.stack import ROOT, choose_backend, docker_engine_answers, kafka_container_environment


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


def test_the_kafka_container_runs_the_broker_deploy_infra_configures() -> None:
    template = (ROOT / "deploy" / "kafka" / "server.properties.in").read_text()
    environment = kafka_container_environment(template, 39092, 39093, "docker.ci")

    properties = [line.split("=", 1)[0].strip() for line in template.splitlines() if "=" in line and line[0] != "#"]
    for name in properties:
        assert "KAFKA_" + name.upper().replace(".", "_") in environment, name
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # Reachable through the container's published port, and telling clients the address they can reach.
    assert "//0.0.0.0:39092" in environment["KAFKA_LISTENERS"] and "127.0.0.1" not in environment["KAFKA_LISTENERS"]
    assert environment["KAFKA_ADVERTISED_LISTENERS"].endswith("//docker.ci:39092")
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@127.0.0.1:39093"
    assert environment["CLUSTER_ID"]
    assert not any("@" in value and value.endswith("@") for value in environment.values()), "a placeholder left"


def test_security_settings_added_to_the_broker_reach_the_container_too() -> None:
    template = (ROOT / "deploy" / "kafka" / "server.properties.in").read_text() + (
        "\nsasl.enabled.mechanisms=SCRAM-SHA-512\n"
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
    )
    environment = kafka_container_environment(template, 39092, 39093, "localhost")
    assert environment["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert environment["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
