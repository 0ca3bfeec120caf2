"""Members' DID documents and status lists, fetched from a real HTTP server on this machine standing for a member's
node: only from the registry's hosts, bounded in time and size, checked for what they are, kept for a stated lifetime,
and every refusal named, logged once and counted."""

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry

from services.certification import status_lists
from services.certification.proof_checks import ProofChecker
from services.certification.workers import WorkerProcesses
from services.certification.resolver import MemberDocumentMetrics, MemberResolver, Refused
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import NodeIdentity
from services.certification.status_lists import StatusPurpose
from services.certification.vc.keys import did_web_location
from services.certification.vc.proof import sign
from shared.alliance import AllianceRegistry
from tests.alliance import registry_data
from tests.integration.test_independent_verifier import Documents, serving

NOW = datetime.now(UTC)
SAARLAND_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))


class Clock:
    """The caches' clock, moved on by the test (no waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """A member's node: a real HTTP server publishing uni-saarland's DID document and revocation list."""

    def __init__(self, web: Documents) -> None:
        self.web = web
        self.identity = NodeIdentity(web.url, {"uni-saarland": SAARLAND_KEY})
        self.did = self.identity.did("uni-saarland")
        web.documents["/institutions/uni-saarland/did.json"] = self.identity.document("uni-saarland")
        self.list_url = status_lists.list_url(web.url, "uni-saarland", StatusPurpose.REVOCATION)
        self.publish_revocations()

    def publish_revocations(self, *indexes: int, key: Ed25519PrivateKey = SAARLAND_KEY) -> dict:
        unsigned = status_lists.status_list_credential(
            self.list_url, self.did, StatusPurpose.REVOCATION, status_lists.bitstring(131072, indexes),
            status_lists.xsd_datetime(NOW),
        )
        signed = sign(unsigned, key, self.identity.verification_method("uni-saarland"), created=NOW)
        self.web.documents["/status-lists/uni-saarland/revocation"] = signed
        return signed


def registry_of(saarland: str, silesia: str = "https://mc.us.edu.pl") -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data(issued=NOW, saarland=saarland, silesia=silesia))


@pytest.fixture
def node() -> Iterator[Node]:
    with serving() as web:
        yield Node(web)


@pytest.fixture
def elsewhere() -> Iterator[Documents]:
    """A host that is not in the registry, publishing a DID document of its own."""
    with serving() as web:
        key = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))
        web.documents["/institutions/evil/did.json"] = NodeIdentity(web.url, {"evil": key}).document("evil")
        yield web


class Resolver:
    def __init__(self, clock: Clock | None = None, **settings: float) -> None:
        self.prometheus = CollectorRegistry()
        self.clock = clock or Clock()
        self.resolver = MemberResolver(
            CertificationSettings(**settings), ProofChecker(WorkerProcesses(0), 4).check, clock=self.clock
        )
        self.resolver.metrics = MemberDocumentMetrics(self.prometheus)

    def refused(self, kind: str, reason: str) -> float:
        return self.prometheus.get_sample_value("mc_member_documents_refused_total", {"kind": kind, "reason": reason}) or 0

    def fetched(self, kind: str) -> float:
        return self.prometheus.get_sample_value("mc_member_documents_fetched_total", {"kind": kind}) or 0


async def refusal(call) -> Refused:
    with pytest.raises(Refused) as refused:
        await call
    return refused.value


def test_a_did_web_names_its_document_by_the_did_web_method() -> None:
    assert did_web_location("did:web:w3c-ccg.github.io") == ("w3c-ccg.github.io", "/.well-known/did.json")
    assert did_web_location("did:web:example.com%3A3000:user:alice#key-1") == ("example.com:3000", "/user/alice/did.json")
    assert did_web_location("did:web:127.0.0.1%3A8004:institutions:uni-saarland") == (
        "127.0.0.1:8004", "/institutions/uni-saarland/did.json"
    )
    for bad in ("did:key:z6Mk", "did:web:", "did:web:example.com:..:admin", "did:web:example.com:a%2Fb",
                "did:web:user%40evil.example", "did:web:example.com::x"):
        with pytest.raises(ValueError):
            did_web_location(bad)


async def test_a_members_did_document_is_fetched_from_its_node_and_kept_for_the_stated_lifetime(node: Node) -> None:
    registry = registry_of(node.web.url)
    resolver = Resolver(did_cache_seconds=60)

    document = await resolver.resolver.did_document(node.did, registry)
    assert document == node.identity.document("uni-saarland")
    again = await resolver.resolver.did_document(node.did, registry)
    assert again == document and node.web.requested == ["/institutions/uni-saarland/did.json"], "kept"

    resolver.clock.now += 59
    await resolver.resolver.did_document(node.did, registry)
    assert len(node.web.requested) == 1, "still within its lifetime"
    resolver.clock.now += 2
    await resolver.resolver.did_document(node.did, registry)
    assert len(node.web.requested) == 2, "fetched again once its lifetime is over"
    assert resolver.fetched("did-document") == 2

    # A registry without the node: its document, though still kept, is not used.
    refused = await refusal(resolver.resolver.did_document(node.did, registry_of("https://mc.uni-saarland.de")))
    assert refused.reason == "host-not-in-registry" and len(node.web.requested) == 2
    await resolver.resolver.close()


async def test_verifications_at_once_share_one_fetch(node: Node) -> None:
    resolver = Resolver()
    dids = [node.did] * 5 + ["did:web:elsewhere.example"]
    documents, problems = await resolver.resolver.did_documents(dids, registry_of(node.web.url))
    assert documents == [node.identity.document("uni-saarland")] * 5
    assert problems == [
        "the DID document of did:web:elsewhere.example is on elsewhere.example, which is not a node of "
        "Transform4Europe (registry serial 1): not fetched"
    ]
    assert node.web.requested == ["/institutions/uni-saarland/did.json"]
    await resolver.resolver.close()


async def test_a_did_on_a_host_not_in_the_registry_is_refused_without_a_request(
    node: Node, elsewhere: Documents, caplog: pytest.LogCaptureFixture
) -> None:
    resolver = Resolver()
    evil = f"did:web:127.0.0.1%3A{elsewhere.server_address[1]}:institutions:evil"
    with caplog.at_level(logging.WARNING, logger="services.certification.resolver"):
        for _ in range(3):
            refused = await refusal(resolver.resolver.did_document(evil, registry_of(node.web.url)))
    assert refused.reason == "host-not-in-registry"
    assert str(refused) == (
        f"the DID document of {evil} is on 127.0.0.1:{elsewhere.server_address[1]}, which is not a node of "
        "Transform4Europe (registry serial 1): not fetched"
    )
    assert elsewhere.requested == [], "no request reached the host"
    assert resolver.refused("did-document", "host-not-in-registry") == 3, "counted each time"
    assert [record.getMessage() for record in caplog.records] == [f"did-document refused (host-not-in-registry): {refused}"]

    # Without a registry nothing is fetched at all.
    refused = await refusal(resolver.resolver.did_document(node.did, None))
    assert "this node follows no alliance registry" in str(refused) and node.web.requested == []


async def test_a_document_of_another_did_too_large_or_not_a_did_document_is_refused(node: Node) -> None:
    registry = registry_of(node.web.url)
    resolver = Resolver()
    path = "/institutions/uni-saarland/did.json"

    node.web.documents[path] = node.identity.document("uni-saarland") | {"id": "did:web:mc.us.edu.pl:institutions:x"}
    refused = await refusal(resolver.resolver.did_document(node.did, registry))
    assert refused.reason == "id-mismatch"
    assert str(refused) == f"{node.web.url}{path} holds the DID document of did:web:mc.us.edu.pl:institutions:x, not of {node.did}"

    node.web.documents[path] = node.identity.document("uni-saarland") | {"padding": "x" * (64 * 1024)}
    refused = await refusal(resolver.resolver.did_document(node.did, registry))
    assert refused.reason == "too-large" and "more than 65536" in str(refused)

    node.web.documents[path] = node.identity.document("uni-saarland")
    node.web.media_types[path] = "text/html"
    refused = await refusal(resolver.resolver.did_document(node.did, registry))
    assert refused.reason == "not-a-did-document"
    assert str(refused).startswith(f"GET {node.web.url}{path} answered text/html, not application/did+json or")

    node.web.media_types.clear()
    node.web.documents[path] = ["not", "an", "object"]
    assert (await refusal(resolver.resolver.did_document(node.did, registry))).reason == "not-a-did-document"

    del node.web.documents[path]
    refused = await refusal(resolver.resolver.did_document(node.did, registry))
    assert (refused.reason, str(refused)) == ("unavailable", f"GET {node.web.url}{path} answered 404")

    assert [resolver.refused("did-document", reason) for reason in ("id-mismatch", "too-large", "unavailable")] == [1, 1, 1]
    assert resolver.refused("did-document", "not-a-did-document") == 2 and resolver.fetched("did-document") == 0
    await resolver.resolver.close()


async def test_a_node_that_does_not_answer_is_given_up_after_the_timeout() -> None:
    # A real listening socket that never answers: the connection is accepted by the kernel, no reply comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        resolver = Resolver(member_fetch_timeout_seconds=0.2)
        did = NodeIdentity(url, {"uni-saarland": SAARLAND_KEY}).did("uni-saarland")
        refused = await refusal(resolver.resolver.did_document(did, registry_of(url)))
    assert (refused.reason, str(refused)) == (
        "timeout", f"GET {url}/institutions/uni-saarland/did.json took longer than 0.2 s"
    )
    assert resolver.refused("did-document", "timeout") == 1
    await resolver.resolver.close()


async def test_a_members_status_list_comes_from_its_node_signed_by_it_and_is_kept_for_its_lifetime(node: Node) -> None:
    registry = registry_of(node.web.url)
    resolver = Resolver(status_list_cache_seconds=30)
    published = node.publish_revocations(42)

    listed = await resolver.resolver.status_list(node.list_url, node.did, registry)
    assert listed == published
    assert status_lists.entry_bit(listed, {"statusPurpose": "revocation", "statusListIndex": "42"}) is True

    node.publish_revocations(42, 7)  # A revocation at the node: seen here once the kept list's lifetime is over.
    assert (await resolver.resolver.status_list(node.list_url, node.did, registry)) == published
    resolver.clock.now += 31
    fresh = await resolver.resolver.status_list(node.list_url, node.did, registry)
    assert status_lists.entry_bit(fresh, {"statusPurpose": "revocation", "statusListIndex": "7"}) is True
    assert node.web.requested.count("/status-lists/uni-saarland/revocation") == 2
    assert resolver.fetched("status-list") == 2
    await resolver.resolver.close()


async def test_a_status_list_off_the_issuers_node_or_not_signed_by_the_issuer_is_refused(
    node: Node, elsewhere: Documents
) -> None:
    registry = registry_of(node.web.url, silesia=elsewhere.url)  # both hosts are the alliance's
    resolver = Resolver()

    # On another member's node: not where the issuer publishes its lists.
    url = f"{elsewhere.url}/status-lists/uni-saarland/revocation"
    refused = await refusal(resolver.resolver.status_list(url, node.did, registry))
    assert refused.reason == "wrong-node"
    assert str(refused) == f"the status list {url} is not on the node of its issuer {node.did} ({node.web.url}): not fetched"
    assert elsewhere.requested == []

    node.publish_revocations(key=OTHER_KEY)  # Someone else's signature under the issuer's name.
    refused = await refusal(resolver.resolver.status_list(node.list_url, node.did, registry))
    assert refused.reason == "bad-signature" and str(refused).startswith(f"the status list {node.list_url} is not signed by {node.did}")

    refused = await refusal(resolver.resolver.status_list(node.list_url, "did:web:mc.example:institutions:x", registry))
    assert refused.reason == "not-a-member"

    node.web.documents["/status-lists/uni-saarland/revocation"] = node.identity.document("uni-saarland")
    refused = await refusal(resolver.resolver.status_list(node.list_url, node.did, registry))
    assert refused.reason == "not-a-status-list"
    assert resolver.fetched("status-list") == 0
    await resolver.resolver.close()
