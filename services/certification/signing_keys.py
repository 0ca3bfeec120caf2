"""The institutions' signing keys on this node and the did:web identities that name them.

Each institution this node signs for has one Ed25519 key, `<ISSUER_KEYS_DIR>/<institution>.pem` (PKCS#8, mode 0600),
kept outside the repository, and a profile `<institution>.json` beside it: its legal name and country as the node's
operator states them (what verification shows as confirmed; a credential's own `issuer.name` is only a claim). Its DID is `did:web:<host%3Aport>:institutions:<institution>`, whose document this node
serves at `{PUBLIC_URL}/institutions/<institution>/did.json`; the first institution (by code) is also the node's own
`did:web:<host%3Aport>` at `/.well-known/did.json`. Keys are resolved locally: verifying our own credentials never
needs the network.
"""

import argparse
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.certification.vc import keys
from services.certification.vc.credential import IssuerProfile

# Names for annotations only: a signing worker loads this module, and the service's settings and events would bring
# pydantic-settings and more into every worker (signing_requests.py).
if TYPE_CHECKING:
    from services.certification.settings import CertificationSettings
    from shared.events.catalogue import AwardingBody

KEY_ID = "key-1"
INSTITUTION_CODE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class MissingKey(LookupError):
    """This node holds no signing key for the institution."""


def key_file(folder: Path, institution: str) -> Path:
    if not INSTITUTION_CODE.match(institution):
        raise ValueError(f"{institution!r} is not an institution code (lower-case letters, digits, '.', '-')")
    return folder / f"{institution}.pem"


def create_key(folder: Path, institution: str) -> Path:
    """A new Ed25519 key for the institution; refuses to replace an existing one (credentials signed by it would no
    longer verify against the published DID document)."""
    path = key_file(folder, institution)
    if path.exists():
        raise FileExistsError(f"{path} exists already; an institution's signing key is never replaced silently")
    folder.mkdir(parents=True, exist_ok=True)
    keys.save_private_key(path, keys.generate_private_key())
    return path


@dataclass(frozen=True)
class InstitutionProfile:
    """What the node's operator states about an institution it signs for."""

    legal_name: str
    # ISO 3166-1 alpha-2.
    country: str | None = None


def profile_file(folder: Path, institution: str) -> Path:
    return key_file(folder, institution).with_suffix(".json")


def save_profile(folder: Path, institution: str, profile: InstitutionProfile) -> Path:
    path = profile_file(folder, institution)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"legal_name": profile.legal_name, "country": profile.country}, ensure_ascii=False) + "\n")
    return path


def load_profiles(folder: str | Path | None) -> dict[str, InstitutionProfile]:
    """Institution code -> profile, for every `<institution>.json` beside a key (none without a folder)."""
    if folder is None or not Path(folder).is_dir():
        return {}
    profiles = {}
    for path in sorted(Path(folder).glob("*.json")):
        if not path.with_suffix(".pem").exists():
            continue
        stated = json.loads(path.read_text(encoding="utf-8"))
        profiles[path.stem] = InstitutionProfile(str(stated["legal_name"]), stated.get("country"))
    return profiles


def load_keys(folder: str | Path | None) -> dict[str, Ed25519PrivateKey]:
    """Institution code -> private key, for every `<institution>.pem` in the folder (none without a folder)."""
    if folder is None or not Path(folder).is_dir():
        return {}
    return {path.stem: keys.load_private_key(path) for path in sorted(Path(folder).glob("*.pem"))}


@cache
def node_identity(public_url: str, issuer_keys_dir: str | None) -> "NodeIdentity":
    """The node's institutions and keys, read once per process (a new key needs a restart)."""
    return NodeIdentity.load(public_url, issuer_keys_dir)


