"""Who is calling: bearer tokens (signed JWTs) carrying a role at an institution, who may sign them, and the one way
routes check who may do or read what.

Claims: `sub` (the person; for a learner, their learner id), `name`, `email`, `roles`, `institution` (the home
institution's code, as in an awarding body's `id`), `affiliation` (eduPersonAffiliation values: student, staff,
faculty, ...), `schacPersonalUniqueCode` (SCHAC personal unique codes; the European Student Identifier is the one of
the form `urn:schac:personalUniqueCode:int:esi:<country>:<code>`), `iss`, `aud` (containing `microcredentials`),
`exp`. Who a person is (name, email, home institution, affiliation, ESI) is what the identity provider attests here,
never what a request body says.

Who may sign them (`TokenVerifier`: one per service, made by shared.service, used by `current_principal`):
1. the node's own Ed25519 key (AUTH_PUBLIC_KEY_FILE): the node administrator's command below, or an identity
   provider configured with that key; whatever `iss` it names, a token this key signed is the node's own;
2. the node's own OpenID Connect providers (AUTH_OIDC_ISSUERS), chosen by the token's `iss`, with the keys their
   discovery documents point to (shared.jwks): RS256 as Keycloak signs by default, PS256, ES256, EdDSA/Ed25519;
3. the identity providers of the alliance's members (the registry in use, `token_issuers`), chosen by `iss`, with
   the keys the registry pins (`jwks`) and/or those published at the registry's `jwks_uri` (fetched from there only).
An issuer speaks only for its own institution: a member's token names that member as its `institution`, or names
none and the registry's is taken. The same holds for the node's own provider when the registry lists it for a member.

What a member's token may do at this node: learn. Whatever roles it carries, its holder is a learner here (a partner
university's staff roles have no power over this node's records; joint work happens at each partner's own node), and
is known here as `<institution>:<sub>`: a `sub` is unique only at its issuer (OpenID Connect Core 1.0, section 2),
so no member's provider can speak for a person another issuer speaks for. The node's own issuers' tokens carry their
roles and their `sub` as they are.

Refused with 401, the detail naming what was wrong (counted in `mc_tokens_refused_total{reason}`, logged at most once
per reason per minute): not a signed JWT (`malformed`) or signed with an algorithm not listed (`algorithm`); from an
issuer that is none of the above (`unknown-issuer`: "token issued by X, which is not an identity provider of this
node or of a member of Transform4Europe"); signed with a key its issuer does not hold (`unknown-key`) or not by its
issuer (`bad-signature`); its issuer's keys not to be had (`keys-unavailable`); expired or not yet valid (`expired`,
`not-yet-valid`, naming the time; 30 s of clock skew allowed); for another audience (`audience`); without a subject or
an expiry (`missing-claim`); naming an institution its issuer does not speak for (`institution`). A member the
registry drops stops being an issuer as soon as the node takes that registry into use.

Tokens from the command line: the node's own, or, for tests and an alliance on one machine, a member institution's
issuer's (its `iss` and its private key, PEM or JWK; `jwks` prints the public JWK Set the registry pins or a
jwks_uri serves; the token's `kid` is the key's RFC 7638 thumbprint, as `shared.alliance add-member --token-key`
lists it, unless the JWK names one):

    python -m shared.auth keys --dir .run/keys
    python -m shared.auth token --key .run/keys/auth-private.pem --subject ana@upr.si --name "Ana Horvat" \\
        --email ana@upr.si --role learner --institution upr --affiliation student
    python -m shared.auth token --key silesia/auth-private.pem --issuer https://login.us.edu.pl/idp \\
        --subject jan --name "Jan Nowak" --email jan@us.edu.pl --role learner --affiliation student
    python -m shared.auth jwks --key silesia/auth-public.pem

JOSE: joserfc throughout (tokens here, keys in shared.jwks, the registry's signature in shared.alliance).
"""

import argparse
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, OKPKey
from joserfc.jws import CompactSignature, JWSRegistry
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel
from sqlalchemy import or_, true

from shared.alliance import AllianceRegistry, Member, NotAMember, TokenIssuer, registry_in_use
from shared.jwks import KeysUnavailable, PublishedKeys, Publisher
from shared.settings import ServiceSettings

log = logging.getLogger("shared.auth")

