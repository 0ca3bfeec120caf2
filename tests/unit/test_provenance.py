"""Events are believed only where they belong: the type must be one the topic's producer publishes, from its source."""

import json
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.alliance import AllianceRegistry
from shared.consumer import EventConsumer
from shared.dead_letters import REASON
from shared.events import EVENT_TYPES, CloudEvent, InvalidEvent, Topic, dead_letter_topic, provenance
from shared.events.certification import CredentialIssued
from shared.events.enrolment import LearnerEnrolled
from shared.settings import ServiceSettings
from tests.alliance import registry_data
from tests.unit.test_consumer import InMemoryUnitOfWork, RecordingHandler, grade_submitted

NODE = "urn:microcredentials:node:uni-saarland"


def envelope(event_type: str, source: str = NODE) -> CloudEvent:
    return CloudEvent(id="e-1", source=source, type=event_type, time=datetime.now(UTC), data={})


@pytest.mark.parametrize("topic", [topic for topic in Topic if topic != Topic.GRADE_SUBMISSIONS])
def test_each_node_topic_carries_exactly_the_types_its_producer_publishes_from_this_node(topic: Topic) -> None:
    # Addressed messages leave the node on the outgoing topic (`relayed_on`) and arrive on the incoming one.
    homes = {name: {event_class.topic, getattr(event_class, "relayed_on", None)} for name, event_class in EVENT_TYPES.items()}
    own = [name for name, topics in homes.items() if topic in topics]
    others = [name for name, topics in homes.items() if topic not in topics]
    assert own, f"no contract publishes on {topic}"
    for event_type in own:
        provenance.check(topic, envelope(event_type), NODE)
    for event_type in others:
        with pytest.raises(InvalidEvent, match=rf"{event_type} does not belong on topic {topic}"):
            provenance.check(topic, envelope(event_type), NODE)


def test_a_fact_from_another_source_is_not_believed_even_on_its_own_topic() -> None:
    forged = envelope(CredentialIssued.type, source="urn:microcredentials:node:mallory")
    with pytest.raises(InvalidEvent) as refused:
        provenance.check(Topic.CREDENTIALS, forged, NODE)
    reason = str(refused.value)
    assert "claims the source 'urn:microcredentials:node:mallory'" in reason
    assert "the certification service of this node" in reason and NODE in reason


def test_an_lms_topic_carries_grade_submissions_from_that_lms_only() -> None:
    submitted = "eu.microcredentials.lms.grade.submitted.v1"
    provenance.check("mc.lms.moodle-saarland.grade-submissions", envelope(submitted, "urn:microcredentials:lms:moodle-saarland"), NODE)
    with pytest.raises(InvalidEvent, match="only the LMS moodle-saarland"):
        provenance.check("mc.lms.moodle-saarland.grade-submissions", envelope(submitted, "urn:microcredentials:lms:canvas-sofia"), NODE)
    with pytest.raises(InvalidEvent, match=r"learner\.enrolled\.v1 does not belong on topic mc\.lms\.moodle-saarland"):
        provenance.check("mc.lms.moodle-saarland.grade-submissions", envelope(LearnerEnrolled.type, "urn:microcredentials:lms:moodle-saarland"), NODE)


def test_another_major_version_of_a_type_belongs_where_the_type_does() -> None:
    provenance.check(Topic.ENROLMENTS, envelope("eu.microcredentials.enrolment.learner.enrolled.v2"), NODE)


def test_a_topic_no_producer_owns_is_not_believed() -> None:
    with pytest.raises(InvalidEvent, match="topic mc.somewhere.else has no known producer"):
        provenance.check("mc.somewhere.else", envelope(LearnerEnrolled.type), NODE)


async def test_the_consumer_dead_letters_a_forged_fact_and_skips_a_genuine_one_it_does_not_handle() -> None:
    """Enrolment reads the credentials topic for CredentialIssued only: a genuine CredentialRevoked is none of its
    business (skipped), a CredentialIssued claiming another node is a forgery (dead-lettered, never handled)."""
    broker, uow, dead_letters, handler = KafkaBroker(), InMemoryUnitOfWork(), [], RecordingHandler()
    settings = ServiceSettings(service_name="enrolment", node_uri=NODE)
    EventConsumer(settings, lambda: uow, {CredentialIssued: handler}, [Topic.CREDENTIALS]).subscribe(broker)

    @broker.subscriber(dead_letter_topic("enrolment"))
    async def record(message: KafkaMessage) -> None:
        dead_letters.append(message.headers[REASON])

    revoked = json.dumps(envelope("eu.microcredentials.certification.credential.revoked.v1").model_dump(mode="json"))
    forged = CloudEvent.wrap(grade_submitted(), source=NODE).model_dump(mode="json") | {
        "type": CredentialIssued.type, "source": "urn:microcredentials:node:mallory"
    }
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(revoked.encode(), Topic.CREDENTIALS)
        await test_broker.publish(json.dumps(forged).encode(), Topic.CREDENTIALS)

    assert handler.calls == []
    [reason] = dead_letters
    assert "claims the source 'urn:microcredentials:node:mallory'" in reason and "mc.certification.credentials" in reason



# --- the alliance bus: who a node is comes from the alliance registry in use ---


def alliance() -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data())


def test_a_nodes_catalogue_topic_carries_listings_from_that_node_only() -> None:
    listed = "eu.microcredentials.alliance.offering.listed.v1"
    saarland, silesia = "urn:microcredentials:node:saarland", "urn:microcredentials:node:silesia"
    provenance.check("alliance.saarland.catalogue", envelope(listed, saarland), NODE, alliance())

    with pytest.raises(InvalidEvent) as forged:
        provenance.check("alliance.saarland.catalogue", envelope(listed, silesia), NODE, alliance())
    assert str(forged.value) == (
        f"{listed} on topic alliance.saarland.catalogue claims the source '{silesia}'; only the node saarland "
        f"({saarland}) publishes there"
    )
    with pytest.raises(InvalidEvent, match=r"credential\.issued\.v1 does not belong on topic alliance\.saarland"):
        provenance.check("alliance.saarland.catalogue", envelope(CredentialIssued.type, saarland), NODE, alliance())


def test_nothing_on_the_alliance_bus_is_believed_of_an_unknown_node_or_without_a_registry() -> None:
    listed = "eu.microcredentials.alliance.course.listed.v1"
    mallory = "urn:microcredentials:node:mallory"
    with pytest.raises(InvalidEvent) as unknown:
        provenance.check("alliance.mallory.catalogue", envelope(listed, mallory), NODE, alliance())
    assert str(unknown.value) == (
        "topic alliance.mallory.catalogue belongs to no member: 'mallory' is not a node of Transform4Europe "
        f"(registry serial 1); {listed} from {mallory} is not believed"
    )
    with pytest.raises(InvalidEvent, match="this node follows no alliance registry"):
        provenance.check("alliance.saarland.catalogue", envelope(listed, "urn:microcredentials:node:saarland"), NODE)


def test_the_members_listings_inside_the_node_come_from_its_own_gateway() -> None:
    listed = "eu.microcredentials.alliance.offering.listed.v1"
    provenance.check(Topic.ALLIANCE_LISTINGS, envelope(listed), NODE)
    with pytest.raises(InvalidEvent, match="only the alliance service of this node"):
        provenance.check(Topic.ALLIANCE_LISTINGS, envelope(listed, "urn:microcredentials:node:saarland"), NODE)
