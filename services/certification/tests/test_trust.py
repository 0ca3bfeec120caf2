"""The issuer directory: the node vouches for the institutions it signs for, under the names their profiles state."""

from pathlib import Path

from services.certification.settings import CertificationSettings
from services.certification.signing_keys import InstitutionProfile, NodeIdentity, create_key, save_profile
from services.certification.trust import issuer_directory


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
