"""Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite (W3C "Data Integrity EdDSA Cryptosuites v1.0").

Signing, as the cryptosuite specifies:
1. proof configuration = {type: DataIntegrityProof, cryptosuite: eddsa-rdfc-2022, created, verificationMethod,
   proofPurpose: assertionMethod} with the document's `@context`;
2. both the configuration and the document without `proof` are canonicalized with RDFC-1.0 (pyld's URDNA2015,
   N-Quads), after JSON-LD expansion with the bundled contexts only;
3. hash data = SHA-256(canonical configuration) || SHA-256(canonical document) (64 bytes);
4. the Ed25519 signature of the hash data, multibase base58-btc (`z...`), is the `proofValue`.

Verification redoes 1-3 from the received proof and checks the signature, that the key is controlled by the issuer,
and the validity period. Like Digital Bazaar's libraries in "safe mode", a document with a property that its contexts
do not define (which JSON-LD would silently drop, so the signature would not cover it) is refused, as is a
relative IRI or one with white space (which RDF conversion would drop).
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import base58
from cachetools import LRUCache
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from frozendict import frozendict
from pyld import ContextResolver, jsonld

from services.certification.vc import quads, rdfc
from services.certification.vc.contexts import VC_V2, UnknownContext, bundled_contexts, document_loader
from services.certification.vc.keys import UnresolvableKey, VerificationMethod

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_PURPOSE = "assertionMethod"

KeyResolverFunction = Callable[[str], VerificationMethod | Ed25519PublicKey | None]


class CanonicalizationError(ValueError):
    """The document cannot be canonicalized safely (unknown context, undefined term, relative IRI, bad JSON-LD)."""


@dataclass
class VerificationResult:
    verified: bool
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.verified


# Canonicalization.


def canonicalize(document: Mapping[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, using the bundled contexts only.

    Raises `CanonicalizationError` when a property would be dropped by JSON-LD expansion (not defined by the
    contexts), when an identifier is a relative IRI, or when a context is not bundled.

    Documents that name only bundled contexts and use the JSON-LD the node's credentials use (every credential,
    endorsement, status list and proof configuration the node makes) take the fast path, `quads.py` + `rdfc.py`,
    several times cheaper than pyld and byte for byte the same; anything else, and every bad document, goes through
    pyld (`canonicalize_with_pyld`).
    """
    canonical = canonicalize_fast(document)
    return canonical if canonical is not None else canonicalize_with_pyld(document)


def canonicalize_fast(document: Mapping[str, Any]) -> str | None:
    """`canonicalize` by the fast path alone; None for a document outside it (then use pyld)."""
    try:
        return rdfc.canonical_nquads(quads.document_quads(document, _process_context))
    except quads.Unsupported:
        return None


def canonicalize_with_pyld(document: Mapping[str, Any]) -> str:
    """`canonicalize` by pyld's JSON-LD processor alone (what the fast path is compared with)."""
    dropped: list[str] = []
    processor = _Processor(on_property_dropped=lambda prop: dropped.append(str(prop)))
    try:
        # base None: a relative IRI stays relative (and is refused below), as in jsonld.js; pyld would otherwise
        # resolve it against its own placeholder base and sign something other verifiers never see.
        canonical = processor.normalize(
            dict(document), _options(base=None, algorithm="URDNA2015", format="application/n-quads")
        )
    except jsonld.JsonLdError as error:
        raise CanonicalizationError(_describe(error)) from error
    if dropped:
        names = sorted({name for name in dropped if name != "None"} | _undefined_keys(document))
        raise CanonicalizationError(
            "properties not defined by the document's contexts (they would not be signed): "
            + (", ".join(names) or "unnamed")
        )
    relative = sorted(set(_relative_iris(processor.expanded)))
    if relative:
        raise CanonicalizationError(
            "relative IRIs, or IRIs with spaces (they would not be signed): " + ", ".join(repr(iri) for iri in relative)
        )
    return canonical


def _process_context(active_context: Any, local_context: Any, override_protected: bool, propagate: bool) -> Any:
    """pyld's context processing, as `canonicalize_with_pyld` does it, for the fast path's frames."""
    return _Processor()._process_context(
        active_context, local_context, _options(base=None), override_protected, propagate
    )


# Contexts resolved by pyld, cached in our own cache rather than pyld's process-wide one, so that nothing else in the
# process using pyld with another document loader can put a different document behind one of our context URLs.
_CONTEXT_CACHE: LRUCache = LRUCache(maxsize=256)
# Active contexts processed by `_Processor`, by (active context, local context, flags): see there.
_PROCESSED_CONTEXTS: LRUCache = LRUCache(maxsize=4096)


