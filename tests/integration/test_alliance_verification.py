"""Credentials verified at every node: two certification nodes of one alliance, each served by uvicorn on a port of
its own, on the real Kafka and PostgreSQL, following one signed registry. Node A (Saarbrücken) issues; node B
(Katowice) checks A's credentials with A's DID document and status lists fetched from A over HTTP, names A's
university as a member of the alliance, sees A's revocation once its cached list has expired, never calls a key
outside the registry valid, refuses a DID document on a host the registry does not list without contacting it, says
"status could not be checked" when A's node is down, and stops trusting a member the registry drops."""

import asyncio
import contextlib
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification.app import create_service
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import InstitutionProfile, NodeIdentity, create_key, save_profile
from services.certification.tests.test_signing import SOFIA, keys_dir  # noqa: F401 (keys_dir is a fixture)
from services.certification.tests.test_vc import sample_record
from services.certification.tests.test_verification import forged_credential
from services.certification.vc.credential import IssuerProfile, open_badge_credential_json
from services.certification.vc.proof import sign
from shared.auth import Role
from tests.alliance import alliance_key, did_of, publish, registry_data, write_public_key
from tests.stack import free_port, with_kafka_principals
from tests.integration.conftest import eventually, served
from tests.integration.test_certification_credentials import SAARLAND, issued
from tests.integration.test_independent_verifier import serving
from tests.integration.test_metrics import sample

pytestmark = pytest.mark.integration

HTML = {"Accept": "text/html"}
ALLIANCE_KEY = alliance_key()


@pytest.fixture(scope="module")
async def nodes(stack, keys_dir, tmp_path_factory):  # noqa: F811 (keys_dir)
    """Node A signs for uni-saarland (a member) and uni-sofia (not in the registry); node B for uni-silesia."""
    folder = tmp_path_factory.mktemp("alliance")
    urls = {"a": f"http://127.0.0.1:{free_port()}", "b": f"http://127.0.0.1:{free_port()}"}
    registry = folder / "alliance-registry.json"
    publish(registry, registry_data(issued=datetime.now(UTC), saarland=urls["a"], silesia=urls["b"]), ALLIANCE_KEY)
    b_keys = folder / "b-keys"
    create_key(b_keys, "uni-silesia")
    save_profile(b_keys, "uni-silesia", InstitutionProfile("University of Silesia in Katowice", "PL"))
    follows = dict(
        alliance_registry_url=str(registry),
        alliance_public_key_file=str(write_public_key(folder / "alliance-public.json", ALLIANCE_KEY)),
        alliance_registry_poll_seconds=0.1,
    )
    stacks = {
        node: await asyncio.to_thread(
            with_kafka_principals,
            dataclasses.replace(
                stack, topic_prefix=f"{stack.topic_prefix}{node}.", database_prefix=f"{stack.database_prefix}_{node}"
            ),
        )
        for node in urls
    }
    a = stacks["a"].settings(
        CertificationSettings, public_url=urls["a"], issuer_keys_dir=str(keys_dir), proof_processes=0, **follows,
    )
    # B checks proofs in a worker process, as a node does: the DID documents are fetched before, in B's event loop.
    b = stacks["b"].settings(
        CertificationSettings, public_url=urls["b"], issuer_keys_dir=str(b_keys), proof_processes=1,
        status_list_cache_seconds=0.5, **follows,
    )
    async with contextlib.AsyncExitStack() as node_a, contextlib.AsyncExitStack() as node_b:
        clients = SimpleNamespace(
            a=await node_a.enter_async_context(served(create_service(a), int(urls["a"].rsplit(":", 1)[1]))),
            b=await node_b.enter_async_context(served(create_service(b), int(urls["b"].rsplit(":", 1)[1]))),
            stack_a=stacks["a"], urls=urls, registry=registry, stop_a=node_a.aclose,
        )
        for client in (clients.a, clients.b):
            await eventually(lambda: has_metric(client, "mc_alliance_registry_serial", 1))
        yield clients


