"""The institutions' signing keys: files outside the repository, never replaced, named by did:web of the node."""

import stat
from pathlib import Path

import pytest

from services.certification.signing_keys import InstitutionProfile, NodeIdentity, create_key, load_keys, load_profiles, main
from services.certification.vc import keys
from services.certification.vc.proof import sign, verify


def test_a_key_is_an_ed25519_pem_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = create_key(tmp_path / "keys", "uni-saarland")
    assert path == tmp_path / "keys" / "uni-saarland.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(load_keys(tmp_path / "keys")) == ["uni-saarland"]


def test_an_existing_key_is_never_replaced(tmp_path: Path) -> None:
    path = create_key(tmp_path, "uni-saarland")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        create_key(tmp_path, "uni-saarland")
    assert path.read_bytes() == before


@pytest.mark.parametrize("code", ["../etc/passwd", "Uni Saarland", ""])
def test_an_institution_code_cannot_escape_the_folder(tmp_path: Path, code: str) -> None:
    with pytest.raises(ValueError):
        create_key(tmp_path, code)


def test_no_folder_means_no_keys(tmp_path: Path) -> None:
    assert load_keys(None) == {} and load_keys(tmp_path / "missing") == {}
    assert NodeIdentity.load("http://127.0.0.1:8004", None).node_document() is None


def test_each_institution_is_a_did_web_under_the_node_and_resolves_locally(tmp_path: Path) -> None:
    create_key(tmp_path, "uni-sofia")
    create_key(tmp_path, "uni-saarland")
    node = NodeIdentity.load("http://127.0.0.1:8004/", tmp_path)
    assert node.did("uni-saarland") == "did:web:127.0.0.1%3A8004:institutions:uni-saarland"
    assert node.node_did() == "did:web:127.0.0.1%3A8004"
    document = node.document("uni-saarland")
    assert document["assertionMethod"] == ["did:web:127.0.0.1%3A8004:institutions:uni-saarland#key-1"]
    assert node.node_document()["verificationMethod"][0]["publicKeyMultibase"] == (
        document["verificationMethod"][0]["publicKeyMultibase"]
    ), "the node's own DID carries the first institution's key"

    signed = sign(
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
         "issuer": node.did("uni-saarland"), "credentialSubject": {"name": "x"}},
        node.private_key("uni-saarland"),
        node.verification_method("uni-saarland"),
    )
    assert verify(signed, node.resolver).verified
    with pytest.raises(keys.UnresolvableKey):
        node.resolver("did:web:elsewhere.example:institutions:uni-x#key-1")


def test_the_keys_command_states_an_institutions_name_beside_its_key_and_never_replaces_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--institution", "uni-saarland", "--dir", str(tmp_path)])
    key = (tmp_path / "uni-saarland.pem").read_bytes()
    assert load_profiles(tmp_path) == {}, "no name stated yet"
    with pytest.raises(SystemExit):
        main(["--institution", "uni-saarland", "--dir", str(tmp_path)])
    main(["--institution", "uni-saarland", "--dir", str(tmp_path), "--name", "Universität des Saarlandes", "--country", "DE"])
    assert "kept the existing signing key" in capsys.readouterr().out
    assert (tmp_path / "uni-saarland.pem").read_bytes() == key
    assert load_profiles(tmp_path) == {"uni-saarland": InstitutionProfile("Universität des Saarlandes", "DE")}
