"""The alliance registry as a document: what a node accepts, what it refuses and why, and the secretariat's commands."""

import base64
import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.alliance.commands import main, write_schema
from shared.alliance.models import SCHEMA_FILE, AllianceRegistry, NotAMember
from shared.alliance.signing import RegistryRefused, load_trusted_keys, sign, verify
from tests.alliance import ISSUED, TOKEN_KEY, alliance_key, document, registry_data, trusted

ROOT = Path(__file__).resolve().parents[2]


def test_a_signed_registry_verifies_and_answers_who_belongs() -> None:
    key = alliance_key()
    signed = document(registry_data())
    registry = verify(signed, sign(signed, key), trusted(key), now=ISSUED)

    assert registry.serial == 1 and registry.alliance.name == "Transform4Europe"
    assert registry.is_member("htw-saar") and not registry.is_member("uni-elsewhere")
    assert registry.member("uni-silesia").country == "PL"
    assert [m.institution for m in registry.members_of("saarland")] == ["uni-saarland", "htw-saar"]
    assert registry.node_of("htw-saar").base_url == "https://mc.uni-saarland.de"
    assert registry.member_by_did("did:web:mc.us.edu.pl:institutions:uni-silesia#key-1").institution == "uni-silesia"
    member, issuer = registry.token_issuer("https://sso.uni-saarland.de/realms/uds")
    assert member.institution == "uni-saarland"
    assert issuer.key_set().get_by_kid("uds-2026").as_dict(private=False)["x"] == TOKEN_KEY.as_dict()["x"]
    assert registry.token_issuers("uni-silesia")[0].jwks_uri.endswith("/oidc/keyset")
    assert registry.node_by_kafka_principal("User:silesia").id == "silesia"
    assert registry.node_by_kafka_principal("silesia").id == "silesia"
    assert registry.node_by_event_source("urn:microcredentials:node:saarland").id == "saarland"
    assert registry.hosts == {"mc.uni-saarland.de", "mc.us.edu.pl"}


def test_lookups_of_what_the_registry_does_not_list_say_so() -> None:
    registry = AllianceRegistry.model_validate(registry_data())
    misses = {
        "member": lambda: registry.member("uni-elsewhere"),
        "did": lambda: registry.member_by_did("did:web:issuer.example"),
        "issuer": lambda: registry.token_issuer("https://idp.example"),
        "principal": lambda: registry.node_by_kafka_principal("User:intruder"),
        "source": lambda: registry.node_by_event_source("urn:microcredentials:node:intruder"),
    }
    messages = {}
    for what, lookup in misses.items():
        with pytest.raises(NotAMember) as refused:
            lookup()
        messages[what] = str(refused.value)
    assert messages["member"] == "'uni-elsewhere' is not a member of Transform4Europe (registry serial 1)"
    assert "did:web:issuer.example is not the DID of a member" in messages["did"]
    assert "'https://idp.example' do not come from a member" in messages["issuer"]
    assert "User:intruder is not the Kafka principal of a node" in messages["principal"]
    assert "urn:microcredentials:node:intruder" in messages["source"]


def test_a_registry_changed_after_signing_is_refused_even_by_one_byte_of_whitespace() -> None:
    key = alliance_key()
    signed = document(registry_data())
    signature = sign(signed, key)
    renamed = signed.replace("Universität des Saarlandes".encode(), "Universitaet des Saarlandes".encode())
    reindented = signed.replace(b'\n  "serial"', b'\n   "serial"')
    assert json.loads(reindented) == json.loads(signed)  # Same JSON, different bytes: still not what was signed.

    for changed in (renamed, reindented):
        with pytest.raises(RegistryRefused) as refused:
            verify(changed, signature, trusted(key), now=ISSUED)
        assert refused.value.reason == "signature"
        assert "does not match the document" in str(refused.value)


def test_a_registry_signed_with_a_key_the_node_does_not_pin_is_refused_naming_both_keys() -> None:
    alliance, stranger = alliance_key(), alliance_key()
    signed = document(registry_data())

    with pytest.raises(RegistryRefused) as refused:
        verify(signed, sign(signed, stranger), trusted(alliance), now=ISSUED)

    assert refused.value.reason == "unknown-key"
    assert stranger.thumbprint() in str(refused.value) and alliance.thumbprint() in str(refused.value)


def test_a_signature_that_claims_the_alliances_key_id_but_was_made_with_another_key_is_refused() -> None:
    alliance, forger = alliance_key(), alliance_key()
    signed = document(registry_data())
    header, _, forged_signature = sign(signed, forger).split(".")
    claimed = json.loads(base64.urlsafe_b64decode(header + "=="))
    claimed["kid"] = alliance.thumbprint()
    # Re-sign with the forger's key under the alliance's kid: the header is part of what is signed.
    forged_header = base64.urlsafe_b64encode(json.dumps(claimed).encode()).rstrip(b"=").decode()
    signing_input = f"{forged_header}.{base64.urlsafe_b64encode(signed).rstrip(b'=').decode()}".encode()
    forged = forger.get_op_key("sign").sign(signing_input)
    forgery = f"{forged_header}..{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}"

    with pytest.raises(RegistryRefused) as refused:
        verify(signed, forgery, trusted(alliance), now=ISSUED)
    assert refused.value.reason == "signature"


