"""Which issuers this node vouches for: the issuer directory.

Verification says VALID only for a credential whose issuer is in the directory, and shows the institution's name from
the directory, never the name the credential gives itself. The directory maps an issuer's DID to the institution
behind it (code, legal name, country, node) and holds the DID documents whose keys check their signatures.

`issuer_directory(settings)` is the one place that fills it. Today: the institutions this node signs for (their keys
in ISSUER_KEYS_DIR, their names from the profiles beside the keys). Later: the alliance's members, from the signed
registry, added there. A `did:key` issuer is trusted only when TRUST_DID_KEY_ISSUERS is set (development): anyone can
make a did:key, so it says nothing about who holds it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from services.certification.settings import CertificationSettings
from services.certification.signing_keys import load_profiles, node_identity


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


def issuer_directory(settings: CertificationSettings) -> IssuerDirectory:
    """The issuers this node vouches for."""
    return _directory(settings.public_url.rstrip("/"), settings.issuer_keys_dir, settings.trust_did_key_issuers)


@cache
def _directory(public_url: str, issuer_keys_dir: str | None, trust_did_key: bool) -> IssuerDirectory:
    # Read once per process, like the keys (a new key or profile needs a restart). The alliance registry's members
    # join here; its reload will replace this cache.
    return IssuerDirectory(own_institutions(public_url, issuer_keys_dir), trust_did_key)