def did_document(did: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """A did:web document with one Multikey method `<did>#key-1` for assertions (credentials) and authentication."""
    return keys.multikey_document(did, f"{did}#{KEY_ID}", public_key, ("authentication", "assertionMethod"))


def identity_of(settings: "CertificationSettings") -> "NodeIdentity":
    return node_identity(settings.public_url.rstrip("/"), settings.issuer_keys_dir)


# Bounded: a caller may ask for the DID document of any name (unknown ones are refused after this).
@lru_cache(maxsize=256)
def _did(public_url: str, institution: str | None) -> str:
    """The did:web of the node (institution None) or of an institution it signs for, under the node's public URL.
    Computed once: every credential names its issuer's (the URL's quoting was ~4 % of issuing's CPU)."""
    url = urlsplit(public_url)
    path = url.path.strip("/")
    if institution is None:
        return keys.did_web(url.netloc, path or None)
    return keys.did_web(url.netloc, f"{path}/institutions/{institution}".strip("/"))


@dataclass(frozen=True)
class NodeIdentity:
    """The institutions this node signs for: their keys, DIDs and DID documents."""

    public_url: str
    private_keys: Mapping[str, Ed25519PrivateKey]

    @classmethod
    def load(cls, public_url: str, folder: str | Path | None) -> "NodeIdentity":
        return cls(public_url.rstrip("/"), load_keys(folder))

    @property
    def institutions(self) -> list[str]:
        return sorted(self.private_keys)

    def holds(self, institution: str | None) -> bool:
        return institution is not None and institution in self.private_keys

    def node_did(self) -> str:
        return _did(self.public_url, None)

    def did(self, institution: str) -> str:
        return _did(self.public_url, institution)

    def verification_method(self, institution: str) -> str:
        return f"{self.did(institution)}#{KEY_ID}"

    def private_key(self, institution: str) -> Ed25519PrivateKey:
        try:
            return self.private_keys[institution]
        except KeyError:
            raise MissingKey(f"this node holds no signing key for {institution}") from None

    def document(self, institution: str) -> dict[str, Any]:
        return did_document(self.did(institution), self.private_key(institution).public_key())

    def node_document(self) -> dict[str, Any] | None:
        """The node's own did:web document: the first institution's key (None when the node signs for none)."""
        if not self.private_keys:
            return None
        return did_document(self.node_did(), self.private_key(self.institutions[0]).public_key())

    def profile(self, body: "AwardingBody") -> IssuerProfile:
        assert body.id is not None
        return IssuerProfile(id=self.did(body.id), name=body.name, url=body.url, country=body.country)

    @cached_property
    def resolver(self) -> keys.KeyResolver:
        """Resolves this node's did:web keys (and did:key) offline."""
        documents = [self.document(institution) for institution in self.institutions]
        node_document = self.node_document()
        return keys.KeyResolver([*documents, *([node_document] if node_document else [])])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.certification keys")
    parser.add_argument("--institution", required=True, help="the institution's code, e.g. uni-saarland")
    parser.add_argument("--dir", type=Path, required=True, help="ISSUER_KEYS_DIR (outside the repository)")
    parser.add_argument(
        "--name", help="its legal name, which verification shows (with an existing key: states the name, keeps the key)"
    )
    parser.add_argument("--country", help="its country (ISO 3166-1 alpha-2, e.g. DE)")
    args = parser.parse_args(argv)
    try:
        if args.name and key_file(args.dir, args.institution).exists():
            path = key_file(args.dir, args.institution)
            print(f"kept the existing signing key of {args.institution}: {path}")
        else:
            path = create_key(args.dir, args.institution)
            print(f"signing key of {args.institution}: {path}")
    except (FileExistsError, ValueError) as error:
        raise SystemExit(str(error)) from None
    if args.name:
        stated = save_profile(args.dir, args.institution, InstitutionProfile(args.name, args.country))
        print(f"its profile (the name verification shows): {stated}")
    print(f"public key: {keys.public_key_multibase(keys.load_private_key(path).public_key())}")
