"""What verifying another member's credential needs from that member's node: the did:web document holding its key,
and its status lists. Fetched over HTTP(S), and only from the hosts of the alliance registry's nodes.

Rules, each refusal naming what was wrong (`Refused`: logged once per distinct message, counted in
`mc_member_documents_refused_total{kind,reason}`; a fetch that succeeds counts in `mc_member_documents_fetched_total`):
- A did:web is mapped to its URL by the did:web method (vc.keys.did_web_location) and fetched only when its host is
  one of the registry's nodes (`AllianceRegistry.hosts`); anything else is refused before any connection is opened
  (`host-not-in-registry`). The scheme is https; http only where the registry itself lists a node at a loopback http
  URL (the registry allows that for tests and an alliance on one machine, nothing else).
- A status list is fetched only from the node of the credential's issuer, per the registry (`wrong-node`), must be a
  BitstringStatusListCredential with that URL as its id, issued by that issuer, and signed with the issuer's key
  (checked in the verification workers, like a credential's proof): otherwise `not-a-status-list`, `id-mismatch`,
  `wrong-issuer`, `bad-signature`.
- Every request (shared.fetch): no redirects, no proxy taken from the environment (no other host is ever
  contacted), the whole request within MEMBER_FETCH_TIMEOUT_SECONDS (`timeout`), an answer of at most 64 KiB for a
  DID document and 1 MiB for a status list (`too-large`), a JSON media type (`not-a-did-document`,
  `not-a-status-list`), a DID document whose `id` is the DID asked for (`id-mismatch`), and a 200 (`unavailable`, as
  for a refused connection).
- What was fetched is kept for DID_CACHE_SECONDS or STATUS_LIST_CACHE_SECONDS, so a revocation at the issuer's node
  shows here at most that long after; refusals are not kept, and concurrent verifications share one fetch.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from cachetools import TTLCache
from prometheus_client import CollectorRegistry, Counter
from starlette.datastructures import State

from services.certification.settings import CertificationSettings
from services.certification.vc.keys import did_web_location
from services.certification.vc.proof import VerificationResult
from shared.alliance import AllianceRegistry, NotAMember
from shared.fetch import LOOPBACK_HOSTS, FetchFailed, get_json, http_client

log = logging.getLogger(__name__)

DID_DOCUMENT_MAX_BYTES = 64 * 1024
# A list of 131072 entries is at most ~22 KB encoded; a million entries, ~175 KB.
STATUS_LIST_MAX_BYTES = 1024 * 1024
DID_MEDIA_TYPES = ("application/did+json", "application/did+ld+json", "application/json", "application/ld+json")
STATUS_LIST_MEDIA_TYPES = ("application/vc+ld+json", "application/vc+json", "application/json", "application/ld+json")
# Entries kept in each cache: far more than an alliance has DIDs and lists.
CACHE_ENTRIES = 4096

DID_DOCUMENT = "did-document"
STATUS_LIST = "status-list"

# Checks a document's proof with the given DID documents (ProofChecker.check: in the verification workers).
SignatureCheck = Callable[[Mapping[str, Any], Iterable[Mapping[str, Any]]], Awaitable[VerificationResult]]


class Refused(Exception):
    """A DID document or status list that was not fetched, or not accepted: `reason` is the metric's label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MemberDocumentMetrics:
    """What an operator's Prometheus sees of the fetches from other members' nodes, on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fetched = Counter(
            "mc_member_documents_fetched",
            "DID documents and status lists fetched from members' nodes (cache misses that succeeded), by kind",
            ["kind"],
            registry=registry,
        )
        self.refused = Counter(
            "mc_member_documents_refused",
            "DID documents and status lists refused, by kind and reason: host-not-in-registry, wrong-node, timeout, "
            "too-large, unavailable, not-a-did-document, not-a-status-list, id-mismatch, wrong-issuer, bad-signature, "
            "not-did-web, not-a-member",
            ["kind", "reason"],
            registry=registry,
        )


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


class MemberResolver:
    """Fetches and keeps members' DID documents and status lists (see the module's rules). One per service: a
    background task (`run`) binds it to the service's metrics and closes its connections when the service stops."""

    def __init__(
        self,
        settings: CertificationSettings,
        check_signature: SignatureCheck,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = settings.member_fetch_timeout_seconds
        self.check_signature = check_signature
        self.metrics: MemberDocumentMetrics | None = None
        self._did_documents: TTLCache = TTLCache(CACHE_ENTRIES, settings.did_cache_seconds, timer=clock)
        self._status_lists: TTLCache = TTLCache(CACHE_ENTRIES, settings.status_list_cache_seconds, timer=clock)
        self._pending: dict[tuple[str, str], asyncio.Future] = {}
        self._client: httpx.AsyncClient | None = None
        self._logged: set[str] = set()

    async def run(self, state: State) -> None:
        """A background task of the service: counts into its metrics, and closes the connections when it stops."""
        self.metrics = MemberDocumentMetrics(state.metrics.registry)
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # DID documents.

    async def did_document(self, did: str, registry: AllianceRegistry | None) -> dict[str, Any]:
        """The DID document of a did:web served by a node of the alliance (raises Refused)."""
        try:
            url = self._did_url(did, registry)
            return await self._once(DID_DOCUMENT, did, self._did_documents, lambda: self._fetch_did_document(did, url))
        except Refused as refusal:
            self._refused(DID_DOCUMENT, refusal)
            raise

    async def did_documents(
        self, dids: Iterable[str], registry: AllianceRegistry | None
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The DID documents that could be fetched, and a sentence for each that could not (fetched at once: slow
        nodes cost one timeout, not one each)."""
        found = await asyncio.gather(*(self.did_document(did, registry) for did in dids), return_exceptions=True)
        documents, problems = [], []
        for result in found:
            if isinstance(result, Refused):
                problems.append(str(result))
            elif isinstance(result, BaseException):
                raise result
            else:
                documents.append(result)
        return documents, problems

    def _did_url(self, did: str, registry: AllianceRegistry | None) -> str:
        try:
            host, path = did_web_location(did)
        except ValueError as error:
            raise Refused("not-did-web", str(error)) from None
        if registry is None:
            raise Refused(
                "host-not-in-registry",
                f"the DID document of {did} is on {host}, and this node follows no alliance registry: not fetched",
            )
        if host not in registry.hosts:
            raise Refused(
                "host-not-in-registry",
                f"the DID document of {did} is on {host}, which is not a node of {registry.alliance.name} (registry "
                f"serial {registry.serial}): not fetched",
            )
        scheme = next(urlsplit(node.base_url).scheme for node in registry.nodes if node.host == host)
        if scheme != "https" and urlsplit(f"//{host}").hostname not in LOOPBACK_HOSTS:
            raise Refused("host-not-in-registry", f"{host} is listed with {scheme}, which is used only on loopback")
        return f"{scheme}://{host}{path}"

    async def _fetch_did_document(self, did: str, url: str) -> dict[str, Any]:
        document = await self._get(url, DID_DOCUMENT_MAX_BYTES, DID_MEDIA_TYPES, "not-a-did-document")
        if not isinstance(document.get("id"), str):
            raise Refused("not-a-did-document", f"{url} is not a DID document: it has no id")
        if document["id"] != did:
            raise Refused("id-mismatch", f"{url} holds the DID document of {document['id']}, not of {did}")
        return document

    # Status lists.

    async def status_list(
        self, url: str, issuer: str, registry: AllianceRegistry | None, *, fresh: bool = False
    ) -> dict[str, Any]:
        """The issuer's status list credential at `url`, verified with the issuer's key (raises Refused); `fresh`:
        fetched now, not taken from the cache (the issuer's node said it changed)."""
        if fresh:
            self._status_lists.pop(url, None)
        try:
            node_url = self._issuer_node(issuer, registry)
            if _origin(url) != _origin(node_url):
                raise Refused(
                    "wrong-node", f"the status list {url} is not on the node of its issuer {issuer} ({node_url}): "
                    "not fetched"
                )
            listed = await self._once(
                STATUS_LIST, url, self._status_lists, lambda: self._fetch_status_list(url, issuer, registry)
            )
            if _issuer_of(listed) != issuer:  # kept from another credential's issuer on the same node
                raise Refused("wrong-issuer", f"the status list {url} is issued by {_issuer_of(listed)}, not by {issuer}")
            return listed
        except Refused as refusal:
            self._refused(STATUS_LIST, refusal)
            raise

    def _issuer_node(self, issuer: str, registry: AllianceRegistry | None) -> str:
        if registry is None:
            raise Refused("not-a-member", f"{issuer} is not this node's, and this node follows no alliance registry")
        try:
            return registry.node_of(registry.member_by_did(issuer).institution).base_url
        except NotAMember as error:
            raise Refused("not-a-member", str(error)) from None

    async def _fetch_status_list(self, url: str, issuer: str, registry: AllianceRegistry | None) -> dict[str, Any]:
        listed = await self._get(url, STATUS_LIST_MAX_BYTES, STATUS_LIST_MEDIA_TYPES, "not-a-status-list")
        types = listed.get("type")
        subject = listed.get("credentialSubject")
        if (
            not isinstance(types, list)
            or "BitstringStatusListCredential" not in types
            or not isinstance(subject, dict)
            or not isinstance(subject.get("encodedList"), str)
        ):
            raise Refused("not-a-status-list", f"{url} is not a BitstringStatusListCredential with an encodedList")
        if listed.get("id") != url:
            raise Refused("id-mismatch", f"{url} holds the status list {listed.get('id')!r}, not {url}")
        if _issuer_of(listed) != issuer:
            raise Refused("wrong-issuer", f"the status list {url} is issued by {_issuer_of(listed)}, not by {issuer}")
        documents = [] if issuer.startswith("did:key:") else [await self.did_document(issuer, registry)]
        checked = await self.check_signature(listed, documents)
        if not checked.verified:
            raise Refused(
                "bad-signature", f"the status list {url} is not signed by {issuer}: {'; '.join(checked.problems)}"
            )
        return listed

    # Fetching.

    async def _once(
        self, kind: str, key: str, cache: TTLCache, fetch: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any]:
        """From the cache while it lives, else fetched: one fetch at a time per document, shared by its askers."""
        if (kept := cache.get(key)) is not None:
            return kept
        pending = self._pending.get((kind, key))
        if pending is None:
            pending = self._pending[(kind, key)] = asyncio.ensure_future(fetch())

            def done(future: asyncio.Future) -> None:
                self._pending.pop((kind, key), None)
                if not future.cancelled() and future.exception() is None:
                    cache[key] = future.result()
                    if self.metrics:
                        self.metrics.fetched.labels(kind).inc()

            pending.add_done_callback(done)
        # Shielded: one asker giving up (a closed connection) does not cancel the fetch the others wait for.
        return await asyncio.shield(pending)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(self.timeout)  # no redirects, no proxy: no host but the member's node
        return self._client

    async def _get(self, url: str, limit: int, media_types: tuple[str, ...], not_this: str) -> dict[str, Any]:
        """GET `url`: a JSON object of one of `media_types`, at most `limit` bytes, within the timeout."""
        try:
            return await get_json(self._http(), url, limit, self.timeout, media_types)
        except FetchFailed as failure:
            reason = not_this if failure.reason in ("media-type", "not-json") else failure.reason
            raise Refused(reason, str(failure)) from None

    def _refused(self, kind: str, refusal: Refused) -> None:
        if self.metrics:
            self.metrics.refused.labels(kind, refusal.reason).inc()
        message = str(refusal)
        if message not in self._logged:
            if len(self._logged) >= CACHE_ENTRIES:
                self._logged.clear()
            self._logged.add(message)
            log.warning("%s refused (%s): %s", kind, refusal.reason, message)


def _issuer_of(document: Mapping[str, Any]) -> Any:
    issuer = document.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer
