"""The rights each Kafka principal gets are derived from the code, and are the least it needs."""

import stat
from pathlib import Path

from cryptography import x509

from deploy.kafka_security import (
    Grant,
    alliance_grants,
    alliance_topics,
    auditor_grants,
    ensure_certificates,
    kafka_user,
    lms_grants,
    node_services,
    read_credentials,
    service_grants,
    write_credentials,
)
from shared.alliance import AllianceRegistry
from shared.settings import ServiceSettings
from shared.events import Topic
from shared.topic_admin import ADDRESSING_SERVICES, topic_config
from tests.alliance import registry_data


def grants_of_every_service(prefix: str = "") -> dict[str, list[Grant]]:
    return {name: service_grants(name, consumes, consumer, prefix) for name, consumes, consumer in node_services()}


def test_a_service_writes_only_its_own_topics_and_reads_only_what_it_consumes() -> None:
    for name, grants in grants_of_every_service().items():
        written = {g.name for g in grants if g.operation == "WRITE"}
        # Besides its own topics, a service that addresses messages to partner nodes writes them for the gateway.
        addressed = {Topic.ALLIANCE_OUTGOING.value} if name in ADDRESSING_SERVICES else set()
        assert written and all(topic.startswith(f"mc.{name}.") for topic in written - addressed), (name, written)
        assert all(g.resource == "TOPIC" for g in grants if g.operation == "WRITE")
        groups = [g for g in grants if g.resource == "GROUP"]
        assert groups in ([], [Grant("GROUP", "LITERAL", f"mc-{name}", "READ")]), (name, groups)
        assert {g.operation for g in grants} <= {"READ", "WRITE"}, "no CREATE, DELETE, ALTER or cluster rights"


def test_the_rights_follow_what_each_service_publishes_and_consumes() -> None:
    grants = grants_of_every_service()
    assert set(map(str, grants["assessment"])) == {
        "READ  group mc-assessment",
        "WRITE topic mc.assessment.dead-letter",
        "WRITE topic mc.assessment.grades",
        "READ  topic mc.catalogue.courses",
        "READ  topic mc.enrolment.enrolments",
        "READ  topic mc.lms. (prefix)",
    }
    assert set(map(str, grants["catalogue"])) == {
        "WRITE topic mc.catalogue.courses", "WRITE topic mc.catalogue.offerings", "WRITE topic mc.catalogue.programmes",
        "WRITE topic mc.catalogue.dead-letter", "READ  group mc-catalogue",
        "READ  topic mc.enrolment.availability", "READ  topic mc.alliance.listings",
        "WRITE topic mc.alliance.outgoing", "READ  topic mc.alliance.incoming",
    }, (
        "catalogue reads the places of its offerings and the members' listings, and asks and answers partners' "
        "consent to joint courses through the gateway; nothing else"
    )
    assert set(map(str, grants["alliance"])) == {
        "WRITE topic mc.alliance.listings", "WRITE topic mc.alliance.dead-letter", "READ  group mc-alliance",
        "READ  topic mc.catalogue.courses", "READ  topic mc.catalogue.offerings", "READ  topic mc.catalogue.programmes",
        "READ  topic mc.enrolment.availability",
        "READ  topic mc.alliance.outgoing", "WRITE topic mc.alliance.incoming",
    }, (
        "on the node's cluster the gateway reads the public catalogue facts and what the node addresses to partners, "
        "and writes what partners address to it: nothing else about learners"
    )
    assert set(map(str, grants["certification"])) >= {
        "WRITE topic mc.alliance.outgoing", "READ  topic mc.alliance.incoming",
    }, "certification asks partners for endorsements and answers theirs through the gateway"
    notifications = set(map(str, grants["notifications"]))
    assert "WRITE topic mc.notifications.deliveries" in notifications
    assert not any(grant.startswith("READ  topic mc.notifications.") for grant in notifications), (
        "notifications log their own NotificationSent/Failed as they publish them: they never read their topic back"
    )
    assert not [name for name, held in grants.items() if "READ  topic mc.notifications.deliveries" in map(str, held)], (
        "no principal of the node's services reads the notifications topic (auditors do)"
    )


def test_under_a_prefix_every_name_is_prefixed() -> None:
    for grants in grants_of_every_service("test-1.").values():
        assert all(g.name.startswith("test-1.") for g in grants)
    assert lms_grants("moodle-x", "test-1.") == [
        Grant("TOPIC", "LITERAL", "test-1.mc.lms.moodle-x.grade-submissions", "WRITE")
    ]