def test_an_expired_registry_is_refused() -> None:
    key = alliance_key()
    signed = document(registry_data(days=30))
    with pytest.raises(RegistryRefused) as refused:
        verify(signed, sign(signed, key), trusted(key), now=ISSUED.replace(month=3))
    assert refused.value.reason == "expired"
    assert "serial 1 expired at 2026-01-31T00:00:00+00:00" in str(refused.value)


def test_a_signature_file_that_is_not_a_detached_jws_is_refused() -> None:
    key = alliance_key()
    signed = document(registry_data())
    for garbage in ("", "not a jws", sign(signed, key).replace("..", ".e30.")):
        with pytest.raises(RegistryRefused) as refused:
            verify(signed, garbage, trusted(key), now=ISSUED)
        assert refused.value.reason == "signature"


def _broken(change) -> dict:
    data = copy.deepcopy(registry_data())
    change(data)
    return data


SCHEMA_VIOLATIONS = {
    "country not ISO 3166-1": (
        lambda d: d["members"][2].update(country="XX"),
        "members.2.country: 'XX' is not an ISO 3166-1 alpha-2 country code",
    ),
    "member on an unknown node": (
        lambda d: d["members"][2].update(node="katowice"),
        "members[2] (uni-silesia).node: 'katowice' is not among the nodes (saarland, silesia)",
    ),
    "DID served by another host": (
        lambda d: d["members"][2].update(credential_dids=["did:web:credentials.us.edu.pl"]),
        "did:web:credentials.us.edu.pl is served by credentials.us.edu.pl, not by its node's host mc.us.edu.pl",
    ),
    "one token issuer for two institutions": (
        lambda d: d["members"][1].update(token_issuers=d["members"][0]["token_issuers"]),
        "members[1] (htw-saar).token_issuers: 'https://sso.uni-saarland.de/realms/uds' already speaks for uni-saarland",
    ),
    "a private key published": (
        lambda d: d["members"][0]["token_issuers"][0]["jwks"]["keys"][0].update(d=TOKEN_KEY.as_dict(private=True)["d"]),
        "a private key was published: remove its private member(s) d",
    ),
    "plain http to another machine": (
        lambda d: d["nodes"][1].update(base_url="http://mc.us.edu.pl"),
        "nodes.1.base_url: String should match pattern",
    ),
    "two nodes with one Kafka principal": (
        lambda d: d["nodes"][1].update(kafka_principal="User:saarland"),
        "nodes[1].kafka_principal: 'User:saarland' repeats nodes[0]",
    ),
    "an issuer with no keys": (
        lambda d: d["members"][2]["token_issuers"][0].pop("jwks_uri"),
        "needs jwks (its keys), jwks_uri (where it publishes them), or both",
    ),
}


@pytest.mark.parametrize("violation", SCHEMA_VIOLATIONS)
def test_a_registry_that_breaks_its_schema_is_refused_naming_the_field_and_the_rule(violation: str) -> None:
    change, message = SCHEMA_VIOLATIONS[violation]
    key = alliance_key()
    signed = json.dumps(_broken(change), indent=2).encode()

    with pytest.raises(RegistryRefused) as refused:
        verify(signed, sign(signed, key), trusted(key), now=ISSUED)

    assert refused.value.reason == "schema"
    assert message in str(refused.value)


def test_the_committed_json_schema_is_the_one_the_models_generate() -> None:
    assert write_schema(check=True), "run `python -m shared.alliance schema` and commit registry.schema.json"


def test_the_json_schema_accepts_a_registry_and_rejects_what_a_node_would_refuse() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(json.loads(document(registry_data())))) == []
    for violation in ("a private key published", "plain http to another machine"):
        assert list(validator.iter_errors(_broken(SCHEMA_VIOLATIONS[violation][0]))), violation


def test_the_signature_is_a_standard_detached_jws_over_the_file_bytes() -> None:
    """Checked with nothing but the JWS rules and an Ed25519 verify: any JOSE implementation can do the same."""
    key = alliance_key()
    signed = document(registry_data())
    header, payload, signature = sign(signed, key).split(".")

    assert payload == ""
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "Ed25519", "kid": key.thumbprint(), "typ": "mc-alliance-registry+jws"
    }
    signing_input = f"{header}.{base64.urlsafe_b64encode(signed).rstrip(b'=').decode()}".encode()
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(key.as_dict()["x"] + "="))
    public.verify(base64.urlsafe_b64decode(signature + "=="), signing_input)  # Raises if it does not verify.


