"""The issuer directory: the node vouches for the institutions it signs for, under the names their profiles state,
and for the alliance registry's members, under the names the registry states, for as long as it lists them."""

from datetime import UTC, datetime
from pathlib import Path

from services.certification.settings import CertificationSettings
from services.certification.signing_keys import InstitutionProfile, NodeIdentity, create_key, save_profile
from services.certification.trust import issuer_directory
from shared.alliance import AllianceRegistry
from tests.alliance import did_of, registry_data


def test_the_nodes_institutions_are_in_the_directory_by_their_did_web_with_their_stated_names(tmp_path: Path) -> None:
    create_key(tmp_path, "uni-saarland")
    save_profile(tmp_path, "uni-saarland", InstitutionProfile("Universität des Saarlandes", "DE"))
    create_key(tmp_path, "uni-sofia")  # no name stated: its code is what the node can vouch for
    settings = CertificationSettings(public_url="https://node.example", issuer_keys_dir=str(tmp_path))
    directory = issuer_directory(settings)
    node = NodeIdentity.load("https://node.example", tmp_path)

    saarland = directory.institution(node.did("uni-saarland"))
    assert saarland is not None and (saarland.id, saarland.name, saarland.country) == (
        "uni-saarland", "Universität des Saarlandes", "DE"
    )
    assert saarland.node == "https://node.example" and saarland.did_document == node.document("uni-saarland")
    assert directory.institution(node.did("uni-sofia")).name == "uni-sofia"
    assert directory.institution(node.node_did()) is None, "the node's own DID issues no credentials"
    assert not directory.trusts("did:web:elsewhere.example:institutions:uni-saarland")
    assert not directory.trusts("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
    assert len(directory.did_documents()) == 2


def test_did_key_issuers_are_trusted_only_with_the_development_setting(tmp_path: Path) -> None:
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert not issuer_directory(CertificationSettings(issuer_keys_dir=str(tmp_path))).trusts(did)
    assert CertificationSettings().trust_did_key_issuers is False, "off by default"
    development = issuer_directory(CertificationSettings(issuer_keys_dir=str(tmp_path), trust_did_key_issuers=True))
    assert development.trusts(did) and development.institution(did) is None, "trusted, but nobody names it"


def test_the_registrys_members_join_the_directory_and_a_removed_member_leaves_it(tmp_path: Path) -> None:
    create_key(tmp_path, "uni-silesia")
    save_profile(tmp_path, "uni-silesia", InstitutionProfile("Uniwersytet Śląski", "PL"))
    settings = CertificationSettings(public_url="https://mc.us.edu.pl", issuer_keys_dir=str(tmp_path))
    data = registry_data(issued=datetime.now(UTC))
    registry = AllianceRegistry.model_validate(data)
    directory = issuer_directory(settings, registry)

    saarland = directory.institution(did_of("https://mc.uni-saarland.de", "uni-saarland"))
    assert (saarland.id, saarland.name, saarland.country, saarland.node, saarland.alliance) == (
        "uni-saarland", "Universität des Saarlandes", "DE", "https://mc.uni-saarland.de", "Transform4Europe"
    )
    assert saarland.did_document is None, "fetched from its node when needed (resolver.py)"
    # The node's own institution, listed by the registry: the registry's statements, the node's own DID document.
    silesia = directory.institution(did_of("https://mc.us.edu.pl", "uni-silesia"))
    assert (silesia.name, silesia.alliance) == ("University of Silesia in Katowice", "Transform4Europe")
    assert silesia.did_document == NodeIdentity.load("https://mc.us.edu.pl", tmp_path).document("uni-silesia")
    assert directory.did_documents() == [silesia.did_document]

    data["members"] = [member for member in data["members"] if member["institution"] != "htw-saar"]
    data["serial"] = 2
    after = issuer_directory(settings, AllianceRegistry.model_validate(data))
    assert not after.trusts(did_of("https://mc.uni-saarland.de", "htw-saar")), "removed: no longer vouched for"
    assert after.trusts(did_of("https://mc.uni-saarland.de", "uni-saarland"))

    # Without a registry, the node's own institutions only, under their profiles' names.
    alone = issuer_directory(settings)
    assert not alone.trusts(did_of("https://mc.uni-saarland.de", "uni-saarland"))
    assert alone.institution(did_of("https://mc.us.edu.pl", "uni-silesia")).name == "Uniwersytet Śląski"
