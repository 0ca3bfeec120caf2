"""Which issuers this node vouches for: the issuer directory.

Verification says VALID only for a credential whose issuer is in the directory, and shows the institution's name from
the directory, never the name the credential gives itself. The directory maps an issuer's DID to the institution
behind it (code, legal name, country, node, and the alliance it belongs to) and holds the DID documents this node has
of its own (a member's is fetched from its node: resolver.py).

`issuer_directory(settings, registry)` is the one place that fills it, for each verification, from:
- the institutions this node signs for (their keys in ISSUER_KEYS_DIR, their names from the profiles beside the keys),
  trusted with or without an alliance registry;
- the members of the alliance registry in use (shared.alliance): each of a member's `credential_dids`, under its
  legal name and country, on its node. A new registry takes effect at the next verification, so a member removed
  stops being trusted as soon as the node has the registry without it. Where the registry lists one of this node's
  own DIDs, its statements (name, country, membership) are shown, and the node's own DID document is used.
A `did:key` issuer is trusted only when TRUST_DID_KEY_ISSUERS is set (development): anyone can make a did:key, so it
says nothing about who holds it.

`refuse_foreign_keys`, a startup check, is the other side of that trust: with an alliance registry, the node holds no
signing key of an institution another member hosts.
"""

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from services.certification import domain
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import identity_of, load_profiles, node_identity
from shared.alliance import AllianceRegistry
from shared.alliance.loader import watcher_from_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Institution:
    """A university this node vouches for as an issuer."""

    did: str
    # Its code, e.g. uni-saarland.
    id: str
    # As its node's operator (or the alliance registry) states it; None when nobody stated it (its code is shown).
    legal_name: str | None
    # ISO 3166-1 alpha-2.
    country: str | None
    # The public URL of the node that signs for it.
    node: str
    # The DID document with its keys (None when this node cannot resolve its keys itself).
    did_document: Mapping[str, Any] | None = None
    # The name of the alliance whose registry lists it as a member (None when no registry in use does).
    alliance: str | None = None

    @property
    def name(self) -> str:
        return self.legal_name or self.id


class IssuerDirectory:
    """DID -> institution, for every issuer this node vouches for."""

    def __init__(self, institutions: Iterable[Institution] = (), trust_did_key: bool = False) -> None:
        self._by_did = {institution.did: institution for institution in institutions}
        self.trust_did_key = trust_did_key

    def trusts(self, did: str | None) -> bool:
        if not did:
            return False
        if did.startswith("did:key:"):
            return self.trust_did_key
        return did in self._by_did

    def institution(self, did: str | None) -> Institution | None:
        """The institution behind a trusted DID; None when it is not trusted, or trusted without a known name (a
        did:key in development)."""
        return self._by_did.get(did) if did and self.trusts(did) else None

    def did_documents(self) -> list[Mapping[str, Any]]:
        return [institution.did_document for institution in self._by_did.values() if institution.did_document]


def own_institutions(public_url: str, issuer_keys_dir: str | None) -> list[Institution]:
    """The institutions this node signs for."""
    identity = node_identity(public_url, issuer_keys_dir)
    profiles = load_profiles(issuer_keys_dir)
    return [
        Institution(
            did=identity.did(code),
            id=code,
            legal_name=profiles[code].legal_name if code in profiles else None,
            country=profiles[code].country if code in profiles else None,
            node=identity.public_url,
            did_document=identity.document(code),
        )
        for code in identity.institutions
    ]


def members(registry: AllianceRegistry) -> list[Institution]:
    """Each credential DID of the registry's members, as the registry states them."""
    return [
        Institution(
            did=did,
            id=member.institution,
            legal_name=member.legal_name,
            country=member.country,
            node=registry.node_of(member.institution).base_url,
            alliance=registry.alliance.name,
        )
        for member in registry.members
        for did in member.credential_dids
    ]


def issuer_directory(settings: CertificationSettings, registry: AllianceRegistry | None = None) -> IssuerDirectory:
    """The issuers this node vouches for: its own institutions and, with a registry in use, the alliance's members."""
    own = _own_institutions(settings.public_url.rstrip("/"), settings.issuer_keys_dir)
    listed = {institution.did: institution for institution in members(registry)} if registry else {}
    institutions = [
        replace(listed.pop(mine.did), did_document=mine.did_document) if mine.did in listed else mine for mine in own
    ]
    return IssuerDirectory([*institutions, *listed.values()], settings.trust_did_key_issuers)


@cache
def _own_institutions(public_url: str, issuer_keys_dir: str | None) -> tuple[Institution, ...]:
    # Read once per process, like the keys (a new key or profile needs a restart).
    return tuple(own_institutions(public_url, issuer_keys_dir))


class ForeignKey(RuntimeError):
    """The key directory holds the private key of an institution another node of the alliance hosts."""


async def refuse_foreign_keys(settings: CertificationSettings) -> None:
    """A startup check: with an alliance registry, every key in ISSUER_KEYS_DIR must be of an institution this node
    hosts (the registry gives it this node's DID), or of no member at all. Raises ForeignKey naming each other
    member's key; a registry that cannot be read now is logged (the endorsement exchange checks again per request)."""
    if not settings.alliance_registry_url:
        return
    watcher = watcher_from_settings(settings)
    try:
        registry = await watcher.refresh()
    finally:
        await watcher.source.close()
    if registry is None:
        log.error("the keys in ISSUER_KEYS_DIR were not checked against the alliance registry: it could not be read")
        return
    identity = identity_of(settings)
    held = {institution: identity.did(institution) for institution in identity.institutions}
    if problems := domain.foreign_keys(held, registry):
        folder = settings.issuer_keys_dir
        raise ForeignKey(
            f"ISSUER_KEYS_DIR ({folder}) holds the signing key of another member of the alliance: "
            + "; ".join(problems)
            + ". A node signs only for the institutions it hosts: remove those keys (their universities sign their "
            "endorsements at their own nodes)."
        )
