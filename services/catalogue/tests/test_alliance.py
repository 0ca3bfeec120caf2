"""How the catalogue shows the alliance's listings: only those of institutions the registry in use says their node
hosts, under the registry's names, with the link to register at the node that runs the offering."""

from shared.alliance import AllianceRegistry
from services.catalogue.alliance import AllianceView
from tests.alliance import registry_data

REGISTRY = AllianceRegistry.model_validate(
    registry_data(saarland="https://mc.uni-saarland.de", silesia="https://mc.us.edu.pl/node/")
)
SAARLAND_NODE = "urn:microcredentials:node:saarland"
DESCRIBED = {"awarding_bodies": [{"id": "uni-trier", "name": "Universität Trier", "country": "DE"}]}


def test_the_listings_shown_are_those_of_institutions_their_node_hosts_per_the_registry():
    assert sorted(AllianceView(REGISTRY, SAARLAND_NODE).shown()) == [
        ("saarland", "htw-saar"), ("saarland", "uni-saarland"), ("silesia", "uni-silesia")
    ]
    assert AllianceView(None, SAARLAND_NODE).shown() == [], "a node in no alliance shows its own catalogue only"


def test_a_member_is_shown_under_the_registrys_name_and_registers_at_its_own_node():
    view = AllianceView(REGISTRY, SAARLAND_NODE)
    assert view.runner("silesia", "uni-silesia", DESCRIBED) == {
        "node": "silesia", "university": "University of Silesia in Katowice", "country": "PL"
    }
    assert view.registration_url("silesia", "o-1") == "https://mc.us.edu.pl/node/catalogue/o-1"
    # This node's own offering: its node's id and page, once the registry knows the node by its event source.
    assert view.runner(None, "uni-saarland", DESCRIBED)["node"] == "saarland"
    assert view.registration_url(None, "o-2") == "https://mc.uni-saarland.de/catalogue/o-2"


def test_without_the_registrys_word_the_description_names_the_university_and_no_link_is_made():
    alone = AllianceView(None, "urn:microcredentials:node:local")
    assert alone.runner(None, "uni-trier", DESCRIBED) == {"node": None, "university": "Universität Trier", "country": "DE"}
    assert alone.registration_url(None, "o-3") is None
    assert AllianceView(REGISTRY, SAARLAND_NODE).registration_url("vilnius", "o-4") is None, "no node, no link"