class _Processor(jsonld.JsonLdProcessor):
    """pyld's processor with two savings that leave its output unchanged (a test compares them):

    - pyld caches a processed context per active context, but a type-scoped context (Open Badges defines one for
      each of its types) is applied to a fresh copy each time, so the cache never hits and half of a credential's
      canonicalization went into processing the same contexts again. Here a result is cached by the identity of the
      active context (pyld's `_uuid` of an immutable, processed context), the local context and the flags, which
      is everything the result depends on with one document loader.
    - `normalize` expands the document itself; it is kept (`expanded`) for the checks, instead of expanding twice.
    """

    expanded: Any = None

    def expand(self, input_: Any, options: dict[str, Any]) -> Any:
        self.expanded = super().expand(input_, options)
        return self.expanded

    def _process_context(  # type: ignore[override]
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: dict[str, Any],
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        flags = (override_protected, propagate, validate_scoped)
        if not isinstance(active_ctx, frozendict) or "_uuid" not in active_ctx:
            return super()._process_context(active_ctx, local_ctx, options, *flags, cycles)
        key = (active_ctx["_uuid"], json.dumps(local_ctx, sort_keys=True), flags, options.get("base"))
        processed = _PROCESSED_CONTEXTS.get(key)
        if processed is None:
            processed = super()._process_context(active_ctx, local_ctx, options, *flags, cycles)
            if isinstance(processed, frozendict):  # pyld's finished contexts are frozen; others may still change
                _PROCESSED_CONTEXTS[key] = processed
        return processed


def _options(**options: Any) -> dict[str, Any]:
    return {
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(_CONTEXT_CACHE, document_loader),
        **options,
    }


def hash_data(document: Mapping[str, Any], proof_config: Mapping[str, Any]) -> bytes:
    """SHA-256(canonical proof configuration) || SHA-256(canonical document): the 64 bytes that are signed."""
    config_hash = _proof_config_hash(json.dumps(proof_config, sort_keys=True, ensure_ascii=False))
    document_hash = hashlib.sha256(canonicalize(document).encode("utf-8")).digest()
    return config_hash + document_hash


@lru_cache(maxsize=1024)
def _proof_config_hash(proof_config_json: str) -> bytes:
    """The proof configuration's hash, cached: a node signs with one key, so every credential signed within the same
    second has the same configuration (about a fifth of the canonicalization time of a credential)."""
    return hashlib.sha256(canonicalize(json.loads(proof_config_json)).encode("utf-8")).digest()


# Signing.


def sign(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime | None = None,
    *,
    copy: bool = True,
) -> dict[str, Any]:
    """A copy of `document` with an `eddsa-rdfc-2022` DataIntegrityProof by `private_key` (assertionMethod), as the
    one element of its `proof` list. `copy=False` when the caller hands the document over (a signing worker's, parsed
    for this signature and used for nothing else): the result then shares its parts, saving a walk of the document
    (a seventh of a credential's signing).

    `verification_method` names the key: `did:key:z6Mk...#z6Mk...` or `did:web:<node>#key-1`; it must be controlled
    by the document's issuer for verifiers to accept it. `created` defaults to now (UTC, to the second).
    """
    if "proof" in document:
        raise ValueError("the document already has a proof; sign the unsecured document")
    if _read_differently_somewhere(document):
        risky = control_characters(document)
        if risky:
            raise ValueError(
                "refusing to sign: control characters at " + ", ".join(risky) + " are canonicalized differently by "
                "pyld and by RDFC-1.0 implementations such as jsonld.js, so other verifiers would reject the signature"
            )
        raise ValueError(
            "refusing to sign: the numbers at " + ", ".join(numbers_written_differently(document)) + " are written "
            "differently into N-Quads by pyld and by jsonld.js, so other verifiers would reject the signature"
        )
    unsecured = _copy(document) if copy else document
    if "@context" not in unsecured:
        raise ValueError("the document has no @context")
    proof = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _xsd_datetime(created or datetime.now(UTC)),
        "verificationMethod": verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    signature = private_key.sign(hash_data(unsecured, {"@context": unsecured["@context"], **proof}))
    proof["proofValue"] = "z" + base58.b58encode(signature).decode("ascii")
    # A list of one: Open Badges 3.0's JSON Schemas require `proof` to be an array (Data Integrity allows either).
    return {**unsecured, "proof": [proof]}


# Verifying.


def verify(
    document: Mapping[str, Any], resolve_key: KeyResolverFunction, now: datetime | None = None
) -> VerificationResult:
    """Verify the document's `eddsa-rdfc-2022` proof; `problems` says why when it does not verify.

    `resolve_key(verification_method)` returns a `keys.VerificationMethod` (use `keys.KeyResolver()`), a bare
    Ed25519 public key (then the DID before '#' is taken as its controller), or None / raises `UnresolvableKey` when
    the method is unknown. The key must be controlled by the document's `issuer`.
    """
    problems: list[str] = []
    proof = document.get("proof")
    if proof is None:
        return VerificationResult(False, ["the document has no proof"])
    if isinstance(proof, list):
        if len(proof) != 1:
            return VerificationResult(False, [f"expected exactly one proof, found {len(proof)}"])
        proof = proof[0]
    if not isinstance(proof, Mapping):
        return VerificationResult(False, ["the proof is not an object"])

    context = document.get("@context")
    first_context = context[0] if isinstance(context, list) and context else context
    if first_context != VC_V2:
        problems.append(f"the first @context must be {VC_V2}")
    if proof.get("type") != PROOF_TYPE:
        problems.append(f"unsupported proof type {proof.get('type')!r} (expected {PROOF_TYPE})")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        problems.append(f"unsupported cryptosuite {proof.get('cryptosuite')!r} (expected {CRYPTOSUITE})")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        problems.append(f"proof purpose is {proof.get('proofPurpose')!r}, credentials need {PROOF_PURPOSE}")
    if "created" in proof and _parse_datetime(proof["created"]) is None:
        problems.append(f"proof 'created' is not an XML Schema dateTime: {proof['created']!r}")

    signature = _decode_proof_value(proof.get("proofValue"), problems)
    method = _resolve(proof.get("verificationMethod"), resolve_key, problems)

    if method is not None:
        issuer = document.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        if issuer_id != method.controller:
            problems.append(
                f"the proof's key {method.id!r} is controlled by {method.controller!r}, not by the issuer {issuer_id!r}"
            )

    problems.extend(_validity_problems(document, now or datetime.now(UTC)))

    if signature is not None and method is not None:
        unsecured = {key: value for key, value in document.items() if key != "proof"}
        proof_config = {key: value for key, value in proof.items() if key != "proofValue"}
        proof_config["@context"] = document.get("@context")
        try:
            data = hash_data(unsecured, proof_config)
        except CanonicalizationError as error:
            problems.append(f"cannot canonicalize the document: {error}")
        else:
            try:
                method.public_key.verify(signature, data)
            except InvalidSignature:
                problems.append(
                    "the signature does not match: the credential or its proof was changed after signing "
                    f"(or it was not signed by {method.id})"
                )
    if problems and control_characters(document):
        problems.append(
            "the document contains control characters (U+0000-U+001F other than tab, LF, CR, or U+007F) that pyld "
            "canonicalizes differently from RDFC-1.0: a signature made by another implementation cannot be checked here"
        )
    return VerificationResult(not problems, problems)


# Characters that pyld 3.3 writes raw into N-Quads while RDFC-1.0 (RDF 1.2 canonical N-Quads, as in jsonld.js'
# rdf-canonize) escapes them: documents containing them are not interoperable, so they are never signed.
_RISKY_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_characters(node: Any, path: str = "$") -> list[str]:
    """JSON paths of the strings (keys or values) holding characters that pyld and RDFC-1.0 serialize differently."""
    found = []
    if isinstance(node, str):
        if _RISKY_CHARACTERS.search(node):
            found.append(path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(control_characters(item, f"{path}[{index}]"))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            if _RISKY_CHARACTERS.search(key):
                found.append(f"{path} (key {key!r})")
            found.extend(control_characters(value, f"{path}.{key}"))
    return found


def number_written_differently(value: Any) -> bool:
    """Whether JSON-LD processors disagree on how a JSON number goes into N-Quads, so that a signature over it
    verifies in some and not in others: beyond 2^53 (JavaScript reads another number), a fraction below 10^-6
    (jsonld.js takes `1e-7` for an integer, "0"), or a fraction whose 16-digit rounding is a tie (pyld rounds it to
    even, JavaScript up)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int) or value.is_integer():
        return abs(value) > 2**53
    if value != value or abs(value) == float("inf") or abs(value) < 1e-6:
        return True
    digits = Decimal(value).normalize().as_tuple().digits  # the binary value's exact decimal digits
    return len(digits) == 17 and digits[-1] == 5


def numbers_written_differently(node: Any, path: str = "$") -> list[str]:
    """JSON paths of the numbers that `number_written_differently`."""
    found = []
    if isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(numbers_written_differently(item, f"{path}[{index}]"))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            found.extend(numbers_written_differently(value, f"{path}.{key}"))
    elif number_written_differently(node):
        found.append(path)
    return found


def _read_differently_somewhere(node: Any) -> bool:
    """Whether `control_characters` or `numbers_written_differently` would find anything (without building every
    JSON path: the common case). Concrete types first: an isinstance check against `Mapping` is slow."""
    if isinstance(node, str):
        return _RISKY_CHARACTERS.search(node) is not None
    if isinstance(node, list):
        for item in node:
            if _read_differently_somewhere(item):
                return True
        return False
    if isinstance(node, dict) or isinstance(node, Mapping):
        for key, value in node.items():
            if _RISKY_CHARACTERS.search(key) is not None or _read_differently_somewhere(value):
                return True
        return False
    return number_written_differently(node)


def _copy(node: Any) -> Any:
    """A deep copy of JSON data (objects and arrays copied, the rest immutable), several times cheaper than
    `copy.deepcopy`."""
    if isinstance(node, dict) or isinstance(node, Mapping):
        return {key: _copy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copy(item) for item in node]
    return node


# Helpers.


def _decode_proof_value(value: Any, problems: list[str]) -> bytes | None:
    if not isinstance(value, str) or not value.startswith("z"):
        problems.append("proofValue is missing or not multibase base58-btc (it must start with 'z')")
        return None
    try:
        signature = base58.b58decode(value[1:])
    except ValueError:
        problems.append("proofValue is not valid base58-btc (the proofValue was altered or corrupted)")
        return None
    if len(signature) != 64:
        problems.append(f"proofValue decodes to {len(signature)} bytes, an Ed25519 signature has 64 (it was altered)")
        return None
    return signature


def _resolve(
    verification_method: Any, resolve_key: KeyResolverFunction, problems: list[str]
) -> VerificationMethod | None:
    if not isinstance(verification_method, str) or not verification_method:
        problems.append("the proof names no verificationMethod")
        return None
    try:
        resolved = resolve_key(verification_method)
    except UnresolvableKey as error:
        problems.append(f"cannot resolve the verification method: {error}")
        return None
    if resolved is None:
        problems.append(f"unknown verification method {verification_method!r}")
        return None
    if isinstance(resolved, Ed25519PublicKey):
        return VerificationMethod(verification_method, verification_method.partition("#")[0], resolved)
    return resolved


def _validity_problems(document: Mapping[str, Any], now: datetime) -> list[str]:
    problems = []
    for name in ("validFrom", "validUntil"):
        if name in document and _parse_datetime(document[name]) is None:
            problems.append(f"{name} is not an XML Schema dateTime: {document[name]!r}")
    valid_from = _parse_datetime(document.get("validFrom"))
    valid_until = _parse_datetime(document.get("validUntil"))
    if valid_from is not None and valid_from > now:
        problems.append(f"the credential is not valid before {document['validFrom']}")
    if valid_until is not None and valid_until < now:
        problems.append(f"the credential expired at {document['validUntil']}")
    return problems


def _xsd_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _relative_iris(node: Any) -> list[str]:
    """Identifiers in expanded JSON-LD that are neither absolute IRIs nor blank nodes."""
    found = []
    if isinstance(node, list):
        for item in node:
            found.extend(_relative_iris(item))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@id" and isinstance(value, str) and not _absolute_or_blank(value):
                found.append(value)
            elif key == "@type" and "@value" not in node:
                found.extend(v for v in ([value] if isinstance(value, str) else value) if not _absolute_or_blank(v))
            elif key == "@value":
                continue
            else:
                found.extend(_relative_iris(value))
    return found


def _undefined_keys(document: Mapping[str, Any]) -> set[str]:
    """Best-effort names for an error message: keys no bundled context defines, or that an inline context nulls."""
    defined: set[str] = set()
    nulled: set[str] = set()

    def learn(context: Any) -> None:
        if isinstance(context, list):
            for item in context:
                learn(item)
        elif isinstance(context, str):
            learn(bundled_contexts().get(context, {}).get("@context"))
        elif isinstance(context, Mapping):
            for term, definition in context.items():
                (nulled if definition is None else defined).add(term)
                if isinstance(definition, Mapping) and "@context" in definition:
                    learn(definition["@context"])

    def walk(node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, list):
            for item in node:
                found |= walk(item)
        elif isinstance(node, Mapping):
            if "@context" in node:
                learn(node["@context"])
            for key, value in node.items():
                if key == "@context":
                    continue
                if key in nulled or (key not in defined and ":" not in key and not key.startswith("@")):
                    found.add(key)
                found |= walk(value)
        return found

    return walk(document)


def _absolute_or_blank(iri: str) -> bool:
    return iri.startswith("_:") or quads.ABSOLUTE_IRI.match(iri) is not None


def _describe(error: BaseException) -> str:
    """The most useful message in a pyld error chain (an unknown context is named as such)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UnknownContext):
            return str(seen)
        details = getattr(seen, "details", None)
        if isinstance(details, dict):
            for value in details.values():
                if isinstance(value, UnknownContext):
                    return str(value)
        seen = seen.__cause__ or seen.__context__
    return str(error)
