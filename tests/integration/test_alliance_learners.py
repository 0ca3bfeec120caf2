"""Learners apply across the alliance with their home identity: node A's enrolment service (Saarbrücken) in this
process, on the real Kafka and PostgreSQL, following a signed alliance registry from a file.

A student of the University of Silesia (whose node is B) applies to A's offering with a token from Silesia's identity
provider (RS256, as Keycloak signs; its keys at the registry's `jwks_uri`, served by a real HTTP server on this
machine): A verifies it with Silesia's key, takes her name, email, university and affiliation from it, and enrols her
as an alliance student who owes no fee. A token from an identity provider outside the alliance, and an expired one,
are refused with 401 naming what was wrong, and counted. When the secretariat removes Silesia and A takes the new
registry, her token stops working; A's own users go on as before.
"""

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
from joserfc.jwk import RSAKey

from services.enrolment.app import create_service
from services.enrolment.settings import EnrolmentSettings
from shared.auth import Affiliation, Role, public_key_set
from shared.events.common import Money
from tests.alliance import alliance_key, publish, registry_data, write_public_key
from tests.integration.conftest import eventually, running
from tests.integration.test_enrolment_applications import apply, open_offering, published_for, registrar
from tests.integration.test_independent_verifier import Documents, serving
from tests.integration.test_metrics import sample
from tests.unit.test_token_issuers import SILESIA_IDP, signed

pytestmark = pytest.mark.integration

SECRETARIAT = alliance_key()
SILESIA_KEY = RSAKey.generate_key(2048, {"kid": "us-2026", "alg": "RS256", "use": "sig"})
OUTSIDE_IDP = "https://idp.elsewhere.example"
FEE = Money(amount=120, currency="EUR")


def silesia_registry(serial: int, keys: Documents, with_silesia: bool = True) -> dict:
    data = registry_data(serial=serial, issued=datetime.now(UTC))
    for member in data["members"]:
        if member["institution"] == "uni-silesia":
            member["token_issuers"] = [{"issuer": SILESIA_IDP, "jwks_uri": f"{keys.url}/idp/profile/oidc/keyset"}]
    if not with_silesia:
        data["members"] = [member for member in data["members"] if member["institution"] != "uni-silesia"]
        data["nodes"] = [node for node in data["nodes"] if node["id"] != "silesia"]
    return data


@pytest.fixture(scope="module")
def silesia_keys() -> Iterator[Documents]:
    """Where Silesia's identity provider publishes its keys."""
    with serving({"/idp/profile/oidc/keyset": public_key_set(SILESIA_KEY)}) as web:
        yield web


@pytest.fixture(scope="module")
async def node_a(stack, silesia_keys, tmp_path_factory) -> AsyncIterator[SimpleNamespace]:
    folder = tmp_path_factory.mktemp("alliance")
    registry = folder / "alliance-registry.json"
    publish(registry, silesia_registry(1, silesia_keys), SECRETARIAT)
    settings = stack.settings(
        EnrolmentSettings,
        alliance_registry_url=str(registry),
        alliance_public_key_file=str(write_public_key(folder / "alliance-public.json", SECRETARIAT)),
        alliance_registry_poll_seconds=0.1,
        alliance_institutions=frozenset(),  # Membership is the registry's alone.
    )
    async with running(create_service(settings)) as client:
        await eventually(lambda: metric(client, "mc_alliance_registry_serial", 1))
        yield SimpleNamespace(client=client, registry=registry)


async def metric(client: httpx.AsyncClient, name: str, wanted: float | None = None, **labels: str) -> float | bool:
    value = sample((await client.get("/metrics")).text, name, **labels)
    return value if wanted is None else value == wanted


def silesia_token(subject: str, **claims) -> dict[str, str]:
    """What Silesia's identity provider issues: who she is there, and no roles of this platform."""
    attested = {
        "sub": subject, "name": "Ana Kowalska", "email": f"{subject}@us.edu.pl", "institution": "uni-silesia",
        "affiliation": ["student", "member"], "roles": [],
    }
    token = signed(SILESIA_KEY, "RS256", kid="us-2026", iss=SILESIA_IDP, **(attested | claims))
    return {"Authorization": f"Bearer {token}"}


