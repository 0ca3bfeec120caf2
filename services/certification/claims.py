"""What a credential says about itself, read in one place.

Verification shows these to people, so every read of the credential's JSON shape is here: when the shape changes
(Open Badges properties, ELM terms), only this module follows. Nothing here is checked or trusted: these are the
document's own claims, whatever its signature turns out to be. Missing or malformed parts read as None or empty.
"""

from collections.abc import Mapping
from typing import Any

from services.certification import status_lists


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """A JSON-LD property that may hold one object or a list of them."""
    values = [value] if isinstance(value, Mapping) else value if isinstance(value, list) else []
    return [item for item in values if isinstance(item, Mapping)]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def issuer_id(credential: Mapping[str, Any]) -> str | None:
    """The issuer's identifier (a DID): `issuer` is a Profile object or the identifier itself."""
    issuer = credential.get("issuer")
    return _text(issuer) if isinstance(issuer, str) else _text(_object(issuer).get("id"))


def issuer_name(credential: Mapping[str, Any]) -> str | None:
    """The name the issuer gives itself in the document (anyone can write any name here)."""
    return _text(_object(credential.get("issuer")).get("name"))


def learner_name(credential: Mapping[str, Any]) -> str | None:
    """The learner's name: the subject's plain (unhashed) `name` identifier."""
    for entry in _objects(_object(credential.get("credentialSubject")).get("identifier")):
        if entry.get("identityType") == "name" and not entry.get("hashed"):
            return _text(entry.get("identityHash"))
    return None


def achievement_title(credential: Mapping[str, Any]) -> str | None:
    achievement = _object(_object(credential.get("credentialSubject")).get("achievement"))
    return _text(achievement.get("name")) or _text(credential.get("name"))


def issued_on(credential: Mapping[str, Any]) -> str | None:
    """The day it was issued (`validFrom`, YYYY-MM-DD)."""
    valid_from = _text(credential.get("validFrom"))
    return valid_from[:10] if valid_from else None


def endorsements(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The embedded EndorsementCredentials (each one a credential: read its issuer with `issuer_id`/`issuer_name`)."""
    return _objects(credential.get("endorsement"))


def signing_dids(credential: Mapping[str, Any]) -> list[str]:
    """The DIDs whose keys its proofs and its endorsements' proofs name (`verificationMethod` before '#'), each once,
    in the order they appear: the DID documents a verifier needs."""
    dids: list[str] = []
    for document in (credential, *endorsements(credential)):
        for proof in _objects(document.get("proof")):
            method = _text(proof.get("verificationMethod"))
            did = method.partition("#")[0] if method else None
            if did and did not in dids:
                dids.append(did)
    return dids


def status_entries(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The `credentialStatus` entries (one object or a list), with the suspension entry a credential of this platform
    implies at its revocation entry's index (status_lists.with_implied_suspension)."""
    return status_lists.with_implied_suspension(_objects(credential.get("credentialStatus")))


# --- what stacking reads of a presented part (services/certification/presented_parts.py) ---


def types(document: Mapping[str, Any]) -> list[str]:
    value = document.get("type")
    return [value] if isinstance(value, str) else [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def achievement_id(credential: Mapping[str, Any]) -> str | None:
    """The IRI of what it awards (this platform's: `urn:microcredentials:course:<id>:v<version>`)."""
    return _text(_object(_object(credential.get("credentialSubject")).get("achievement")).get("id"))


def credits(credential: Mapping[str, Any]) -> float | None:
    """The ECTS credits earned (`creditsEarned`), else those the achievement makes available."""
    subject = _object(credential.get("credentialSubject"))
    for value in (subject.get("creditsEarned"), _object(subject.get("achievement")).get("creditsAvailable")):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def subject_identifiers(credential: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The learner's IdentityObjects (name, hashed e-mail address, system id, European Student Identifier)."""
    return _objects(_object(credential.get("credentialSubject")).get("identifier"))


def alignments(credential: Mapping[str, Any], target_type: str) -> list[Mapping[str, Any]]:
    """The achievement's alignments of one `targetType` (an Annex I element, e.g. `ext:LearningOutcome`)."""
    achievement = _object(_object(credential.get("credentialSubject")).get("achievement"))
    return [item for item in _objects(achievement.get("alignment")) if item.get("targetType") == target_type]


def result_value(credential: Mapping[str, Any]) -> str | None:
    """The grade achieved (the first result's value)."""
    results = _objects(_object(credential.get("credentialSubject")).get("result"))
    return _text(results[0].get("value")) if results else None