async def has_metric(client, name: str, wanted: float, **labels: str) -> bool:
    return sample((await client.get("/metrics")).text, name, **labels) == wanted


async def metric(client, name: str, **labels: str) -> float:
    return sample((await client.get("/metrics")).text, name, **labels)


async def verified(client, credential: dict) -> dict:
    answer = await client.post("/verify", json=credential)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_members_credential_is_valid_at_the_other_node_named_as_a_member_of_the_alliance(nodes):
    _, credential = await issued(nodes.a, nodes.stack_a, SAARLAND)
    vc = credential["credential"]
    assert vc["issuer"]["id"] == did_of(nodes.urls["a"], "uni-saarland")

    verdict = await verified(nodes.b, vc)
    assert (verdict["outcome"], verdict["valid"], verdict["status"]) == ("valid", True, "active"), verdict
    assert verdict["summary"].startswith(
        "VALID — Universität des Saarlandes, a member of Transform4Europe, issued this credential to Jana Nováková"
    )
    assert "It has not been revoked or suspended." in verdict["summary"]
    assert (verdict["issuer"]["institution"], verdict["issuer"]["country"], verdict["issuer"]["alliance"]) == (
        "uni-saarland", "DE", "Transform4Europe"
    )
    page = await nodes.b.post("/verify", content=json.dumps(vc), headers=HTML)
    assert 'data-outcome="valid"' in page.text
    assert "Universität des Saarlandes (DE), a member of Transform4Europe" in page.text

    # B asked A, over HTTP, for the DID document and both status lists (suspension is implied at the same index).
    requests = (await nodes.a.get("/metrics")).text
    assert sample(requests, "mc_http_requests_total", route="/institutions/{institution}/did.json", status="200") == 1
    assert sample(requests, "mc_http_requests_total", route="/status-lists/{institution}/{purpose}", status="200") >= 2
    assert await metric(nodes.b, "mc_member_documents_fetched_total", kind="did-document") == 1
    # A, following the same registry, says the same of its own credential (its own key and lists, no fetching).
    assert (await verified(nodes.a, vc))["summary"] == verdict["summary"]
    nodes.valid_credential = credential


async def test_a_credential_signed_by_a_key_outside_the_registry_is_not_valid_at_the_other_node(nodes):
    # A genuine credential of A's node, signed with the key of uni-sofia, which the registry does not list.
    _, credential = await issued(nodes.a, nodes.stack_a, SOFIA)
    verdict = await verified(nodes.b, credential["credential"])
    assert (verdict["outcome"], verdict["valid"], verdict["status"]) == ("unknown-issuer", False, "not-checked")
    assert verdict["summary"].startswith("NOT CONFIRMED — the signature is genuine and the credential is unchanged")

    forged = await verified(nodes.b, forged_credential("Universität des Saarlandes"))
    assert (forged["outcome"], forged["valid"]) == ("unknown-issuer", False)
    assert "Universität des Saarlandes" not in forged["summary"].split("It claims")[0]