AUDIENCE = "microcredentials"
# The algorithm of the node's own tokens: RFC 9864's name for EdDSA on Ed25519, as the alliance registry's signature.
ALGORITHM = "Ed25519"
# The signature algorithms tokens may use, and the kind of key each needs ("EdDSA" is the older name of Ed25519's,
# which Keycloak still uses). No symmetric (HS*) algorithm: whoever verifies could then sign.
KEY_TYPES = {
    "Ed25519": "OKP", "EdDSA": "OKP",
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
}
# Clocks of different universities' servers differ a little.
CLOCK_SKEW_SECONDS = 30
# SCHAC's URN for a European Student Identifier among a person's personal unique codes.
ESI_PREFIX = "urn:schac:personalUniqueCode:int:esi:"


class Role(StrEnum):
    COURSE_DESIGNER = "course-designer"
    QA_OFFICER = "qa-officer"
    REGISTRAR = "registrar"
    ASSESSOR = "assessor"
    LEARNER = "learner"
    NODE_ADMIN = "node-admin"


# The roles of people who work for an institution (or, the node administrator, for the whole node).
STAFF = frozenset(Role) - {Role.LEARNER}


class Affiliation(StrEnum):
    """eduPerson's eduPersonAffiliation values: what a person is to their home institution."""

    STUDENT = "student"
    STAFF = "staff"
    FACULTY = "faculty"
    EMPLOYEE = "employee"
    MEMBER = "member"
    AFFILIATE = "affiliate"
    ALUM = "alum"
    LIBRARY_WALK_IN = "library-walk-in"


class Principal(BaseModel):
    subject: str
    # As the identity provider attests them; None when the token does not carry them.
    name: str | None = None
    roles: frozenset[Role]
    institution: str | None = None
    email: str | None = None
    affiliation: frozenset[Affiliation] = frozenset()
    esi: str | None = None
    # The token's `iss`: who attests all this.
    issuer: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    def describe(self) -> str:
        """What the token holds, for refusals: "ana@upr.si has the role learner, for upr"."""
        held = f"the role {', '.join(sorted(self.roles))}" if self.roles else "no role"
        return f"{self.subject} has {held}, for {self.institution or 'no institution'}"


# --- issuing ---


def create_keys(folder: Path, name: str = "auth") -> tuple[Path, Path]:
    """An Ed25519 key pair, `<name>-private.pem` and `<name>-public.pem` (tokens' by default, the alliance registry's
    too); the private key file is readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    private_path, public_path = folder / f"{name}-private.pem", folder / f"{name}-public.pem"
    private_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path


def read_key(data: bytes) -> Key:
    """A key file's content: PEM (an Ed25519 key, as `keys` makes) or a JWK in JSON (any kind tokens are signed with);
    its `kid` is the JWK's own, else its RFC 7638 thumbprint."""
    key = JWKRegistry.import_key(json.loads(data)) if data.lstrip().startswith(b"{") else OKPKey.import_key(data)
    key.ensure_kid()
    return key


def _algorithm_of(key: Key) -> str:
    """The algorithm a key signs with: the JWK's `alg`, else the usual one for its kind."""
    if key.get("alg") in KEY_TYPES:
        return str(key.get("alg"))
    if key.key_type == "EC":
        return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[str(key.get("crv"))]
    return {"OKP": ALGORITHM, "RSA": "RS256"}[key.key_type]


def issue_token(private_key: bytes | Key, principal: Principal, issuer: str, ttl_seconds: int = 3600) -> str:
    """A token for `principal`, signed with the node's key (PEM bytes) or any signing key, as `issuer`."""
    key = read_key(private_key) if isinstance(private_key, bytes) else private_key
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": principal.subject,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "institution": principal.institution,
        "email": principal.email,
        "affiliation": sorted(principal.affiliation),
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if principal.esi:
        claims["schacPersonalUniqueCode"] = [principal.esi]
    algorithm = _algorithm_of(key)
    header = {"alg": algorithm, "typ": "JWT", "kid": key.kid or key.thumbprint()}
    return jws.serialize_compact(header, json.dumps(claims, separators=(",", ":")), key, algorithms=[algorithm])


def public_key_set(*keys: Key) -> dict[str, Any]:
    """The public halves as a JWK Set, each with its `kid`: what a registry's `jwks` pins or a `jwks_uri` serves."""
    return {"keys": [key.as_dict(private=False) | {"kid": key.kid or key.thumbprint()} for key in keys]}