def test_an_auditor_reads_every_topic_of_the_node_and_its_dead_letters_and_nothing_else() -> None:
    consumers = [name for name, _, consumer in node_services() if consumer]
    grants = auditor_grants(consumers, "test-1.")
    assert {g.operation for g in grants} == {"READ"} and {g.resource for g in grants} == {"TOPIC"}, "no group, no writes"
    assert {g.name for g in grants} == {
        "test-1.mc.catalogue.courses", "test-1.mc.catalogue.offerings", "test-1.mc.catalogue.programmes",
        "test-1.mc.enrolment.enrolments", "test-1.mc.assessment.grades", "test-1.mc.certification.credentials",
        "test-1.mc.notifications.deliveries", "test-1.mc.enrolment.dead-letter", "test-1.mc.assessment.dead-letter",
        "test-1.mc.certification.dead-letter", "test-1.mc.notifications.dead-letter",
        "test-1.mc.enrolment.availability", "test-1.mc.catalogue.dead-letter",
        "test-1.mc.alliance.listings", "test-1.mc.alliance.dead-letter",
        "test-1.mc.alliance.outgoing", "test-1.mc.alliance.incoming",
    }, "the LMSs' topics are not the node's: what an LMS sends is read at the node's dead letters or in its events"


def test_credentials_are_written_for_their_owner_only_and_read_back(tmp_path: Path) -> None:
    settings = ServiceSettings(
        kafka_bootstrap_servers="127.0.0.1:9092", kafka_security_protocol="SASL_SSL", kafka_username="lms-x",
        kafka_password="s3cret", kafka_ssl_cafile="/keys/ca.pem",
    )
    path = write_credentials(tmp_path, settings)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sasl.mechanisms=SCRAM-SHA-512" in path.read_text(), "librdkafka's name, as kcat -F reads it"
    assert read_credentials(path) == {
        "kafka_bootstrap_servers": "127.0.0.1:9092", "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512", "kafka_username": "lms-x", "kafka_password": "s3cret",
        "kafka_ssl_cafile": "/keys/ca.pem",
    }


def test_the_broker_certificate_is_signed_by_the_node_ca_for_its_names(tmp_path: Path) -> None:
    ca_file, keystore = ensure_certificates(tmp_path, ["localhost", "127.0.0.1"])
    certificate, *_ = x509.load_pem_x509_certificates(keystore.read_bytes())
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())

    certificate.verify_directly_issued_by(ca)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert stat.S_IMODE((tmp_path / "ca-key.pem").stat().st_mode) == 0o600
    assert ensure_certificates(tmp_path, ["localhost", "127.0.0.1"]) == (ca_file, keystore)


def test_on_the_alliance_bus_a_node_writes_under_its_own_name_and_reads_the_others_catalogues() -> None:
    registry = AllianceRegistry.model_validate(registry_data())
    assert set(map(str, alliance_grants(registry, "saarland", "t."))) == {
        "WRITE topic t.alliance.saarland. (prefix)",
        "READ  group t.alliance.saarland.gateway",
        "READ  topic t.alliance.silesia.catalogue",
        "READ  topic t.alliance.silesia.to.saarland",
    }
    assert set(map(str, alliance_grants(registry, "silesia"))) == {
        "WRITE topic alliance.silesia. (prefix)",
        "READ  group alliance.silesia.gateway",
        "READ  topic alliance.saarland.catalogue",
        "READ  topic alliance.saarland.to.silesia",
    }, "no right on another node's name, nor on what is addressed to a third node"
    assert alliance_topics(registry) == [
        "alliance.saarland.catalogue", "alliance.silesia.catalogue", "alliance.saarland.to.silesia",
        "alliance.silesia.to.saarland",
    ]
    assert kafka_user(registry.node("saarland").kafka_principal) == "saarland"


def test_the_topics_that_hold_current_state_are_compacted() -> None:
    assert topic_config("t.alliance.saarland.catalogue", "t.") == {"cleanup.policy": "compact"}
    assert topic_config("t.mc.alliance.listings", "t.") == {"cleanup.policy": "compact"}
    assert topic_config("mc.enrolment.availability") == {"cleanup.policy": "compact"}
    assert topic_config("mc.enrolment.enrolments") == {}, "facts are not compacted: each one counts, not the last"
    assert topic_config("alliance.saarland.to.silesia") == {}
