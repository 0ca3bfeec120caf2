"""Verification and status lists of the certification service on the real Kafka and PostgreSQL: the node vouches only
for its own institutions, under the names it states for them; a forged credential is never VALID; /verify is bounded
(size, checks at once) and never stops the service; status lists are signed when a status changes, and changes at
once all land."""

import asyncio
import json

import pytest
from sqlmodel import select

from services.certification.app import create_service
from services.certification.models import PublishedStatusList
from services.certification.settings import CertificationSettings
from services.certification.status_lists import decode, get_bit
from services.certification.tests.test_signing import keys_dir  # noqa: F401 (a fixture)
from services.certification.tests.test_vc import sample_record
from services.certification.tests.test_verification import endorsement, forged_credential
from shared.auth import Role
from shared.db import UnitOfWork, create_engine, create_sessionmaker
from shared.events.common import LearnerIdentity
from tests.integration.conftest import running
from tests.integration.test_certification_credentials import PUBLIC_URL, SAARLAND, issued

pytestmark = pytest.mark.integration

LIMIT = 256 * 1024


@pytest.fixture(scope="module")
async def client(stack, keys_dir):
    settings = stack.settings(
        CertificationSettings, issuer_keys_dir=str(keys_dir), public_url=PUBLIC_URL, proof_processes=1,
        verify_max_bytes=LIMIT, verify_max_in_flight=1,
    )
    async with running(create_service(settings)) as client:
        yield client


def mallorys() -> dict:
    """A credential signed with a did:key made for the purpose, whose issuer calls itself Saarland University."""
    mallory = LearnerIdentity(learner_id="mallory", name="Mallory Forged", email="mallory@example.org")
    return forged_credential("Saarland University", sample_record(identification_of_the_learner=mallory))


HTML = {"Accept": "text/html"}