# --- verifying ---


class TokenRefused(Exception):
    """A token this node does not accept: the message says what was wrong, `reason` is the metric's label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


REFUSAL_REASONS = (
    "malformed", "algorithm", "unknown-issuer", "unknown-key", "bad-signature", "keys-unavailable", "expired",
    "not-yet-valid", "audience", "missing-claim", "institution",
)
# Who signed an accepted token: the node's own key, one of the node's OpenID Connect providers, a member's provider.
ISSUER_KINDS = ("node-key", "oidc", "member")
# A refusal reason is logged at most this often (each one is counted in the metrics).
LOG_EVERY_SECONDS = 60.0


class TokenMetrics:
    """What an operator's Prometheus sees of the tokens, on the service's own metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter(
            "mc_tokens_refused", f"Bearer tokens refused, by reason: {', '.join(REFUSAL_REASONS)}", ["reason"],
            registry=registry,
        )
        self.accepted = Counter(
            "mc_tokens_accepted",
            "Bearer tokens accepted, by issuer: node-key (the node's own key), oidc (the node's OpenID Connect "
            "providers), member (another member's identity provider, per the alliance registry)",
            ["issuer"],
            registry=registry,
        )
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason)
        for kind in ISSUER_KINDS:
            self.accepted.labels(kind)


@dataclass(frozen=True)
class _Token:
    """A token taken apart, not yet believed."""

    signed: CompactSignature
    algorithm: str
    kid: str | None
    claims: dict[str, Any]
    issuer: str | None


# A token accepted once is believed again, without checking its signature, until it expires (with the same clock
# skew), but for no longer than this: a signing key an issuer withdraws stops vouching for the tokens it signed within
# minutes. Each learner's token is used for several requests in a row (register, apply, read), and its signature check
# is ~0.3 ms of CPU. At most this many are kept (the least recently used make room).
ACCEPTED_TOKENS_KEPT_SECONDS = 300.0
ACCEPTED_TOKENS_KEPT = 10_000


@dataclass(frozen=True)
class _Accepted:
    principal: Principal
    kind: str
    until: float


# One registry per algorithm, so that a token is checked with exactly the algorithm its issuer's key is for.
_ALGORITHMS = {algorithm: JWSRegistry(algorithms=[algorithm]) for algorithm in KEY_TYPES}
_ED25519 = ("Ed25519", "EdDSA")


