"""The keys identity providers publish (JWK Sets), fetched when first needed and kept, so that verifying a token costs
no request once its issuer's keys are known.

Where keys are published (`Publisher`): a JWK Set URL (a member's `jwks_uri` in the alliance registry, fetched from
that URL only), or an OpenID Connect issuer (the node's own providers, AUTH_OIDC_ISSUERS), whose discovery document
`<issuer>/.well-known/openid-configuration` names its `jwks_uri` (and must name the issuer itself, OpenID Connect
Discovery 1.0 section 4.3).

Rules:
- A set is kept for AUTH_KEYS_CACHE_SECONDS, then fetched again by the next token that needs it. A token naming a key
  id (`kid`) the kept set lacks makes it fetched at once: identity providers rotate keys by publishing the new one
  before they sign with it. Either way at most one fetch per AUTH_KEYS_REFRESH_MIN_SECONDS per publisher, shared by
  everyone waiting for it: a flood of tokens with made-up key ids costs the provider one request per interval.
- A set that cannot be fetched again stays in use (the provider being down must not sign everyone out); one that was
  never fetched makes its tokens refused, naming the URL and the problem.
- Fetches: shared.fetch's rules (no redirects, no proxy, AUTH_KEYS_FETCH_TIMEOUT_SECONDS, at most 256 KiB). The
  `jwks_uri` of a discovery document is https, or on the issuer's own origin (a provider reached over the node's
  own network), or on a loopback address (tests).
- Only signature keys of the kinds tokens are signed with are kept (RSA, EC, OKP; not `use: enc`); private members
  a careless publisher left in are dropped.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from shared.fetch import LOOPBACK_HOSTS, FetchFailed, get_json, http_client

log = logging.getLogger("shared.jwks")

MAX_BYTES = 256 * 1024
SIGNING_KEY_TYPES = ("RSA", "EC", "OKP")
# Members of a JWK that only a private or symmetric key has.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
DISCOVERY_PATH = "/.well-known/openid-configuration"


class KeysUnavailable(Exception):
    """An issuer's keys could not be had: the message names the URL and what went wrong."""


@dataclass(frozen=True)
class Publisher:
    """Where an issuer publishes its current keys: a JWK Set URL, or an OpenID Connect issuer to discover it from."""

    jwks_uri: str | None = None
    oidc_issuer: str | None = None

    def __str__(self) -> str:
        return self.jwks_uri or f"{self.oidc_issuer}{DISCOVERY_PATH}"


@dataclass
class _Kept:
    keys: tuple[Key, ...] | None = None  # None until a fetch succeeded
    kids: frozenset[str] = frozenset()
    fetched_at: float = float("-inf")
    attempted_at: float = float("-inf")
    problem: str | None = None
    pending: asyncio.Future | None = field(default=None, repr=False)


class PublishedKeys:
    """Every publisher's kept keys (one per service; see the module's rules)."""

    def __init__(
        self,
        timeout: float = 5.0,
        lifetime: float = 3600.0,
        min_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self.lifetime = lifetime
        self.min_interval = min_interval
        self.clock = clock
        self._kept: dict[Publisher, _Kept] = {}
        self._client: httpx.AsyncClient | None = None

    async def keys(self, publisher: Publisher, kid: str | None = None) -> tuple[Key, ...]:
        """The publisher's keys, fetched first when none are kept, when they are older than their lifetime, or when
        `kid` is not among them (each at most once per interval). KeysUnavailable when none could ever be fetched."""
        kept = self._kept.setdefault(publisher, _Kept())
        now = self.clock()
        fresh = kept.keys is not None and now - kept.fetched_at < self.lifetime
        if fresh and (kid is None or kid in kept.kids):
            return kept.keys  # type: ignore[return-value]  # the fast path: no I/O, no await
        if kept.pending is None and now - kept.attempted_at >= self.min_interval:
            kept.attempted_at = now
            kept.pending = asyncio.ensure_future(self._refresh(publisher, kept))
        if kept.pending is not None:
            # Shielded: one request giving up does not cancel the fetch the others wait for.
            await asyncio.shield(kept.pending)
        if kept.keys is None:
            raise KeysUnavailable(kept.problem or f"the keys at {publisher} have not been fetched")
        return kept.keys

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        for kept in self._kept.values():
            if kept.pending is not None:
                kept.pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await kept.pending

    async def _refresh(self, publisher: Publisher, kept: _Kept) -> None:
        try:
            keys = await self._fetch(publisher)
        except FetchFailed as failure:
            problem = f"the keys of {publisher.oidc_issuer or publisher.jwks_uri} could not be fetched: {failure}"
            if problem != kept.problem:
                held = f"keeping the {len(kept.keys)} key(s) fetched before" if kept.keys is not None else "none kept"
                log.warning("%s; %s", problem, held)
            kept.problem = problem
        else:
            if kept.keys is None or {key.kid for key in keys} != kept.kids:
                log.info("keys of %s fetched: %s", publisher, ", ".join(sorted(str(key.kid) for key in keys)))
            kept.keys, kept.kids = keys, frozenset(key.kid for key in keys if key.kid)
            kept.fetched_at, kept.problem = self.clock(), None
        finally:
            kept.pending = None

    async def _fetch(self, publisher: Publisher) -> tuple[Key, ...]:
        url = publisher.jwks_uri or await self._discover(publisher.oidc_issuer or "")
        document = await get_json(self._http(), url, MAX_BYTES, self.timeout)
        keys = document.get("keys")
        if not isinstance(keys, list):
            raise FetchFailed("not-json", f"GET {url} answered a JSON object without a `keys` list: not a JWK Set")
        usable = tuple(key for key in map(_signing_key, keys) if key is not None)
        if not usable:
            raise FetchFailed("not-json", f"GET {url} holds no RSA, EC or OKP signature key")
        return usable

    async def _discover(self, issuer: str) -> str:
        url = issuer.rstrip("/") + DISCOVERY_PATH
        document = await get_json(self._http(), url, MAX_BYTES, self.timeout)
        if document.get("issuer") != issuer:
            raise FetchFailed(
                "not-json", f"GET {url} describes the issuer {document.get('issuer')!r}, not {issuer!r}"
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchFailed("not-json", f"GET {url} names no jwks_uri")
        parts, origin = urlsplit(jwks_uri), urlsplit(issuer)
        if not (
            parts.scheme == "https"
            or (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc)
            or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)
        ):
            raise FetchFailed(
                "unavailable", f"GET {url} names the jwks_uri {jwks_uri}: keys are fetched over https or from the "
                "issuer's own origin only"
            )
        return jwks_uri

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http_client(self.timeout)
        return self._client


def _signing_key(jwk: Any) -> Key | None:
    """A published JWK as a public signature key, or None for what tokens are not signed with."""
    if not isinstance(jwk, dict) or jwk.get("kty") not in SIGNING_KEY_TYPES or jwk.get("use", "sig") != "sig":
        return None
    try:
        return JWKRegistry.import_key({name: value for name, value in jwk.items() if name not in PRIVATE_MEMBERS})
    except (JoseError, ValueError, TypeError):
        return None
