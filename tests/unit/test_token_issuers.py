"""Who may sign the tokens a node accepts: its own key, its own OpenID Connect providers (served here by a real HTTP
server on this machine: discovery document and JWK Set), and the identity providers of the alliance's members, per the
registry in use (pinned keys, keys at a jwks_uri). Each refusal names what was wrong, is counted and logged."""

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey
from prometheus_client import CollectorRegistry

from shared.alliance import AllianceRegistry, RegistryWatcher
from shared.alliance.loader import FileSource
from shared.auth import AUDIENCE, CLOCK_SKEW_SECONDS, Role, TokenRefused, TokenVerifier, create_keys, public_key_set, read_key
from shared.jwks import PublishedKeys
from shared.settings import ServiceSettings
from tests.alliance import TOKEN_KEY, alliance_key, publish, registry_data, trusted
from tests.integration.test_independent_verifier import Documents, serving
from tests.stack import ROOT

# The registry's members' identity providers (tests.alliance.registry_data): Saarland's pins its key "uds-2026".
SAARLAND_SSO = "https://sso.uni-saarland.de/realms/uds"
SILESIA_IDP = "https://login.us.edu.pl/idp/shibboleth"
NOW = datetime.now(UTC)
RSA_KEYS = {kid: RSAKey.generate_key(2048, {"kid": kid, "alg": "RS256", "use": "sig"}) for kid in ("k1", "k2")}


class Clock:
    """The key cache's clock, moved on by the test (no waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signed(key: Key, algorithm: str, kid: str | None = None, **claims: Any) -> str:
    """A token as an identity provider signs it: these claims over a learner's defaults, `kid` in the header."""
    now = int(time.time())
    payload = {
        "sub": "ana", "name": "Ana Kowalska", "email": "ana@example.eu", "roles": ["learner"],
        "affiliation": ["student"], "aud": AUDIENCE, "iat": now, "exp": now + 300,
    } | claims
    header = {"alg": algorithm, "typ": "JWT"} | ({"kid": kid} if kid else {})
    return jws.serialize_compact(header, json.dumps(payload), key, algorithms=[algorithm])


def registry(**changes: Any) -> AllianceRegistry:
    data = registry_data(issued=NOW)
    for member in data["members"]:
        member.update(changes.get(member["institution"], {}))
    return AllianceRegistry.model_validate(data)


@pytest.fixture(scope="module")
def node_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return create_keys(tmp_path_factory.mktemp("node-keys"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def provider() -> Iterator[Documents]:
    """An OpenID Connect provider on this machine, as Keycloak publishes a realm: discovery document, then keys."""
    with serving() as web:
        issuer = f"{web.url}/realms/t4eu"
        web.documents["/realms/t4eu/.well-known/openid-configuration"] = {
            "issuer": issuer, "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        # Keycloak publishes an encryption key beside its signature key; it must never verify a token.
        encryption = RSAKey.generate_key(2048, {"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"}).as_dict(private=False)
        web.documents["/realms/t4eu/protocol/openid-connect/certs"] = {
            "keys": [RSA_KEYS["k1"].as_dict(private=False), encryption]
        }
        web.issuer = issuer  # type: ignore[attr-defined]
        yield web


def verifier(node_keys, metrics, clock, oidc: tuple[str, ...] = (), **settings: Any) -> TokenVerifier:
    config = ServiceSettings(auth_public_key_file=str(node_keys[1]), auth_oidc_issuers=oidc, **settings)
    return TokenVerifier(config, metrics, keys=PublishedKeys(timeout=2, lifetime=3600, min_interval=10, clock=clock))


def refused(metrics: CollectorRegistry, reason: str) -> float:
    return metrics.get_sample_value("mc_tokens_refused_total", {"reason": reason}) or 0.0


def accepted(metrics: CollectorRegistry, issuer: str) -> float:
    return metrics.get_sample_value("mc_tokens_accepted_total", {"issuer": issuer}) or 0.0


async def refusal(tokens: TokenVerifier, token: str, registry: AllianceRegistry | None = None) -> TokenRefused:
    with pytest.raises(TokenRefused) as refused_:
        await tokens.verify(token, registry)
    return refused_.value


# --- the node's own key ---


async def test_the_nodes_own_key_signs_tokens_for_any_role_and_institution(node_keys, metrics, clock):
    tokens = verifier(node_keys, metrics, clock)
    node_key = read_key(node_keys[0].read_bytes())
    principal = await tokens.verify(
        signed(node_key, "Ed25519", roles=["registrar"], institution="uni-sofia", iss="urn:microcredentials:node:x"),
        registry(),
    )
    assert (principal.subject, principal.roles, principal.institution) == ("ana", {Role.REGISTRAR}, "uni-sofia")
    assert accepted(metrics, "node-key") == 1

    stranger = OKPKey.generate_key("Ed25519")
    problem = await refusal(tokens, signed(stranger, "Ed25519", iss="urn:microcredentials:node:x"), None)
    assert str(problem) == (
        "token issued by urn:microcredentials:node:x, which is not an identity provider of this node (it follows no "
        "alliance registry)"
    )
    assert problem.reason == "unknown-issuer" and refused(metrics, "unknown-issuer") == 1


# --- the node's own OpenID Connect provider ---


async def test_the_nodes_openid_provider_is_found_by_discovery_and_its_keys_are_fetched_once(
    node_keys, metrics, clock, provider
):
    tokens = verifier(node_keys, metrics, clock, oidc=(provider.issuer,))
    token = signed(
        RSA_KEYS["k1"], "RS256", kid="k1", iss=provider.issuer, roles=["qa-officer"], institution="uni-saarland",
        aud=["account", AUDIENCE],  # as Keycloak's audience mapper adds it
    )

    principal = await tokens.verify(token, None)
    assert (principal.roles, principal.institution, principal.issuer) == ({Role.QA_OFFICER}, "uni-saarland", provider.issuer)
    assert provider.requested == ["/realms/t4eu/.well-known/openid-configuration", "/realms/t4eu/protocol/openid-connect/certs"]
    for _ in range(20):
        await tokens.verify(token, None)
    assert len(provider.requested) == 2, "kept keys: no request per token"
    assert accepted(metrics, "oidc") == 21

    # A token of this provider signed by someone else's key under the provider's key id.
    forged = signed(RSAKey.generate_key(2048), "RS256", kid="k1", iss=provider.issuer)
    problem = await refusal(tokens, forged)
    assert problem.reason == "bad-signature" and f"the keys {provider.issuer} publishes" in str(problem)
    # Its encryption key is not a signature key.
    problem = await refusal(tokens, signed(RSA_KEYS["k1"], "RS256", kid="enc-1", iss=provider.issuer))
    assert problem.reason == "unknown-key"
    await tokens.close()


async def test_a_rotated_key_is_fetched_when_a_token_names_it_and_a_flood_of_made_up_key_ids_costs_one_request(
    node_keys, metrics, clock, provider
):
    tokens = verifier(node_keys, metrics, clock, oidc=(provider.issuer,))
    await tokens.verify(signed(RSA_KEYS["k1"], "RS256", kid="k1", iss=provider.issuer), None)
    assert len(provider.requested) == 2

    # The provider rotates: it publishes k2 and signs with it from now on.
    clock.now += 60
    certs = "/realms/t4eu/protocol/openid-connect/certs"
    provider.documents[certs] = {"keys": [RSA_KEYS["k1"].as_dict(private=False), RSA_KEYS["k2"].as_dict(private=False)]}
    principal = await tokens.verify(signed(RSA_KEYS["k2"], "RS256", kid="k2", iss=provider.issuer), None)
    assert principal.subject == "ana" and len(provider.requested) == 4

    # Someone sends tokens with made-up key ids: the provider is asked once, then not before the interval is over.
    flood = [signed(RSA_KEYS["k1"], "RS256", kid=f"made-up-{n}", iss=provider.issuer) for n in range(30)]
    clock.now += 60
    for n, token in enumerate(flood):
        problem = await refusal(tokens, token)
        assert str(problem) == (
            f"the token of {provider.issuer} is signed with key made-up-{n}, which is not among the keys "
            f"{provider.issuer} publishes"
        )
    assert len(provider.requested) == 6, "one refresh (discovery and keys) for thirty unknown key ids"
    clock.now += 11
    await refusal(tokens, flood[0])
    assert len(provider.requested) == 8
    assert refused(metrics, "unknown-key") == 31
    await tokens.close()


async def test_a_provider_that_cannot_be_reached_refuses_its_tokens_until_reached_and_kept_keys_outlive_it(
    node_keys, metrics, clock, provider
):
    tokens = verifier(node_keys, metrics, clock, oidc=(provider.issuer,))
    token = signed(RSA_KEYS["k1"], "RS256", kid="k1", iss=provider.issuer)
    certs = provider.documents.pop("/realms/t4eu/protocol/openid-connect/certs")
    problem = await refusal(tokens, token)
    assert problem.reason == "keys-unavailable"
    assert f"the keys of {provider.issuer} could not be fetched: GET {provider.issuer}/protocol/openid-connect/certs " \
        "answered 404" == str(problem)

    provider.documents["/realms/t4eu/protocol/openid-connect/certs"] = certs
    await refusal(tokens, token)  # Not asked again within the interval.
    clock.now += 11
    assert (await tokens.verify(token, None)).subject == "ana"

    # Down again, and the kept keys grow old: they stay in use.
    provider.documents.clear()
    clock.now += 7200
    assert (await tokens.verify(token, None)).subject == "ana"
    await tokens.close()


async def test_a_discovery_document_for_another_issuer_is_not_believed(node_keys, metrics, clock, provider):
    provider.documents["/realms/t4eu/.well-known/openid-configuration"]["issuer"] = "https://sso.elsewhere.example"
    tokens = verifier(node_keys, metrics, clock, oidc=(provider.issuer,))
    problem = await refusal(tokens, signed(RSA_KEYS["k1"], "RS256", kid="k1", iss=provider.issuer))
    assert problem.reason == "keys-unavailable" and "describes the issuer 'https://sso.elsewhere.example'" in str(problem)
    await tokens.close()


# --- the members' identity providers, per the registry in use ---


async def test_a_members_token_with_a_pinned_key_makes_a_learner_known_by_institution_and_subject(node_keys, metrics, clock):
    tokens = verifier(node_keys, metrics, clock)
    token = signed(
        TOKEN_KEY, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO, institution="uni-saarland", roles=["registrar", "learner"]
    )
    principal = await tokens.verify(token, registry())
    assert (principal.subject, principal.roles, principal.institution, principal.name, principal.email) == (
        "uni-saarland:ana", {Role.LEARNER}, "uni-saarland", "Ana Kowalska", "ana@example.eu"
    ), "staff roles of another university have no power here; its people are known by their university"
    without_institution = await tokens.verify(
        signed(TOKEN_KEY, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO), registry()
    )
    assert without_institution.institution == "uni-saarland", "the issuer's member, as the registry says"
    assert accepted(metrics, "member") == 2

    # The registry also names a jwks_uri; the pinned key answered, so nothing was fetched (the URL does not exist).
    other = OKPKey.generate_key("Ed25519")
    problem = await refusal(tokens, signed(other, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO), registry())
    assert problem.reason == "bad-signature"


async def test_a_members_token_is_checked_with_the_keys_at_the_registrys_jwks_uri(node_keys, metrics, clock):
    key = ECKey.generate_key("P-256", {"kid": "us-2026"})
    with serving({"/keyset": public_key_set(key)}) as web:
        members = registry(**{"uni-silesia": {"token_issuers": [{"issuer": SILESIA_IDP, "jwks_uri": f"{web.url}/keyset"}]}})
        tokens = verifier(node_keys, metrics, clock)
        principal = await tokens.verify(signed(key, "ES256", kid="us-2026", iss=SILESIA_IDP), members)
        await tokens.verify(signed(key, "ES256", kid="us-2026", iss=SILESIA_IDP), members)
        assert (principal.subject, principal.institution, principal.roles) == ("uni-silesia:ana", "uni-silesia", {Role.LEARNER})
        assert web.requested == ["/keyset"], "fetched from the registry's URL only, once"
        await tokens.close()


async def test_an_issuer_speaks_only_for_its_own_institution(node_keys, metrics, clock, provider):
    tokens = verifier(node_keys, metrics, clock)
    token = signed(TOKEN_KEY, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO, institution="uni-silesia")
    problem = await refusal(tokens, token, registry())
    assert problem.reason == "institution" and str(problem) == (
        f"the token of {SAARLAND_SSO} names the institution uni-silesia, but {SAARLAND_SSO} speaks only for "
        "uni-saarland (Universität des Saarlandes)"
    )

    # The node's own provider too, once the registry lists it for a member; it keeps its roles at its node.
    listed = registry(**{"uni-saarland": {"token_issuers": [{"issuer": provider.issuer, "jwks_uri": f"{provider.url}/x"}]}})
    own = verifier(node_keys, CollectorRegistry(), clock, oidc=(provider.issuer,))
    kw = {"kid": "k1", "iss": provider.issuer, "roles": ["registrar"]}
    assert (await own.verify(signed(RSA_KEYS["k1"], "RS256", institution="uni-saarland", **kw), listed)).roles == {
        Role.REGISTRAR
    }
    assert (await refusal(own, signed(RSA_KEYS["k1"], "RS256", institution="upr", **kw), listed)).reason == "institution"
    await own.close()


async def test_a_token_from_outside_the_alliance_is_refused_naming_its_issuer_and_the_alliance(node_keys, metrics, clock):
    tokens = verifier(node_keys, metrics, clock)
    outsider = RSAKey.generate_key(2048)
    problem = await refusal(tokens, signed(outsider, "RS256", kid="x", iss="https://idp.elsewhere.example"), registry())
    assert str(problem) == (
        "token issued by https://idp.elsewhere.example, which is not an identity provider of this node or of a member "
        "of Transform4Europe (registry serial 1)"
    )
    followed = verifier(
        node_keys, CollectorRegistry(), clock, alliance_registry_url="/nowhere", alliance_public_key_file="/x"
    )
    problem = await refusal(followed, signed(outsider, "RS256", iss="https://idp.elsewhere.example"), None)
    assert "and the alliance registry has not been loaded yet" in str(problem)


async def test_a_removed_members_tokens_stop_working_when_the_node_takes_the_new_registry(
    node_keys, metrics, clock, tmp_path
):
    secretariat = alliance_key()
    path = tmp_path / "alliance-registry.json"
    publish(path, registry_data(serial=1, issued=NOW), secretariat)
    watcher = RegistryWatcher(FileSource(path), trusted(secretariat))
    await watcher.refresh()
    tokens = verifier(node_keys, metrics, clock)
    token = signed(TOKEN_KEY, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO)
    assert (await tokens.verify(token, watcher.current)).subject == "uni-saarland:ana"

    data = registry_data(serial=2, issued=NOW)
    data["nodes"].pop(0)
    data["members"] = [member for member in data["members"] if member["node"] != "saarland"]
    publish(path, data, secretariat)
    await watcher.refresh()
    problem = await refusal(tokens, token, watcher.current)
    assert str(problem) == (
        f"token issued by {SAARLAND_SSO}, which is not an identity provider of this node or of a member of "
        "Transform4Europe (registry serial 2)"
    )


# --- what every token must be ---


async def test_an_expired_token_is_refused_naming_when_it_expired(node_keys, metrics, clock):
    tokens = verifier(node_keys, metrics, clock)
    expired_at = int(time.time()) - 3600
    for key, kid, iss in ((read_key(node_keys[0].read_bytes()), None, "urn:x"), (TOKEN_KEY, "uds-2026", SAARLAND_SSO)):
        problem = await refusal(tokens, signed(key, "Ed25519", kid=kid, iss=iss, exp=expired_at), registry())
        when = datetime.fromtimestamp(expired_at, UTC).isoformat().replace("+00:00", "Z")
        assert problem.reason == "expired" and str(problem) == f"the token expired at {when}, 60 min ago"
    assert refused(metrics, "expired") == 2


async def test_a_token_accepted_before_is_believed_again_only_as_it_is_and_until_it_expires(node_keys, metrics):
    clock = Clock()
    clock.now = time.time()
    tokens = TokenVerifier(ServiceSettings(auth_public_key_file=str(node_keys[1])), metrics, clock=clock)
    token = signed(read_key(node_keys[0].read_bytes()), "Ed25519", iss="urn:x", exp=int(clock.now) + 60)
    for _ in range(3):  # Its signature is checked once; each request still counts.
        assert (await tokens.verify(token, None)).subject == "ana"
    assert accepted(metrics, "node-key") == 3
    header, claims, signature = token.split(".")
    forged = signed(read_key(node_keys[0].read_bytes()), "Ed25519", iss="urn:x", sub="eve").split(".")[1]
    await refusal(tokens, f"{header}.{forged}.{signature}")  # Another text: checked, and refused.

    clock.now += 60 + CLOCK_SKEW_SECONDS
    problem = await refusal(tokens, token)
    assert problem.reason == "expired" and "the token expired at" in str(problem)


async def test_what_is_not_a_token_for_this_node_is_refused_saying_why(node_keys, metrics, clock):
    tokens = verifier(node_keys, metrics, clock)
    node_key = read_key(node_keys[0].read_bytes())
    cases = {
        "malformed": "not.a.token",
        "algorithm": jws.serialize_compact(
            {"alg": "HS256"}, json.dumps({"sub": "x", "iss": "urn:x"}), OctKey.import_key("a shared secret" * 3),
            algorithms=["HS256"],
        ),
        "audience": signed(node_key, "Ed25519", aud="account"),
        "missing-claim": signed(node_key, "Ed25519", exp=None),
        "not-yet-valid": signed(node_key, "Ed25519", nbf=int(time.time()) + 3600),
    }
    messages = {reason: str(await refusal(tokens, token)) for reason, token in cases.items()}
    assert messages["malformed"] == "the bearer token is not a signed JWT (header.claims.signature)"
    assert messages["algorithm"].startswith("tokens signed with HS256 are not accepted (only Ed25519, EdDSA, RS256")
    assert messages["audience"] == "the token is for account, not for microcredentials (aud)"
    assert messages["missing-claim"] == "the token has no expiry time (exp)"
    assert messages["not-yet-valid"].startswith("the token is not valid before ")
    assert all(refused(metrics, reason) == 1 for reason in cases)


async def test_refusals_are_logged_once_per_reason_per_minute_and_each_is_counted(node_keys, metrics, clock, caplog):
    tokens = verifier(node_keys, metrics, clock)
    outsider = OKPKey.generate_key("Ed25519")
    with caplog.at_level(logging.WARNING, logger="shared.auth"):
        for n in range(25):
            await refusal(tokens, signed(outsider, "Ed25519", iss=f"https://idp-{n}.example"))
        await refusal(tokens, "garbage")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "token refused (unknown-issuer): token issued by https://idp-0.example, which is not an identity provider of "
        "this node (it follows no alliance registry)",
        "token refused (malformed): the bearer token is not a signed JWT (header.claims.signature)",
    ]
    assert refused(metrics, "unknown-issuer") == 25


async def test_an_issuers_token_from_the_command_line_verifies_with_the_key_set_the_command_prints(
    node_keys, metrics, clock, tmp_path
):
    """For tests and an alliance on one machine: a member's issuer with its own key, pinned in the registry."""
    private, public = create_keys(tmp_path, "silesia")
    command = [sys.executable, "-m", "shared.auth"]
    key_set = json.loads(
        subprocess.run([*command, "jwks", "--key", str(public)], cwd=ROOT, check=True, capture_output=True).stdout
    )
    token = subprocess.run(
        [*command, "token", "--key", str(private), "--issuer", SILESIA_IDP, "--subject", "jan", "--name", "Jan Nowak",
         "--email", "jan@us.edu.pl", "--role", "learner", "--affiliation", "staff", "--institution", "uni-silesia"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()
    members = registry(**{"uni-silesia": {"token_issuers": [{"issuer": SILESIA_IDP, "jwks": key_set}]}})
    principal = await verifier(node_keys, metrics, clock).verify(token, members)
    assert (principal.subject, principal.institution, principal.name) == ("uni-silesia:jan", "uni-silesia", "Jan Nowak")

    # At Silesia's own node, whose key it is, the same token is the node's own: its subject and roles as they are.
    at_home = await verifier((private, public), CollectorRegistry(), clock).verify(token, members)
    assert (at_home.subject, at_home.roles) == ("jan", {Role.LEARNER})
    registrar = subprocess.run(
        [*command, "token", "--key", str(private), "--issuer", SILESIA_IDP, "--subject", "ewa", "--role", "registrar",
         "--institution", "uni-silesia"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()
    assert (await verifier((private, public), CollectorRegistry(), clock).verify(registrar, members)).roles == {
        Role.REGISTRAR
    }
    assert (await verifier(node_keys, CollectorRegistry(), clock).verify(registrar, members)).roles == {Role.LEARNER}
