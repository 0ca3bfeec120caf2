"""The secretariat's signature on the registry, and a node's check of it (no I/O here but reading key files).

The signature is a JWS (RFC 7515) with detached content (its Appendix F), kept beside the document as
`<registry>.jws`: `BASE64URL(header)..BASE64URL(signature)`, computed over the document's exact bytes. Nothing is
re-serialized before checking, so whitespace, key order or number formatting can never make a good document fail or
a changed one pass; any JOSE library verifies it by putting `BASE64URL(file bytes)` back between the dots.

Header: `alg` Ed25519 (RFC 9864's name for EdDSA on Ed25519), `kid` the RFC 7638 thumbprint of the alliance key,
`typ` naming what is signed, so a signature the alliance key makes for anything else is never taken for a registry.
"""

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from joserfc import jws
from joserfc.errors import BadSignatureError, DecodeError, JoseError
from joserfc.jwk import KeySet, OKPKey
from pydantic import ValidationError

from shared.alliance.models import AllianceRegistry

ALGORITHM = "Ed25519"
SIGNATURE_TYPE = "mc-alliance-registry+jws"
SIGNATURE_SUFFIX = ".jws"


class RegistryRefused(Exception):
    """A registry a node will not use, and why. `reason` is a short label for metrics (signature, unknown-key,
    schema, expired, rollback, unavailable); the message names the problem for a person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# Keys.


def load_private_key(path: str | Path) -> OKPKey:
    key = OKPKey.import_key(Path(path).read_bytes())
    if not key.is_private or key.curve_name != "Ed25519":
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_trusted_keys(path: str | Path) -> dict[str, OKPKey]:
    """The alliance's public key(s) a node pins, by key id: one or more PEM public keys, or a JWK Set (JSON).

    Several keys let the secretariat move to a new key: nodes trust both for a while, then only the new one.
    """
    text = Path(path).read_text()
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        keys = list(KeySet.import_key_set(data if "keys" in data else {"keys": [data]}).keys)
    else:
        end = "-----END PUBLIC KEY-----"
        blocks = [block + end for block in text.split(end) if "-----BEGIN PUBLIC KEY-----" in block]
        keys = [OKPKey.import_key(block.strip().encode()) for block in blocks]
    trusted = {}
    for key in keys:
        if not isinstance(key, OKPKey) or key.curve_name != "Ed25519" or key.is_private:
            raise ValueError(f"{path}: the alliance's keys are Ed25519 public keys")
        trusted[key.thumbprint()] = key
    if not trusted:
        raise ValueError(f"{path} holds no public key")
    return trusted


def key_id(key: OKPKey) -> str:
    return key.thumbprint()


# Signing and checking.


def sign(document: bytes, private_key: OKPKey) -> str:
    """A detached compact JWS over the document's bytes."""
    header = {"alg": ALGORITHM, "kid": key_id(private_key), "typ": SIGNATURE_TYPE}
    return jws.detach_content(jws.serialize_compact(header, document, private_key, algorithms=[ALGORITHM]))


def verify(document: bytes, signature: str | bytes, trusted: Mapping[str, OKPKey], now: datetime) -> AllianceRegistry:
    """The registry the document holds, if the signature is the alliance's and the document is valid and current;
    otherwise RegistryRefused naming the problem."""
    if isinstance(signature, bytes):
        signature = signature.decode("ascii", errors="replace")
    signature = signature.strip()
    header = _header(signature)
    kid = header.get("kid")
    if header.get("typ") != SIGNATURE_TYPE:
        raise RegistryRefused("signature", f"the signature is of type {header.get('typ')!r}, not {SIGNATURE_TYPE!r}")
    if kid not in trusted:
        raise RegistryRefused(
            "unknown-key",
            f"the registry is signed with key {kid!r}, which this node does not trust "
            f"(ALLIANCE_PUBLIC_KEY_FILE holds {', '.join(sorted(trusted))})",
        )
    try:
        jws.deserialize_compact(signature, trusted[kid], algorithms=[ALGORITHM], payload=document)
    except BadSignatureError:
        raise RegistryRefused(
            "signature",
            f"the signature by key {kid} does not match the document (changed after signing, or signed with another key)",
        ) from None
    except JoseError as error:
        raise RegistryRefused("signature", f"the signature cannot be checked: {error}") from None
    registry = parse(document)
    if registry.is_expired(now):
        raise RegistryRefused(
            "expired", f"registry serial {registry.serial} expired at {registry.expires.isoformat()}; the secretariat "
            "must sign it again"
        )
    return registry


def parse(document: bytes) -> AllianceRegistry:
    """The document as a registry, or RegistryRefused listing every rule it breaks, each with where."""
    try:
        return AllianceRegistry.model_validate_json(document)
    except ValidationError as error:
        raise RegistryRefused("schema", "the registry breaks its schema: " + describe(error)) from None


def describe(error: ValidationError) -> str:
    problems = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _header(signature: str) -> dict:
    parts = signature.split(".")
    if len(parts) != 3 or parts[1]:
        raise RegistryRefused("signature", "the signature file is not a detached JWS (header..signature)")
    try:
        # extract_compact needs the payload only to verify; the header is what chooses the key.
        return jws.extract_compact(signature.encode(), payload=b"").headers()
    except (DecodeError, JoseError, ValueError) as error:
        raise RegistryRefused("signature", f"the signature file is not a JWS: {error}") from None