async def test_a_did_on_a_host_not_in_the_registry_is_refused_without_being_fetched(nodes):
    with serving() as elsewhere:
        key = Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39)))
        identity = NodeIdentity(elsewhere.url, {"uni-saarland": key})
        elsewhere.documents["/institutions/uni-saarland/did.json"] = identity.document("uni-saarland")
        profile = IssuerProfile(id=identity.did("uni-saarland"), name="Universität des Saarlandes", country="DE")
        unsigned = json.loads(open_badge_credential_json(
            sample_record(), f"{elsewhere.url}/credentials/1", profile, datetime.now(UTC), salt="0a"
        ))
        credential = sign(unsigned, key, identity.verification_method("uni-saarland"))

        verdict = await verified(nodes.b, credential)
        page = await nodes.b.post("/verify", content=json.dumps(credential), headers=HTML)
        assert elsewhere.requested == [], "no request reached the host the registry does not list"

    assert (verdict["outcome"], verdict["valid"]) == ("not-verifiable", False)
    refusal = (
        f"the DID document of {identity.did('uni-saarland')} is on {elsewhere.domain}, which is not a node of "
        "Transform4Europe (registry serial 1): not fetched"
    )
    assert verdict["summary"].startswith(f"CANNOT BE CHECKED HERE — it was signed with a key this node does not know ({refusal}).")
    assert verdict["details"][0] == refusal
    assert 'data-outcome="not-verifiable"' in page.text and "not a node of Transform4Europe" in page.text
    assert await metric(
        nodes.b, "mc_member_documents_refused_total", kind="did-document", reason="host-not-in-registry"
    ) == 2
    assert (await nodes.b.get("/health/ready")).status_code == 200


async def test_a_credential_revoked_at_its_node_shows_as_revoked_at_the_other_node(nodes):
    credential = nodes.valid_credential
    registrar = nodes.stack_a.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    revoked = await nodes.a.post(
        f"/credentials/{credential['id']}/revoke", json={"reason": "the exam was annulled"}, headers=registrar
    )
    assert revoked.is_success, revoked.text
    assert (await verified(nodes.a, credential["credential"]))["outcome"] == "revoked"

    async def revoked_at_b() -> dict | None:
        verdict = await verified(nodes.b, credential["credential"])
        return verdict if verdict["outcome"] == "revoked" else None

    verdict = await eventually(revoked_at_b)  # once B's kept list has outlived STATUS_LIST_CACHE_SECONDS
    assert (verdict["valid"], verdict["status"]) == (False, "revoked")
    assert verdict["summary"].startswith(
        "REVOKED — Universität des Saarlandes, a member of Transform4Europe, issued this credential"
    )


async def test_when_the_issuers_node_is_down_the_status_could_not_be_checked_and_it_is_not_valid(nodes):
    _, credential = await issued(nodes.a, nodes.stack_a, SAARLAND)
    assert (await verified(nodes.b, credential["credential"]))["outcome"] == "valid"
    await nodes.stop_a()

    async def unknown_at_b() -> dict | None:
        verdict = await verified(nodes.b, credential["credential"])
        return verdict if verdict["outcome"] == "status-unknown" else None

    verdict = await eventually(unknown_at_b)
    assert (verdict["valid"], verdict["status"]) == (False, "not-checked")
    assert verdict["summary"].startswith(
        "STATUS NOT CONFIRMED — Universität des Saarlandes, a member of Transform4Europe, issued this credential"
    )
    assert f"the revocation list could not be read: GET {nodes.urls['a']}/status-lists/uni-saarland/revocation failed" in (
        verdict["summary"]
    )
    assert "not been revoked" not in verdict["summary"]
    assert await metric(nodes.b, "mc_member_documents_refused_total", kind="status-list", reason="unavailable") >= 1
    nodes.unrevoked_credential = credential


async def test_a_member_the_registry_drops_is_no_longer_trusted_at_the_next_reload(nodes):
    data = registry_data(issued=datetime.now(UTC), saarland=nodes.urls["a"], silesia=nodes.urls["b"], serial=2)
    data["members"] = [member for member in data["members"] if member["institution"] != "uni-saarland"]
    publish(Path(nodes.registry), data, ALLIANCE_KEY)
    await eventually(lambda: has_metric(nodes.b, "mc_alliance_registry_serial", 2))

    # The node still hosts a member, so its (kept) DID document still checks the signature: genuine, but no longer
    # an issuer B vouches for.
    verdict = await verified(nodes.b, nodes.unrevoked_credential["credential"])
    assert (verdict["outcome"], verdict["valid"], verdict["issuer"]["name"]) == ("unknown-issuer", False, None)