async def test_a_learner_of_another_member_applies_with_her_home_token_and_owes_nothing(stack, node_a, silesia_keys):
    client = node_a.client
    offering = await open_offering(stack, client, fee=FEE)
    headers = silesia_token("ana.kowalska")

    registered = await client.post("/learners", json={"preferred_language": "pl"}, headers=headers)
    assert registered.status_code == 201, registered.text
    record = registered.json()
    assert (record["id"], record["name"], record["email"], record["home_institution"], record["category"]) == (
        "uni-silesia:ana.kowalska", "Ana Kowalska", "ana.kowalska@us.edu.pl", "uni-silesia", "alliance-student"
    )
    placed = await apply(client, headers, offering["id"])
    assert placed.status_code == 201, placed.text
    assert (placed.json()["status"], placed.json()["fee_status"]) == ("enrolled", "waived")
    [enrolled] = await published_for(stack, offering["id"], count=1)
    assert enrolled["data"]["learner"].items() >= {
        "learner_id": "uni-silesia:ana.kowalska", "home_institution": "uni-silesia", "category": "alliance-student"
    }.items()
    mine = await client.get("/learners/uni-silesia:ana.kowalska", headers=headers)
    assert mine.status_code == 200 and mine.json()["category"] == "alliance-student"

    # Her university's staff roles would mean nothing here: she is a learner at this node.
    as_registrar = silesia_token("ewa.nowak", roles=["registrar"], affiliation=["staff"])
    refused = await client.post(f"/applications/{placed.json()['id']}/fee", json={"status": "paid"}, headers=as_registrar)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == (
        "this needs the role registrar; uni-silesia:ewa.nowak has the role learner, for uni-silesia"
    )

    # Silesia's keys were fetched from the registry's URL once, not per request.
    assert silesia_keys.requested == ["/idp/profile/oidc/keyset"]
    assert await metric(client, "mc_tokens_accepted_total", issuer="member") >= 4


async def test_a_token_from_outside_the_alliance_or_expired_is_refused_naming_what_was_wrong(stack, node_a):
    client = node_a.client
    outsider = RSAKey.generate_key(2048, {"kid": "x-1"})
    headers = {"Authorization": f"Bearer {signed(outsider, 'RS256', kid='x-1', iss=OUTSIDE_IDP, institution='x')}"}
    refused = await client.post("/learners", json={}, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        f"invalid token: token issued by {OUTSIDE_IDP}, which is not an identity provider of this node or of a member "
        "of Transform4Europe (registry serial 1)"
    )
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    expired = await client.post("/learners", json={}, headers=silesia_token("old", exp=int(time.time()) - 7200))
    assert expired.status_code == 401 and "the token expired at " in expired.json()["detail"]
    assert expired.json()["detail"].endswith(", 2.0 h ago")
    assert await metric(client, "mc_tokens_refused_total", reason="unknown-issuer") >= 1
    assert await metric(client, "mc_tokens_refused_total", reason="expired") >= 1


async def test_a_removed_members_tokens_stop_working_once_the_node_takes_the_new_registry(stack, node_a, silesia_keys):
    client = node_a.client
    offering = await open_offering(stack, client, fee=FEE)
    headers = silesia_token("jan.nowak")
    assert (await client.post("/learners", json={}, headers=headers)).status_code == 201
    assert (await apply(client, headers, offering["id"])).status_code == 201

    publish(node_a.registry, silesia_registry(2, silesia_keys, with_silesia=False), SECRETARIAT)
    await eventually(lambda: metric(client, "mc_alliance_registry_serial", 2))
    refused = await client.get("/learners/uni-silesia:jan.nowak", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["detail"] == (
        f"invalid token: token issued by {SILESIA_IDP}, which is not an identity provider of this node or of a member "
        "of Transform4Europe (registry serial 2)"
    )
    # Nothing else stops working: A's registrar still sees her application.
    applications = await client.get(f"/applications?offering_id={offering['id']}", headers=registrar(stack))
    assert applications.status_code == 200, applications.text
    assert [application["learner_id"] for application in applications.json()] == ["uni-silesia:jan.nowak"]

    # Membership follows the registry too: someone of Silesia with a token of this node's own is no longer in the
    # alliance, so external, and owes the fee.
    outsider = stack.bearer(
        "kasia@us.edu.pl", Role.LEARNER, institution="uni-silesia", email="kasia@us.edu.pl",
        affiliation=[Affiliation.STUDENT],
    )
    assert (await client.post("/learners", json={}, headers=outsider)).json()["category"] == "external"