async def test_a_forged_did_key_credential_claiming_saarland_is_not_valid_on_the_api_or_the_page(client):
    verdict = (await client.post("/verify", json=mallorys())).json()
    assert (verdict["outcome"], verdict["valid"]) == ("unknown-issuer", False)
    assert not verdict["summary"].startswith("VALID")
    assert "It claims to come from “Saarland University”; that name is not confirmed." in verdict["summary"]
    assert "Mallory Forged" in verdict["summary"]
    assert verdict["issuer"] == {
        "id": mallorys()["issuer"]["id"], "name": None, "claimed_name": "Saarland University", "confirmed": False,
        "institution": None, "country": None, "alliance": None,
    }
    assert verdict["status"] == "not-checked"

    page = await client.post("/verify", content=json.dumps(mallorys()), headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-outcome="unknown-issuer"' in page.text and 'class="verdict unconfirmed"' in page.text
    assert "Not confirmed: the issuer is not a university this node knows" in page.text
    assert "Claims to be issued by</dt>\n<dd>“Saarland University” (not confirmed)" in page.text
    assert "VALID —" not in page.text and "a university this node knows</dd>" not in page.text


async def test_a_genuine_credential_of_the_node_is_valid_and_named_from_the_directory(client, stack):
    _, credential = await issued(client, stack, SAARLAND)
    vc = credential["credential"]
    assert vc["issuer"]["name"] == "Saarland University", "what the course description calls it"

    verdict = (await client.post("/verify", json=vc)).json()
    assert (verdict["outcome"], verdict["valid"], verdict["status"]) == ("valid", True, "active")
    assert verdict["summary"].startswith("VALID — Universität des Saarlandes issued this credential to Jana Nováková")
    assert (verdict["issuer"]["name"], verdict["issuer"]["institution"], verdict["issuer"]["confirmed"]) == (
        "Universität des Saarlandes", "uni-saarland", True
    )
    page = await client.get("/verify", params={"id": credential["id"]})
    assert page.status_code == 200 and 'data-outcome="valid"' in page.text
    assert "Universität des Saarlandes (DE), a university this node knows" in page.text


async def test_an_oversized_credential_is_refused_with_413_naming_the_limit(client):
    padded = mallorys() | {"description": "x" * LIMIT}
    refused = await client.post("/verify", json=padded)
    assert refused.status_code == 413
    assert refused.json()["detail"].startswith("the credential is larger than 256 KiB (262144 bytes)")

    # The page's paste and upload form posts the same way, asking for HTML.
    page = await client.post("/verify", content=json.dumps(padded), headers=HTML)
    assert page.status_code == 413 and "larger than 256 KiB" in page.text
    assert "Credentials up to 256 KiB" in (await client.get("/verify")).text

    for body, problem in ((b"{not json", "the body is not JSON"), (b"[1, 2]", "a credential is a JSON object")):
        answer = await client.post("/verify", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422 and answer.json()["detail"].startswith(problem)


async def test_the_service_answers_another_request_while_a_big_credential_is_being_verified(client):
    # As many self-made endorsements as fit under the limit: seconds of canonicalization.
    heavy = forged_credential(endorsements=int(0.8 * LIMIT / len(json.dumps(endorsement(None)))))
    assert len(json.dumps(heavy)) < LIMIT
    big = asyncio.create_task(client.post("/verify", json=heavy))
    # Requests that wait for PostgreSQL, and another check, while the big one is taken up. Had it been checked on the
    # event loop, none would be answered before it is. (Asked in a loop: on a busy machine the first may be slow.)
    answered_meanwhile, refused_meanwhile = 0, []
    while not big.done():
        other = await client.get("/status-lists/uni-saarland/suspension")
        assert other.status_code == 200
        busy = await client.post("/verify", json=mallorys())
        if not big.done():
            answered_meanwhile += 1
            refused_meanwhile.append(busy)
    assert answered_meanwhile, "nothing was answered while the big credential was being checked"
    assert any(busy.status_code == 503 and busy.headers["retry-after"] == "1" for busy in refused_meanwhile), (
        "one check at a time (VERIFY_MAX_IN_FLIGHT)"
    )
    assert all("being checked; try again in a moment" in busy.json()["detail"] for busy in refused_meanwhile
               if busy.status_code == 503)
    verdict = (await big).json()
    assert verdict["outcome"] == "unknown-issuer" and len(verdict["endorsements"]) > 100
    assert verdict["endorsed_by"] == [], "self-made endorsements by an unknown issuer count for nothing"


async def stored_list(stack, purpose: str) -> PublishedStatusList | None:
    engine = create_engine(stack.settings(CertificationSettings))
    try:
        async with UnitOfWork(create_sessionmaker(engine), "urn:test") as uow:
            query = select(PublishedStatusList).where(
                PublishedStatusList.institution == "uni-saarland", PublishedStatusList.purpose == purpose
            )
            return (await uow.session.exec(query)).one_or_none()
    finally:
        await engine.dispose()


def index_of(credential: dict, purpose: str) -> int:
    """The credential's index in its institution's lists: one entry, for revocation; the suspension bit is there too."""
    entry = credential["credential"]["credentialStatus"]
    assert entry["statusPurpose"] == "revocation"
    return int(entry["statusListIndex"])


async def test_the_signed_status_list_is_stored_and_served_unchanged_until_a_status_changes(client, stack):
    _, credential = await issued(client, stack, SAARLAND)
    first = (await client.get("/status-lists/uni-saarland/revocation")).json()
    stored = await stored_list(stack, "revocation")
    assert stored is not None and stored.credential == first, "served as stored"
    for _ in range(3):
        assert (await client.get("/status-lists/uni-saarland/revocation")).json() == first
    again = await stored_list(stack, "revocation")
    assert again.signed_at == stored.signed_at, "not signed again by a request"
    assert get_bit(decode(first["credentialSubject"]["encodedList"]), index_of(credential, "revocation")) is False

    registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    reason = {"reason": "the examination board annulled the exam"}
    assert (await client.post(f"/credentials/{credential['id']}/revoke", json=reason, headers=registrar)).is_success
    changed = (await client.get("/status-lists/uni-saarland/revocation")).json()
    assert changed["proof"][0]["proofValue"] != first["proof"][0]["proofValue"], "signed again when the status changed"
    assert get_bit(decode(changed["credentialSubject"]["encodedList"]), index_of(credential, "revocation")) is True
    assert (await stored_list(stack, "revocation")).credential == changed
    assert (await client.post("/verify", json=credential["credential"])).json()["outcome"] == "revoked"


async def test_revocations_at_the_same_time_all_land_in_the_published_list(client, stack):
    credentials = [(await issued(client, stack, SAARLAND))[1] for _ in range(4)]
    registrar = stack.bearer("registrar@uni-saarland", Role.REGISTRAR, institution="uni-saarland")
    answers = await asyncio.gather(
        *(
            client.post(f"/credentials/{c['id']}/revoke", json={"reason": "revoked together"}, headers=registrar)
            for c in credentials
        )
    )
    assert all(answer.is_success for answer in answers), [answer.text for answer in answers]
    published = (await client.get("/status-lists/uni-saarland/revocation")).json()
    bits = decode(published["credentialSubject"]["encodedList"])
    assert [get_bit(bits, index_of(c, "revocation")) for c in credentials] == [True] * 4
    for credential in credentials:
        assert (await client.post("/verify", json=credential["credential"])).json()["outcome"] == "revoked"