def test_the_secretariat_creates_the_key_and_builds_signs_and_edits_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["keys", "--dir", "keys"]) == 0
    assert stat.S_IMODE(os.stat("keys/alliance-private.pem").st_mode) == 0o600
    assert main(["keys", "--dir", "keys"]) == 2  # The alliance's key is never overwritten.
    assert main(["init", "--id", "t4eu", "--name", "Transform4Europe"]) == 0
    (tmp_path / "uds.jwk.json").write_text(json.dumps(TOKEN_KEY.as_dict(private=False)))
    assert main([
        "add-member", "--institution", "uni-saarland", "--legal-name", "Universität des Saarlandes", "--country", "DE",
        "--node", "saarland", "--node-url", "https://mc.uni-saarland.de", "--kafka-principal", "User:saarland",
        "--did", "did:web:mc.uni-saarland.de:institutions:uni-saarland",
        "--token-issuer", "https://sso.uni-saarland.de/realms/uds", "--token-key", "uds.jwk.json",
    ]) == 0
    assert main([
        "add-member", "--institution", "htw-saar", "--legal-name", "HTW Saar", "--country", "DE", "--node", "saarland",
        "--did", "did:web:mc.uni-saarland.de:institutions:htw-saar",
    ]) == 0
    assert main([
        "add-member", "--institution", "uni-silesia", "--legal-name", "University of Silesia", "--country", "PL",
        "--node", "silesia", "--node-url", "https://mc.us.edu.pl", "--kafka-principal", "User:silesia",
        "--did", "did:web:mc.us.edu.pl:institutions:uni-silesia", "--token-issuer", "https://login.us.edu.pl",
        "--jwks-uri", "https://login.us.edu.pl/keys",
    ]) == 0
    assert main(["sign", "--key", "keys/alliance-private.pem"]) == 0
    assert main(["verify", "--public-key", "keys/alliance-public.pem"]) == 0
    assert "valid: Transform4Europe, serial 1, 3 members" in capsys.readouterr().out

    assert main(["remove-member", "--institution", "uni-silesia"]) == 0
    assert "uni-silesia and node silesia removed" in capsys.readouterr().out
    assert main(["verify", "--public-key", "keys/alliance-public.pem"]) == 1  # Edited, not yet signed again.
    assert "refused (signature)" in capsys.readouterr().err
    assert main(["sign", "--key", "keys/alliance-private.pem"]) == 0
    assert main(["verify", "--public-key", "keys/alliance-public.pem"]) == 0
    assert main(["show"]) == 0
    shown = capsys.readouterr().out
    assert "serial 2" in shown and "htw-saar  HTW Saar (DE)" in shown and "uni-silesia" not in shown

    registry = AllianceRegistry.model_validate_json(Path("alliance-registry.json").read_bytes())
    assert [node.id for node in registry.nodes] == ["saarland"]
    assert registry.token_issuers("uni-saarland")[0].jwks.keys[0].x == TOKEN_KEY.as_dict()["x"]
    header = json.loads(base64.urlsafe_b64decode(Path("alliance-registry.json.jws").read_text().split(".")[0] + "=="))
    assert [header["kid"]] == list(load_trusted_keys("keys/alliance-public.pem"))


def test_commands_refuse_edits_that_would_make_the_registry_invalid_and_typos_at_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    main(["keys", "--dir", "keys"])
    main(["init", "--id", "t4eu", "--name", "Transform4Europe"])
    assert main([
        "add-member", "--institution", "uni-x", "--legal-name", "X", "--country", "DE", "--node", "x",
        "--node-url", "https://mc.x.example", "--kafka-principal", "User:x", "--did", "did:web:elsewhere.example",
    ]) == 2
    assert "is served by elsewhere.example, not by its node's host mc.x.example" in capsys.readouterr().err
    assert main(["remove-member", "--institution", "uni-x"]) == 2
    assert "uni-x is not a member of Transform4Europe" in capsys.readouterr().err

    main([
        "add-member", "--institution", "uni-x", "--legal-name", "X", "--country", "DE", "--node", "x",
        "--node-url", "https://mc.x.example", "--kafka-principal", "User:x", "--did", "did:web:mc.x.example",
    ])
    data = json.loads(Path("alliance-registry.json").read_text())
    data["members"][0]["legal_nmae"] = "X University"
    Path("alliance-registry.json").write_text(json.dumps(data, indent=2))
    assert main(["sign", "--key", "keys/alliance-private.pem"]) == 2
    assert "fields the registry does not know (typos?): members.0.legal_nmae" in capsys.readouterr().err


def test_python_dash_m_shared_alliance_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.alliance", "verify", "--registry", str(tmp_path / "missing.json"),
         "--public-key", str(tmp_path / "missing.pem")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "cannot use" in result.stderr and "missing.pem" in result.stderr


def test_the_readme_example_is_a_valid_registry() -> None:
    readme = (ROOT / "README.md").read_text()
    example = readme.split("## The alliance registry", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    registry = AllianceRegistry.model_validate_json(example)
    assert registry.member("uni-saarland").token_issuers[0].jwks_uri
