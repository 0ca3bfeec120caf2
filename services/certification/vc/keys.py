"""Ed25519 keys for signing credentials, and the DIDs that name them.

- `did:key` (local development, tests): the DID *is* the public key, `did:key:z6Mk...` = multibase base58-btc of the
  multicodec header 0xed 0x01 followed by the 32-byte public key; its one verification method is `<did>#<same z6Mk...>`.
- `did:web` (production): `did:web:<node domain>` names the DID document the node publishes at
  `https://<domain>/.well-known/did.json`, built by `did_web_document` with a `Multikey` verification method.

Keys are stored as PKCS#8 PEM files (optionally encrypted with a passphrase).
"""

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The multicodec code of an Ed25519 public key (0xed), as an unsigned varint.
ED25519_PUB_MULTICODEC = b"\xed\x01"
DID_V1_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1_CONTEXT = "https://w3id.org/security/multikey/v1"


class UnresolvableKey(LookupError):
    """A verification method that cannot be turned into a public key (unknown DID, bad encoding, wrong key type)."""


@dataclass(frozen=True)
class VerificationMethod:
    """A public key, its id (`did...#fragment`) and the DID that controls it."""

    id: str
    controller: str
    public_key: Ed25519PublicKey


# Keys and PEM files.


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_to_pem(private_key: Ed25519PrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def private_key_from_pem(pem: bytes, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"expected an Ed25519 private key, got {type(key).__name__}")
    return key


def public_key_to_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def save_private_key(path: str | Path, private_key: Ed25519PrivateKey, passphrase: bytes | None = None) -> None:
    """Write the key as PKCS#8 PEM, readable by its owner only (the file is created with mode 0600)."""
    path = Path(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(private_key_to_pem(private_key, passphrase))


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    return private_key_from_pem(Path(path).read_bytes(), passphrase)


# Multikey encoding and did:key.


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    """The Multikey `publicKeyMultibase` of an Ed25519 key: 'z' + base58-btc(0xed 0x01 + 32 bytes), i.e. 'z6Mk...'."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(ED25519_PUB_MULTICODEC + raw).decode("ascii")


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    if not value.startswith("z"):
        raise UnresolvableKey(f"{value!r} is not multibase base58-btc (it must start with 'z')")
    try:
        decoded = base58.b58decode(value[1:])
    except ValueError as error:
        raise UnresolvableKey(f"{value!r} is not valid base58-btc: {error}") from None
    if not decoded.startswith(ED25519_PUB_MULTICODEC) or len(decoded) != 34:
        raise UnresolvableKey(f"{value!r} is not an Ed25519 public key (multicodec 0xed01, 32 bytes)")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def did_key(public_key: Ed25519PublicKey) -> str:
    return "did:key:" + public_key_multibase(public_key)


def did_key_verification_method(public_key: Ed25519PublicKey) -> str:
    """The id of the one verification method of a did:key: `did:key:z6Mk...#z6Mk...`."""
    multibase = public_key_multibase(public_key)
    return f"did:key:{multibase}#{multibase}"


def resolve_did_key(verification_method: str) -> VerificationMethod:
    """Resolve a did:key verification method offline (the key is in the identifier)."""
    did, _, fragment = verification_method.partition("#")
    if not did.startswith("did:key:"):
        raise UnresolvableKey(f"{verification_method!r} is not a did:key verification method")
    multibase = did.removeprefix("did:key:")
    if fragment and fragment != multibase:
        raise UnresolvableKey(f"{verification_method!r}: the fragment of a did:key method must repeat the key")
    return VerificationMethod(id=f"{did}#{multibase}", controller=did, public_key=public_key_from_multibase(multibase))


def did_key_document(public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The DID document a did:key resolves to (Multikey form), for tools that want it spelled out."""
    return multikey_document(
        did_key(public_key),
        did_key_verification_method(public_key),
        public_key,
        ("authentication", "assertionMethod", "capabilityDelegation", "capabilityInvocation"),
    )


def multikey_document(did: str, method: str, public_key: Ed25519PublicKey, relationships: tuple[str, ...]) -> dict[str, Any]:
    """A DID document with one Multikey verification method, used for the given verification relationships."""
    return {
        "@context": [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT],
        "id": did,
        "verificationMethod": [
            {"id": method, "type": "Multikey", "controller": did, "publicKeyMultibase": public_key_multibase(public_key)}
        ],
        **{relationship: [method] for relationship in relationships},
    }


# did:web for a node.


def did_web(domain: str, path: str | None = None) -> str:
    """`did:web:uni.example` for https://uni.example/.well-known/did.json; a port is percent-encoded (`%3A`)."""
    identifier = "did:web:" + quote(domain, safe="")
    if path:
        identifier += ":" + ":".join(quote(part, safe="") for part in path.strip("/").split("/"))
    return identifier


def did_web_document(
    domain: str, public_key: Ed25519PublicKey, key_id: str = "key-1", path: str | None = None
) -> dict[str, Any]:
    """The DID document published for `did:web:<domain>[:<path>]` (at `/.well-known/did.json`, or `/<path>/did.json`),
    with one Multikey method that signs credentials (`assertionMethod`) and authenticates the node."""
    did = did_web(domain, path)
    return multikey_document(did, f"{did}#{key_id}", public_key, ("authentication", "assertionMethod"))


def did_web_verification_method(domain: str, key_id: str = "key-1") -> str:
    return f"{did_web(domain)}#{key_id}"


def did_web_location(did: str) -> tuple[str, str]:
    """Where a did:web's document is published, as (host[:port], path), per the did:web method's Read operation:
    `did:web:example.com%3A3000:user:alice` -> ("example.com:3000", "/user/alice/did.json"), a bare domain ->
    "/.well-known/did.json". The scheme is the caller's choice (https; see services/certification/resolver.py).
    Raises ValueError for anything else, including path segments that would leave their place (empty, '.', '..', a
    percent-encoded '/')."""
    did = did.partition("#")[0]
    if not did.startswith("did:web:"):
        raise ValueError(f"{did!r} is not a did:web")
    domain, *segments = did.removeprefix("did:web:").split(":")
    host = unquote(domain)
    if not host or not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?", host):
        raise ValueError(f"{did!r} does not name a host[:port] ({host!r})")
    parts = [unquote(segment) for segment in segments]
    if any(part in ("", ".", "..") or "/" in part or "?" in part or "#" in part for part in parts):
        raise ValueError(f"{did!r} has a path segment that is empty, '.', '..' or holds '/', '?' or '#'")
    path = "/" + "/".join(quote(part, safe="") for part in parts) + "/did.json" if parts else "/.well-known/did.json"
    return host, path


class KeyResolver:
    """Turns a proof's `verificationMethod` into a key, offline: did:key from the identifier itself, and did:web (or
    any DID) from DID documents the caller already holds (e.g. the alliance's nodes' `did.json`, fetched and cached
    by the service). Only methods listed under the document's `assertionMethod` are accepted for credentials.

    Call it with a verification method id; it returns a `VerificationMethod` or raises `UnresolvableKey`.
    """

    def __init__(self, did_documents: Iterable[Mapping[str, Any]] = (), allow_did_key: bool = True) -> None:
        self.allow_did_key = allow_did_key
        self._documents: dict[str, Mapping[str, Any]] = {}
        for document in did_documents:
            self.add(document)

    def add(self, did_document: Mapping[str, Any]) -> None:
        self._documents[did_document["id"]] = did_document

    def __call__(self, verification_method: str) -> VerificationMethod:
        did, _, fragment = verification_method.partition("#")
        if did.startswith("did:key:") and self.allow_did_key:
            return resolve_did_key(verification_method)
        document = self._documents.get(did)
        if document is None:
            raise UnresolvableKey(f"no DID document known for {did!r}")
        assertion = [_absolute(did, entry) for entry in document.get("assertionMethod", [])]
        if verification_method not in assertion:
            raise UnresolvableKey(f"{verification_method!r} is not an assertionMethod of {did!r}")
        for method in document.get("verificationMethod", []):
            if _absolute(did, method) == verification_method:
                if method.get("type") != "Multikey" or "publicKeyMultibase" not in method:
                    raise UnresolvableKey(f"{verification_method!r} is not an Ed25519 Multikey")
                if method.get("controller") != did:
                    raise UnresolvableKey(f"{verification_method!r} is not controlled by {did!r}")
                return VerificationMethod(
                    id=verification_method,
                    controller=did,
                    public_key=public_key_from_multibase(method["publicKeyMultibase"]),
                )
        raise UnresolvableKey(f"{verification_method!r} is not in the DID document of {did!r}")


def _absolute(did: str, entry: str | Mapping[str, Any]) -> str:
    identifier = entry if isinstance(entry, str) else entry.get("id", "")
    return did + identifier if identifier.startswith("#") else identifier
