"""The alliance registry: one document, signed by the alliance's secretariat, that says who belongs.

What it lists (models.py; JSON Schema in registry.schema.json):
- the alliance (`id`, `name`), a `serial` raised by every signature, `issued` and `expires`;
- `nodes`, each once even when it hosts several institutions: `id`, `base_url`, `kafka_principal` (`User:<name>`,
  as Kafka's ACLs name it; a principal writes for its node, whichever institutions it hosts) and `event_source` (the
  node's CloudEvents `source`, its NODE_URI);
- `members`: `institution` (the code used everywhere else, e.g. `uni-saarland`), `legal_name`, `country` (ISO 3166-1
  alpha-2), `node`, `credential_dids` (did:web, served by the member's node; did:key for development) and
  `token_issuers`: each the `iss` of its users' tokens with pinned keys (`jwks`, RFC 7591's name), the URL where its
  identity provider publishes its current keys (`jwks_uri`, as Keycloak and Shibboleth do, which rotate keys without
  asking the secretariat), or both.

What we took from Erasmus Without Paper's Registry, and what we changed:
- EWP lists hosts and the institutions each covers separately; so do we (nodes and members), because one node may
  host several institutions.
- EWP demands that each credential belong to exactly one institution; the models refuse a DID, token issuer or key
  listed for two members, a member on an unknown node, a node with no member, two nodes with one principal.
- EWP's catalogue first carried only key digests and later had to add the keys themselves; ours carries the public
  keys (JWKs), or where the issuer publishes them.
- EWP's catalogue is protected only by TLS to one fixed URL. Ours is signed, so any copy (a file shipped with a
  node, a mirror, a URL of the alliance's choice) is as good as the original, and a node pins the alliance's key.
- EWP clients cache the catalogue and fall back to a stale copy when the registry is down; ours keep the last good
  registry whatever goes wrong with a new one, and poll (ALLIANCE_REGISTRY_POLL_SECONDS, a conditional GET).
- EWP's registry keeps serving a host's older manifest when a new one is invalid; a node here keeps its registry.
- What EWP lacks: a version and an expiry. A serial lets nodes refuse an older registry replayed to them (rollback,
  e.g. to bring back a removed member); `expires` bounds how long a node can be kept on an old one without noticing.

Signature (signing.py): a detached JWS (RFC 7515 Appendix F, `alg` Ed25519, `kid` the RFC 7638 thumbprint) over the
document's exact bytes, in `<registry>.jws` beside it. The registry stays plain, indented JSON that people read and
diff; nothing is canonicalized or re-serialized, so no JSON library's quirks can change what was signed. The price of
two files is a read between their two writes: a mismatch is read again once before it counts as a bad signature.

Nodes (loader.py): ALLIANCE_REGISTRY_URL (a file path, or https; http only to loopback, for tests),
ALLIANCE_PUBLIC_KEY_FILE (PEM public key(s) or a JWK Set: several keys let the secretariat change keys), and
ALLIANCE_REGISTRY_POLL_SECONDS. A new registry is refused — bad signature, unknown key id, schema violation, serial
not above the one held (rollback), expired — with a message naming the problem, logged once and counted in
`mc_alliance_registry_refused_total{reason}`; the last good one stays in use. A registry that expires while in use
stays in use (the alliance goes on working while the secretariat re-signs) but is logged as an error, and
`mc_alliance_registry_expires_timestamp_seconds` lets monitoring warn before.

Lookups (AllianceRegistry): `member(institution)`, `is_member`, `node`, `node_of`, `members_of`,
`member_by_did(did or verification method)`, `token_issuer(iss)`, `token_issuers(institution)`,
`node_by_kafka_principal`, `node_by_event_source`, `hosts`. Each miss raises NotAMember with a sentence naming what
was asked and the alliance. A service reaches the registry in use with `registry_in_use(app.state)` (or, for its Kafka handlers, made before
the service runs, a `RegistryInUse` bound to its state by a background task).

Commands (commands.py): `python -m shared.alliance keys|init|add-member|remove-member|sign|verify|show|schema`.
"""

from shared.alliance.loader import (
    AllianceMetrics,
    RegistryInUse,
    RegistryWatcher,
    registry_in_use,
    source_for,
    watch_alliance,
)
from shared.alliance.models import AllianceRegistry, Member, Node, NotAMember, TokenIssuer
from shared.alliance.signing import RegistryRefused, load_trusted_keys, sign, verify

__all__ = [
    "AllianceMetrics",
    "AllianceRegistry",
    "Member",
    "Node",
    "NotAMember",
    "RegistryInUse",
    "RegistryRefused",
    "RegistryWatcher",
    "TokenIssuer",
    "load_trusted_keys",
    "registry_in_use",
    "sign",
    "source_for",
    "verify",
    "watch_alliance",
]
