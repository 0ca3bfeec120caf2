"""Messages one node addresses to one partner on the alliance bus: where they travel, who is believed to send them,
and what the gateway refuses to send or take in (each with the reason its dead letter carries)."""

import re
from datetime import UTC, datetime

import pytest

from services.alliance import domain
from shared.alliance import AllianceRegistry
from shared.events import CloudEvent, InvalidEvent, Topic, provenance
from shared.events.alliance import EndorsementDeclined, EndorsementRequested, EndorsementSigned
from shared.events.topics import addressed_of_topic, addressed_topic, gateway_subscription
from tests.alliance import registry_data

SAARLAND_NODE = "urn:microcredentials:node:saarland"


def registry() -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data())


def declined(sender: str = "silesia", recipient: str = "saarland") -> EndorsementDeclined:
    return EndorsementDeclined(
        sender=sender, recipient=recipient, credential_id="c-1", institution="uni-silesia", reason="not co-awarded"
    )


def envelope(message: EndorsementDeclined, source: str) -> CloudEvent:
    return CloudEvent(id="e-1", source=source, type=message.type, time=datetime.now(UTC), data=message.model_dump())


def test_a_gateway_reads_what_others_address_to_it_and_their_catalogues_nothing_else() -> None:
    pattern = re.compile(gateway_subscription("silesia", "t."))
    read = {
        "t.alliance.saarland.to.silesia": True,
        "t.alliance.saarland.catalogue": True,
        "t.alliance.saarland.to.primorska": False,  # addressed to another partner
        "t.alliance.silesia.to.saarland": False,  # its own, outgoing
        "t.alliance.silesia.catalogue": False,
        "alliance.saarland.to.silesia": False,  # another deployment's prefix
    }
    assert {topic: bool(pattern.match(topic)) for topic in read} == read
    assert addressed_of_topic(addressed_topic("saarland", "silesia", "t."), "t.") == ("saarland", "silesia")
    assert addressed_of_topic("t.alliance.saarland.catalogue", "t.") is None


def test_the_addressed_messages_travel_out_and_in_on_the_nodes_two_topics() -> None:
    for message in (EndorsementRequested, EndorsementSigned, EndorsementDeclined):
        assert (message.relayed_on, message.topic) == (Topic.ALLIANCE_OUTGOING, Topic.ALLIANCE_INCOMING)
        assert message.type.startswith("eu.microcredentials.alliance.endorsement.")


def test_on_the_bus_an_addressed_message_is_believed_only_from_the_topics_owner() -> None:
    topic = addressed_topic("silesia", "saarland")
    provenance.check(topic, envelope(declined(), "urn:microcredentials:node:silesia"), SAARLAND_NODE, registry())
    with pytest.raises(InvalidEvent, match=rf"on topic {re.escape(topic)} claims the source '{SAARLAND_NODE}'; only the node silesia"):
        provenance.check(topic, envelope(declined(), SAARLAND_NODE), SAARLAND_NODE, registry())
    with pytest.raises(InvalidEvent, match="'mallory' is not a node of"):
        provenance.check(addressed_topic("mallory", "saarland"), envelope(declined(), SAARLAND_NODE), SAARLAND_NODE, registry())
    with pytest.raises(InvalidEvent, match="follows no alliance registry"):
        provenance.check(topic, envelope(declined(), "urn:microcredentials:node:silesia"), SAARLAND_NODE, None)


def test_the_outgoing_topic_carries_addressed_messages_of_this_nodes_services_only() -> None:
    provenance.check(Topic.ALLIANCE_OUTGOING, envelope(declined(), SAARLAND_NODE), SAARLAND_NODE)
    with pytest.raises(InvalidEvent, match="only the services of this node"):
        provenance.check(Topic.ALLIANCE_OUTGOING, envelope(declined(), "urn:x"), SAARLAND_NODE)


def test_the_gateway_sends_only_as_this_node_to_a_partner_of_the_registry() -> None:
    assert domain.sending_refusal(declined("saarland", "silesia"), "saarland", registry()) is None
    assert domain.sending_refusal(declined("silesia", "saarland"), "saarland", registry()) == (
        "eu.microcredentials.alliance.endorsement.declined.v1 names 'silesia' as its sender, but this node is 'saarland'"
    )
    assert "addressed to this node itself" in domain.sending_refusal(declined("saarland", "saarland"), "saarland", registry())
    assert "'mallory' is not a node of" in domain.sending_refusal(declined("saarland", "mallory"), "saarland", registry())
    assert "no alliance registry is in use" in domain.sending_refusal(declined("saarland", "silesia"), "saarland", None)


def test_the_gateway_takes_in_only_what_names_the_topics_owner_as_sender_and_this_node_as_recipient() -> None:
    assert domain.receiving_refusal(declined("silesia", "saarland"), "silesia", "saarland") is None
    assert domain.receiving_refusal(declined("primorska", "saarland"), "silesia", "saarland") == (
        "eu.microcredentials.alliance.endorsement.declined.v1 names 'primorska' as its sender, but it came from node "
        "'silesia'"
    )
    assert domain.receiving_refusal(declined("silesia", "primorska"), "silesia", "saarland") == (
        "eu.microcredentials.alliance.endorsement.declined.v1 is addressed to 'primorska', not to this node ('saarland')"
    )
