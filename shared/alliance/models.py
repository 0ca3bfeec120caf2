"""The registry document: who belongs to the alliance, where their nodes are, and which keys speak for them.

The models are the document's one definition: the JSON Schema (`registry.schema.json`) is generated from them, nodes
parse with them, and the secretariat's commands write with them. Rules that span entries (every member's node exists,
no key or DID speaks for two institutions) are checked here too, so a node refuses what the schema alone would let by.

Fields are never renamed or retyped within `format` 1; a new optional field may be added, and nodes ignore fields they
do not know yet, so the secretariat can publish it before every node has upgraded (as with the event contracts).
"""

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from shared.iso_codes import COUNTRIES

# The institution's code used everywhere on the nodes (an awarding body's `id`, a token's `institution` claim).
InstitutionId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=100)]
NodeId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=100)]
# https, or http to a loopback address (a test or a developer's machine), never plain http across a network.
PublicUrl = Annotated[
    str,
    Field(
        pattern=r"^(https://[^\s/?#@]+|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?)(/[^\s#]*)?$",
        max_length=2000,
        description="https (http only to a loopback address, for tests)",
    ),
]
# How Kafka names an authenticated client in its ACLs (the SASL/SCRAM user name behind `User:`).
KafkaPrincipal = Annotated[str, Field(pattern=r"^User:[A-Za-z0-9._-]+$", max_length=200)]
Did = Annotated[str, Field(pattern=r"^did:(web|key):[A-Za-z0-9._:%-]+$", max_length=500)]


def _known_country(code: str) -> str:
    if code not in COUNTRIES:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


CountryCode = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2"), AfterValidator(_known_country)
]

# Members of a JWK that only a private (or symmetric) key has; a registry that publishes one is refused.
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


class NotAMember(LookupError):
    """An institution, DID, token issuer, Kafka principal or event source that the registry does not list."""


class _Entry(BaseModel):
    # Nodes ignore fields a newer registry adds (additive evolution); `sign` refuses unknown fields, so typos are
    # caught where the document is written (see shared.alliance.commands).
    model_config = ConfigDict(frozen=True, extra="ignore")