class TokenVerifier:
    """Verifies bearer tokens from the node's key, its OpenID Connect providers and the alliance's members (see the
    module's rules), keeping published keys (shared.jwks) so that a verification fetches nothing once they are known."""

    def __init__(
        self,
        settings: ServiceSettings,
        metrics: CollectorRegistry | None = None,
        keys: PublishedKeys | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.oidc_issuers = frozenset(settings.auth_oidc_issuers)
        self.keys = keys or PublishedKeys(
            timeout=settings.auth_keys_fetch_timeout_seconds,
            lifetime=settings.auth_keys_cache_seconds,
            min_interval=settings.auth_keys_refresh_min_seconds,
        )
        self.metrics = TokenMetrics(metrics) if metrics is not None else None
        self.clock = clock
        self._node_key: Key | None = None
        self._node_key_problem: str | None = None
        # The registry's pinned keys, imported once per registry in use.
        self._pinned_registry: AllianceRegistry | None = None
        self._pinned: dict[str, tuple[Key, ...]] = {}
        self._logged: dict[str, tuple[float, int]] = {}
        # Tokens accepted lately, by their exact text, for the registry they were accepted under (see verify).
        self._accepted_registry: AllianceRegistry | None = None
        self._accepted: OrderedDict[str, _Accepted] = OrderedDict()

    async def verify(self, token: str, registry: AllianceRegistry | None) -> Principal:
        """The principal a token names, or TokenRefused saying why not (counted, and logged now and then)."""
        if registry is not self._accepted_registry:  # A member the new registry drops is no issuer any more.
            self._accepted_registry, self._accepted = registry, OrderedDict()
        now = self.clock()
        accepted = self._accepted.get(token)
        if accepted is not None and now < accepted.until:
            self._accepted.move_to_end(token)
            principal, kind = accepted.principal, accepted.kind
        else:
            try:
                principal, kind = await self._verify(token, registry)
            except TokenRefused as refusal:
                self._accepted.pop(token, None)
                self._refused(refusal)
                raise
            expires = float(_parse(token).claims["exp"])
            self._accepted[token] = _Accepted(
                principal, kind, min(expires + CLOCK_SKEW_SECONDS, now + ACCEPTED_TOKENS_KEPT_SECONDS)
            )
            if len(self._accepted) > ACCEPTED_TOKENS_KEPT:
                self._accepted.popitem(last=False)
        if self.metrics:
            self.metrics.accepted.labels(kind).inc()
        return principal

    async def close(self) -> None:
        await self.keys.close()

    async def _verify(self, text: str, registry: AllianceRegistry | None) -> tuple[Principal, str]:
        token = _parse(text)
        member, issuer = self._member_issuer(token.issuer, registry)
        # 1. One of the node's own OpenID Connect providers, by `iss`.
        if token.issuer in self.oidc_issuers:
            keys = await self._published(token, Publisher(oidc_issuer=token.issuer))
            self._check_signature(token, keys, f"the keys {token.issuer} publishes")
            claims = self._believable(token)
            return _principal(claims, token.issuer, _speaks_for(claims, token.issuer, member)), "oidc"
        # 2. The node's own key, whatever the `iss`. A member's token naming a key of its own is spared a check that
        # cannot succeed (the node's own tokens name the node key's thumbprint, or no key).
        node_key = self._own_key()
        if (
            node_key is not None
            and token.algorithm in _ED25519
            and (issuer is None or token.kid in (None, node_key.kid))
            and _verifies(token, node_key)
        ):
            claims = self._believable(token)
            return _principal(claims, token.issuer, _speaks_for(claims, token.issuer, None)), "node-key"
        # 3. A member's identity provider, by `iss`, per the registry in use.
        if token.issuer is None:
            raise TokenRefused("unknown-issuer", "the token names no issuer (iss) and is not signed with this node's key")
        if member is None or issuer is None or registry is None:
            raise TokenRefused("unknown-issuer", self._not_an_issuer(token.issuer, registry))
        keys = await self._member_keys(token, registry, issuer)
        self._check_signature(token, keys, f"the keys of {token.issuer} ({member.legal_name})")
        claims = self._believable(token)
        return _principal(claims, token.issuer, _speaks_for(claims, token.issuer, member), member=True), "member"

    # Issuers and their keys.

    def _member_issuer(
        self, issuer: str | None, registry: AllianceRegistry | None
    ) -> tuple[Member, TokenIssuer] | tuple[None, None]:
        """The member an `iss` speaks for in the registry in use, and how to check its tokens; (None, None) if none."""
        if issuer is None or registry is None:
            return None, None
        try:
            return registry.token_issuer(issuer)
        except NotAMember:
            return None, None

    def _own_key(self) -> Key | None:
        """The node's public key (read once); None when it has none, or it cannot be read (logged; read again on the
        next token, so that a key put in place later is found)."""
        path = self.settings.auth_public_key_file
        if self._node_key is None and path:
            try:
                self._node_key = read_key(Path(path).read_bytes())
            except (OSError, ValueError, JoseError) as error:
                problem = f"this node's token key (AUTH_PUBLIC_KEY_FILE={path}) cannot be read: {error}"
                if problem != self._node_key_problem:
                    log.error("%s; only other issuers' tokens are accepted", problem)
                    self._node_key_problem = problem
        return self._node_key

    async def _published(self, token: _Token, publisher: Publisher) -> tuple[Key, ...]:
        try:
            return await self.keys.keys(publisher, token.kid)
        except KeysUnavailable as error:
            raise TokenRefused("keys-unavailable", str(error)) from None

    async def _member_keys(self, token: _Token, registry: AllianceRegistry, issuer: TokenIssuer) -> tuple[Key, ...]:
        """The registry's pinned keys of the issuer, and those it publishes when the token's key is not pinned."""
        if registry is not self._pinned_registry:
            self._pinned_registry, self._pinned = registry, {}
        pinned = self._pinned.get(issuer.issuer)
        if pinned is None:
            pinned = self._pinned[issuer.issuer] = tuple(
                JWKRegistry.import_key(key.as_dict()) for key in (issuer.jwks.keys if issuer.jwks else ())
            )
        if issuer.jwks_uri is None or _candidates(token, pinned):
            return pinned
        return pinned + await self._published(token, Publisher(jwks_uri=issuer.jwks_uri))

    def _check_signature(self, token: _Token, keys: Iterable[Key], where: str) -> None:
        candidates = _candidates(token, keys)
        if not candidates:
            which = f"key {_shown(token.kid)}" if token.kid else f"an {token.algorithm} key without a key id (kid)"
            raise TokenRefused(
                "unknown-key", f"the token of {_shown(token.issuer)} is signed with {which}, which is not among {where}"
            )
        if not any(_verifies(token, key) for key in candidates):
            raise TokenRefused(
                "bad-signature", f"the token's signature does not verify with {where}: it was not signed by "
                f"{_shown(token.issuer)}, or was changed"
            )

    # Claims.

    def _believable(self, token: _Token) -> dict[str, Any]:
        """The claims of a token whose signature verified, once its times, audience and subject are checked."""
        claims, now = token.claims, self.clock()
        expires = claims.get("exp")
        if not _is_time(expires):
            raise TokenRefused("missing-claim", "the token has no expiry time (exp)")
        if expires <= now - CLOCK_SKEW_SECONDS:
            raise TokenRefused("expired", f"the token expired at {_when(expires)}, {_ago(now - expires)} ago")
        not_before = claims.get("nbf")
        if _is_time(not_before) and not_before > now + CLOCK_SKEW_SECONDS:
            raise TokenRefused("not-yet-valid", f"the token is not valid before {_when(not_before)}")
        audiences = _values(claims.get("aud"))
        if AUDIENCE not in audiences:
            held = ", ".join(map(_shown, audiences)) or "no audience"
            raise TokenRefused("audience", f"the token is for {held}, not for {AUDIENCE} (aud)")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenRefused("missing-claim", "the token names no subject (sub)")
        return claims

    # Refusals.

    def _not_an_issuer(self, issuer: str, registry: AllianceRegistry | None) -> str:
        what = f"token issued by {_shown(issuer)}, which is not an identity provider of this node"
        if registry is not None:
            return f"{what} or of a member of {registry.alliance.name} (registry serial {registry.serial})"
        if self.settings.alliance_registry_url:
            return f"{what}, and the alliance registry has not been loaded yet (no member's is known)"
        return f"{what} (it follows no alliance registry)"

    def _refused(self, refusal: TokenRefused) -> None:
        if self.metrics:
            self.metrics.refused.labels(refusal.reason).inc()
        now = time.monotonic()
        logged_at, since = self._logged.get(refusal.reason, (-math.inf, 0))
        if now - logged_at < LOG_EVERY_SECONDS:
            self._logged[refusal.reason] = (logged_at, since + 1)
            return
        more = f" (and {since} more for this reason since the last such line)" if since else ""
        log.warning("token refused (%s): %s%s", refusal.reason, refusal, more)
        self._logged[refusal.reason] = (now, 0)


def _parse(text: str) -> _Token:
    try:
        signed = jws.extract_compact(text.encode("ascii"))
        header = signed.headers()
        claims = json.loads(signed.payload or b"")
    except (JoseError, ValueError, UnicodeError, TypeError):
        raise TokenRefused("malformed", "the bearer token is not a signed JWT (header.claims.signature)") from None
    if not isinstance(claims, dict):
        raise TokenRefused("malformed", "the bearer token's claims are not a JSON object")
    algorithm = header.get("alg")
    if algorithm not in KEY_TYPES:
        raise TokenRefused(
            "algorithm", f"tokens signed with {_shown(algorithm)} are not accepted (only {', '.join(KEY_TYPES)})"
        )
    kid, issuer = header.get("kid"), claims.get("iss")
    return _Token(
        signed, algorithm, kid if isinstance(kid, str) else None, claims, issuer if isinstance(issuer, str) else None
    )


def _candidates(token: _Token, keys: Iterable[Key]) -> list[Key]:
    """The keys that may have signed the token: of its algorithm's kind and, when it names one, its key id."""
    family = _ED25519 if token.algorithm in _ED25519 else (token.algorithm,)
    return [
        key
        for key in keys
        if key.key_type == KEY_TYPES[token.algorithm]
        and key.get("alg") in (None, *family)
        and (token.kid is None or key.kid == token.kid)
    ]


def _verifies(token: _Token, key: Key) -> bool:
    try:
        return jws.validate_compact(token.signed, key, registry=_ALGORITHMS[token.algorithm])
    except (JoseError, ValueError, TypeError):
        return False  # a key of the wrong curve or size for the algorithm, a critical header we do not know


def _speaks_for(claims: dict[str, Any], issuer: str, member: Member | None) -> str | None:
    """The token's institution: as claimed, but a member's issuer speaks only for that member."""
    claimed = _text(claims, "institution")
    if member is None:
        return claimed
    if claimed is not None and claimed != member.institution:
        raise TokenRefused(
            "institution",
            f"the token of {_shown(issuer)} names the institution {_shown(claimed)}, but {_shown(issuer)} speaks only "
            f"for {member.institution} ({member.legal_name})",
        )
    return member.institution


def _values(claim: object) -> list[str]:
    """A multi-valued claim, which identity providers send as a list or, with one value, as a string."""
    if isinstance(claim, str):
        return [claim]
    if isinstance(claim, list):
        return [value for value in claim if isinstance(value, str)]
    return []


def _principal(claims: dict[str, Any], issuer: str | None, institution: str | None, member: bool = False) -> Principal:
    """The principal the claims name. Unknown roles and affiliations are left out: a token from an identity provider
    may carry more than this node knows. A member's token makes a learner, known as `<institution>:<sub>`."""
    roles, affiliations = {role.value for role in Role}, {value.value for value in Affiliation}
    codes = _values(claims.get("schacPersonalUniqueCode"))
    return Principal(
        subject=f"{institution}:{claims['sub']}" if member else claims["sub"],
        name=_text(claims, "name"),
        roles=(
            frozenset({Role.LEARNER})
            if member
            else frozenset(Role(role) for role in _values(claims.get("roles")) if role in roles)
        ),
        institution=institution,
        email=_text(claims, "email"),
        affiliation=frozenset(
            Affiliation(value.lower()) for value in _values(claims.get("affiliation")) if value.lower() in affiliations
        ),
        esi=next((code for code in codes if code.lower().startswith(ESI_PREFIX.lower())), None),
        issuer=issuer,
    )


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _when(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{timestamp:g} (seconds since 1970)"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _shown(value: object) -> str:
    """A value from an unverified token, fit for a log line and a 401's detail (bounded, no control characters)."""
    text = value if isinstance(value, str) else repr(value)
    text = text if len(text) <= 200 else f"{text[:200]}…"
    return text if text.isprintable() else repr(text)


# --- the routes' dependency ---

_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, from their bearer token (401 without one, or with one this node refuses)."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    tokens: TokenVerifier = request.app.state.tokens
    try:
        return await tokens.verify(credentials.credentials, registry_in_use(request.app.state))
    except TokenRefused as refusal:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, f"invalid token: {refusal}",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def forbidden(needed: str, principal: Principal) -> HTTPException:
    """403 saying what was needed and what the token holds."""
    return HTTPException(status.HTTP_403_FORBIDDEN, f"{needed}; {principal.describe()}")


def require_role(principal: Principal, *roles: Role) -> None:
    """403 naming the roles needed and those held, unless the principal holds one of them."""
    if not any(principal.has(role) for role in roles):
        raise forbidden(f"this needs the role {' or '.join(roles)}", principal)


def require_institution(principal: Principal, institutions: Collection[str | None], what: str) -> None:
    """403 unless the principal acts for one of the institutions that own the thing."""
    if principal.institution is None or principal.institution not in institutions:
        owners = ", ".join(sorted(i for i in institutions if i)) or "no institution"
        raise forbidden(f"{what} belongs to {owners}", principal)


# --- reading learners' records: the learner concerned, or staff of the institutions the record is about ---


@dataclass(frozen=True)
class Scope:
    """The learners' records a caller may read: their own (as a learner), those about their institution (as staff),
    or every one (the node administrator, where allowed). A list shows what any of these covers."""

    learner_id: str | None = None
    institution: str | None = None
    everything: bool = False

    def covers(self, learner_id: str | None, institutions: Iterable[str | None]) -> bool:
        return (
            self.everything
            or (self.learner_id is not None and learner_id == self.learner_id)
            or (self.institution is not None and self.institution in set(institutions))
        )

    def where(self, learner: Any, concerns: Callable[[str], Any]) -> Any:
        """The SQL condition for the rows this scope covers, given the learner-id column and `concerns(institution)`,
        the condition that a row is about that institution; true() for everything."""
        if self.everything:
            return true()
        allowed = []
        if self.learner_id is not None:
            allowed.append(learner == self.learner_id)
        if self.institution is not None:
            allowed.append(concerns(self.institution))
        return or_(*allowed)


def _who(staff: Collection[Role]) -> str:
    roles = sorted(role for role in staff if role is not Role.NODE_ADMIN)
    needed = "the learner concerned"
    if roles:
        needed += f", or the role {' or '.join(roles)} at the institutions it concerns"
    if Role.NODE_ADMIN in staff:
        needed += ", or the node administrator"
    return needed


def reader_scope(principal: Principal, staff: Collection[Role], what: str, learner_id: str | None = None) -> Scope:
    """What of `what` the principal may read: 403, saying who may, for someone who may read none of it, or for a
    learner asking about another learner (`learner_id`, a list's filter). `staff` are the roles that read their
    institution's records; the node administrator reads all only when `staff` names that role."""
    institutional = set(staff) - {Role.NODE_ADMIN}
    scope = Scope(
        learner_id=principal.subject if principal.has(Role.LEARNER) else None,
        institution=principal.institution if any(principal.has(role) for role in institutional) else None,
        everything=Role.NODE_ADMIN in staff and principal.has(Role.NODE_ADMIN),
    )
    if not (scope.learner_id or scope.institution or scope.everything):
        raise forbidden(f"reading {what} needs {_who(staff)}", principal)
    if learner_id is not None and not (scope.institution or scope.everything) and learner_id != scope.learner_id:
        raise forbidden(f"reading {what} of learner {learner_id} needs {_who(staff)}", principal)
    return scope


def require_learner_or_staff(
    principal: Principal, learner_id: str | None, institutions: Collection[str | None], staff: Collection[Role], what: str
) -> None:
    """403 unless the principal is the learner concerned, holds one of the `staff` roles at one of the institutions
    the record concerns, or is the node administrator (when `staff` names that role)."""
    if not reader_scope(principal, staff, what).covers(learner_id, institutions):
        owners = ", ".join(sorted(i for i in institutions if i)) or "no institution"
        raise forbidden(f"{what} concerns learner {learner_id} at {owners}: this needs {_who(staff)}", principal)


def main() -> None:
    parser = argparse.ArgumentParser(description="Create token keys, issue a token, or print a key's public JWK Set.")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="create an Ed25519 key pair")
    keys.add_argument("--dir", type=Path, required=True)
    keys.add_argument("--name", default="auth", help="the files' names: <name>-private.pem and <name>-public.pem")
    token = commands.add_parser("token", help="issue a bearer token")
    token.add_argument("--key", type=Path, required=True, help="the private key file (PEM, or a JWK)")
    token.add_argument("--subject", required=True)
    token.add_argument("--name")
    token.add_argument("--email")
    token.add_argument("--role", action="append", choices=[role.value for role in Role], required=True)
    token.add_argument("--institution", help="the home institution's code")
    token.add_argument(
        "--affiliation", action="append", default=[], choices=[value.value for value in Affiliation],
        help="eduPersonAffiliation (repeatable): a learner's student or staff affiliation to an alliance institution "
        "makes them an alliance student or staff member",
    )
    token.add_argument("--esi", help=f"the European Student Identifier ({ESI_PREFIX}<country>:<code>)")
    token.add_argument(
        "--issuer", default="urn:microcredentials:node:local",
        help="the token's iss: anything for the node's own key; a member's token issuer as the registry lists it",
    )
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    jwks = commands.add_parser("jwks", help="print the public JWK Set of key files (for a registry or a jwks_uri)")
    jwks.add_argument("--key", type=Path, action="append", required=True, help="a key file, PEM or JWK (repeatable)")
    args = parser.parse_args()
    if args.command == "keys":
        private_path, public_path = create_keys(args.dir, args.name)
        print(f"private key: {private_path}\npublic key:  {public_path}")
    elif args.command == "jwks":
        print(json.dumps(public_key_set(*(read_key(path.read_bytes()) for path in args.key)), indent=2))
    else:
        principal = Principal(
            subject=args.subject,
            name=args.name,
            roles=frozenset(Role(role) for role in args.role),
            institution=args.institution,
            email=args.email,
            affiliation=frozenset(Affiliation(value) for value in args.affiliation),
            esi=args.esi,
        )
        print(issue_token(args.key.read_bytes(), principal, args.issuer, args.ttl))


if __name__ == "__main__":
    main()