class PublicJwk(BaseModel):
    """A public key as a JSON Web Key (RFC 7517): OKP (Ed25519), EC or RSA, as identity providers publish them."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",  # x5c, x5t, key_ops... pass through untouched.
        json_schema_extra={"not": {"anyOf": [{"required": [member]} for member in PRIVATE_JWK_MEMBERS]}},
    )

    kty: Literal["OKP", "EC", "RSA"]
    kid: str | None = None
    use: Literal["sig"] | None = None
    alg: str | None = None
    crv: str | None = None
    x: str | None = None
    y: str | None = None
    n: str | None = None
    e: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _public_only(cls, value: Any) -> Any:
        if isinstance(value, dict):
            private = [member for member in PRIVATE_JWK_MEMBERS if member in value]
            if private:
                raise ValueError(f"a private key was published: remove its private member(s) {', '.join(private)}")
        return value

    @model_validator(mode="after")
    def _importable(self) -> "PublicJwk":
        try:
            JWKRegistry.import_key(self.as_dict())
        except (JoseError, ValueError, TypeError) as error:
            raise ValueError(f"not a usable {self.kty} public key: {error}") from None
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def thumbprint(self) -> str:
        """RFC 7638: the same key has the same thumbprint whatever its `kid` or extra members."""
        return JWKRegistry.import_key(self.as_dict()).thumbprint()


class JwkSet(_Entry):
    keys: list[PublicJwk] = Field(min_length=1)


class TokenIssuer(_Entry):
    """Who issues an institution's users' tokens (its identity provider, or its node), and how to check them.

    `jwks` pins keys in the signed registry; `jwks_uri` is where the provider publishes its current keys, so that
    Keycloak's or Shibboleth's routine key rotation needs no new registry. Give one or both.
    """

    issuer: str = Field(min_length=1, max_length=2000, description="the tokens' `iss` claim")
    jwks: JwkSet | None = None
    jwks_uri: PublicUrl | None = None

    @model_validator(mode="after")
    def _has_keys(self) -> "TokenIssuer":
        if self.jwks is None and self.jwks_uri is None:
            raise ValueError(f"token issuer {self.issuer!r} needs jwks (its keys), jwks_uri (where it publishes them), or both")
        return self

    def key_set(self) -> KeySet | None:
        """The pinned keys, ready to verify a token with joserfc (keys behind `jwks_uri` are fetched by the caller)."""
        return KeySet.import_key_set({"keys": [key.as_dict() for key in self.jwks.keys]}) if self.jwks else None


class Node(_Entry):
    """One running platform node; it may host several member institutions."""

    id: NodeId
    base_url: PublicUrl = Field(description="where the node's services are reached, e.g. https://mc.uni-saarland.de")
    kafka_principal: KafkaPrincipal = Field(description="the node's principal on the alliance's Kafka, e.g. User:saarland")
    event_source: str = Field(
        min_length=1, max_length=500, description="the CloudEvents `source` of what the node publishes (its NODE_URI)"
    )

    @property
    def host(self) -> str:
        """host[:port] of the base URL, as a did:web names it."""
        return urlsplit(self.base_url).netloc


class Member(_Entry):
    """A member institution."""

    institution: InstitutionId = Field(description="the institution's code, e.g. uni-saarland")
    legal_name: str = Field(min_length=1, max_length=300)
    country: CountryCode
    node: NodeId = Field(description="the id of the node that hosts it")
    credential_dids: list[Did] = Field(min_length=1, description="the DIDs its credentials are signed with")
    token_issuers: list[TokenIssuer] = Field(default_factory=list, description="who signs its users' tokens")


class Alliance(_Entry):
    id: NodeId = Field(description="a short code, e.g. t4eu")
    name: str = Field(min_length=1, max_length=300)


class AllianceRegistry(_Entry):
    """The signed list of an alliance's members and nodes, with the lookups the rest of the code needs."""

    model_config = ConfigDict(title="Alliance registry")

    format: Literal[1] = 1
    alliance: Alliance
    serial: int = Field(ge=0, description="raised by every signature; nodes refuse a lower one (rollback)")
    issued: AwareDatetime
    expires: AwareDatetime = Field(description="nodes refuse the document after this; the secretariat re-signs before")
    nodes: list[Node] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)

    _members: dict[str, Member] = PrivateAttr(default_factory=dict)
    _nodes: dict[str, Node] = PrivateAttr(default_factory=dict)
    _by_did: dict[str, Member] = PrivateAttr(default_factory=dict)
    _by_issuer: dict[str, tuple[Member, TokenIssuer]] = PrivateAttr(default_factory=dict)
    _by_principal: dict[str, Node] = PrivateAttr(default_factory=dict)
    _by_source: dict[str, Node] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> "AllianceRegistry":
        problems: list[str] = []
        if self.expires <= self.issued:
            problems.append(f"expires ({self.expires.isoformat()}) must come after issued ({self.issued.isoformat()})")
        for field in ("id", "base_url", "kafka_principal", "event_source"):
            problems += _duplicates("nodes", field, ((i, getattr(node, field)) for i, node in enumerate(self.nodes)))
        problems += _duplicates("members", "institution", enumerate(m.institution for m in self.members))
        nodes = {node.id: node for node in self.nodes}
        hosted: set[str] = set()
        dids: dict[str, str] = {}
        issuers: dict[str, str] = {}
        thumbprints: dict[str, str] = {}
        for i, member in enumerate(self.members):
            where = f"members[{i}] ({member.institution})"
            node = nodes.get(member.node)
            if node is None:
                problems.append(f"{where}.node: {member.node!r} is not among the nodes ({', '.join(nodes) or 'none'})")
            hosted.add(member.node)
            for did in member.credential_dids:
                if dids.setdefault(did, member.institution) != member.institution:
                    problems.append(f"{where}.credential_dids: {did} already belongs to {dids[did]}")
                if node is not None and did.startswith("did:web:"):
                    domain = unquote(did.removeprefix("did:web:").split(":")[0])
                    if domain != node.host:
                        problems.append(
                            f"{where}.credential_dids: {did} is served by {domain}, not by its node's host {node.host}"
                        )
            for issuer in member.token_issuers:
                if issuers.setdefault(issuer.issuer, member.institution) != member.institution:
                    problems.append(
                        f"{where}.token_issuers: {issuer.issuer!r} already speaks for {issuers[issuer.issuer]}"
                    )
                for key in issuer.jwks.keys if issuer.jwks else ():
                    owner = thumbprints.setdefault(key.thumbprint(), member.institution)
                    if owner != member.institution:
                        problems.append(f"{where}.token_issuers: key {key.thumbprint()} already speaks for {owner}")
        for node_id in nodes.keys() - hosted:
            problems.append(f"nodes: {node_id!r} hosts no member")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_post_init(self, context: Any) -> None:
        self._members = {member.institution: member for member in self.members}
        self._nodes = {node.id: node for node in self.nodes}
        self._by_did = {did: member for member in self.members for did in member.credential_dids}
        self._by_issuer = {issuer.issuer: (m, issuer) for m in self.members for issuer in m.token_issuers}
        self._by_principal = {node.kafka_principal: node for node in self.nodes}
        self._by_source = {node.event_source: node for node in self.nodes}

    # Lookups. Each raises NotAMember with a sentence naming what was asked and the alliance, ready for a log line,
    # a 401/403 detail or a dead letter's reason.

    def is_member(self, institution: str | None) -> bool:
        return institution in self._members

    def member(self, institution: str) -> Member:
        try:
            return self._members[institution]
        except KeyError:
            raise NotAMember(f"{institution!r} is not a member of {self._alliance_named()}") from None

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise NotAMember(f"{node_id!r} is not a node of {self._alliance_named()}") from None

    def node_of(self, institution: str) -> Node:
        return self._nodes[self.member(institution).node]

    def members_of(self, node_id: str) -> list[Member]:
        return [member for member in self.members if member.node == self.node(node_id).id]

    def member_by_did(self, did_or_method: str) -> Member:
        """The member whose credentials a DID (or a verification method `did...#key-1`) signs."""
        did = did_or_method.partition("#")[0]
        try:
            return self._by_did[did]
        except KeyError:
            raise NotAMember(f"{did} is not the DID of a member of {self._alliance_named()}") from None

    def token_issuer(self, issuer: str) -> tuple[Member, TokenIssuer]:
        """The member a token's `iss` speaks for, and how to verify it."""
        try:
            return self._by_issuer[issuer]
        except KeyError:
            raise NotAMember(f"tokens issued by {issuer!r} do not come from a member of {self._alliance_named()}") from None

    def token_issuers(self, institution: str) -> list[TokenIssuer]:
        return self.member(institution).token_issuers

    def node_by_kafka_principal(self, principal: str) -> Node:
        """The node behind a Kafka principal (`User:saarland`; a bare user name is read the same way)."""
        principal = principal if principal.startswith("User:") else f"User:{principal}"
        try:
            return self._by_principal[principal]
        except KeyError:
            raise NotAMember(f"{principal} is not the Kafka principal of a node of {self._alliance_named()}") from None

    def node_by_event_source(self, source: str) -> Node:
        try:
            return self._by_source[source]
        except KeyError:
            raise NotAMember(f"{source} is not the event source of a node of {self._alliance_named()}") from None

    def node_id_of(self, source: str) -> str | None:
        """The id of the node whose event source this is (a node's own: its NODE_URI), or None if no member's."""
        node = self._by_source.get(source)
        return node.id if node is not None else None

    @property
    def hosts(self) -> frozenset[str]:
        """host[:port] of every node: the only hosts a node contacts for DID documents and status lists."""
        return frozenset(node.host for node in self.nodes)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires

    def _alliance_named(self) -> str:
        return f"{self.alliance.name} (registry serial {self.serial})"


def _duplicates(collection: str, field: str, values: Iterable[tuple[int, str]]) -> list[str]:
    seen: dict[str, int] = {}
    problems = []
    for index, value in values:
        if value in seen:
            problems.append(f"{collection}[{index}].{field}: {value!r} repeats {collection}[{seen[value]}]")
        seen.setdefault(value, index)
    return problems


SCHEMA_FILE = Path(__file__).parent / "registry.schema.json"


def json_schema() -> dict[str, Any]:
    """The registry's JSON Schema, as committed in `registry.schema.json` (`python -m shared.alliance schema`).

    It states the shape and each field's rules; what spans entries (references between members and nodes, one key
    or DID per institution) is beyond JSON Schema and checked by the models alone.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **AllianceRegistry.model_json_schema(mode="validation"),
    }
