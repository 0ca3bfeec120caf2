"""Joint credentials: the lead awarding university issues and signs; each co-awarding university endorses.

Standard verifiers (Digital Bazaar's, the Digital Credentials Consortium's) accept a credential's proof only from a
key its `issuer` controls, so partners do not add second proofs to the credential. Each partner instead signs an
Open Badges 3.0 `EndorsementCredential` whose subject is the credential (`credentialSubject.id` = the credential's
`id`); the endorsements go into the credential's `endorsement` list *before* the lead university signs, so its proof
covers them too. Order of work:

    unsigned = json.loads(open_badge_credential_json(record, credential_id, lead, issued_at))
    endorsements = [endorsement_credential(credential_id, partner, "...", ...) for partner in partners]
    signed = sign(with_endorsements(unsigned, endorsements), lead_key, lead_method)
    verify_joint(signed, resolver)   # issuer's proof and every endorsement's proof, each naming this credential
"""

import copy
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification.vc.contexts import OB_V3, VC_V2
from services.certification.vc.credential import IssuerProfile, without_control_characters
from services.certification.vc.proof import KeyResolverFunction, VerificationResult, sign, verify


def endorsement_credential(
    endorsed_credential_id: str,
    endorser_profile: IssuerProfile,
    comment: str,
    *,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    issued_at: datetime | None = None,
    endorsement_id: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A signed OB 3.0 EndorsementCredential by `endorser_profile` (a co-awarding university) of the credential
    `endorsed_credential_id`. `verification_method` must be a key of `endorser_profile.id` (its DID)."""
    issued_at = issued_at or datetime.now(UTC)
    unsigned = {
        "@context": [VC_V2, OB_V3],
        "id": endorsement_id or f"urn:uuid:{uuid.uuid4()}",
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "name": name or f"Endorsement by {endorser_profile.name}",
        "issuer": endorser_profile.as_profile(),
        "validFrom": issued_at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "id": endorsed_credential_id,
            "type": ["EndorsementSubject"],
            "endorsementComment": comment,
        },
    }
    # The texts come from course and institution names: cleaned as the credential's are, or `sign` would refuse them.
    return sign(without_control_characters(unsigned), private_key, verification_method, created=issued_at)


def with_endorsements(credential: Mapping[str, Any], endorsements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of the (still unsigned) credential with the endorsements added to its `endorsement` list."""
    if "proof" in credential:
        raise ValueError("add endorsements before the issuer signs: its proof must cover them")
    joint = copy.deepcopy(dict(credential))
    joint.setdefault("endorsement", []).extend(copy.deepcopy(dict(endorsement)) for endorsement in endorsements)
    return joint


def verify_joint(
    credential: Mapping[str, Any],
    resolve_key: KeyResolverFunction,
    now: datetime | None = None,
    required_endorsers: Sequence[str] = (),
) -> VerificationResult:
    """Valid only if the issuer's proof verifies AND every endorsement's proof verifies AND each endorsement is an
    EndorsementCredential whose subject is this credential. `required_endorsers` (DIDs, e.g. the co-awarding
    universities') must each have endorsed it."""
    result = verify(credential, resolve_key, now)
    problems = [f"issuer's proof: {problem}" for problem in result.problems]
    endorsements = credential.get("endorsement", [])
    if isinstance(endorsements, Mapping):
        endorsements = [endorsements]
    endorsers = set()
    for index, endorsement in enumerate(endorsements, start=1):
        label = f"endorsement {index}"
        if not isinstance(endorsement, Mapping):
            problems.append(f"{label}: not an embedded credential (an EndorsementCredential object is required)")
            continue
        issuer = endorsement.get("issuer")
        endorser = issuer.get("id") if isinstance(issuer, Mapping) else issuer
        label = f"endorsement {index} by {endorser}"
        if "EndorsementCredential" not in endorsement.get("type", []):
            problems.append(f"{label}: is not an EndorsementCredential")
        subject = endorsement.get("credentialSubject", {})
        subject_id = subject.get("id") if isinstance(subject, Mapping) else None
        if subject_id != credential.get("id"):
            problems.append(f"{label}: endorses {subject_id!r}, not this credential {credential.get('id')!r}")
        endorsed = verify(endorsement, resolve_key, now)
        problems.extend(f"{label}: {problem}" for problem in endorsed.problems)
        if endorsed.verified and subject_id == credential.get("id"):
            endorsers.add(endorser)
    for required in required_endorsers:
        if required not in endorsers:
            problems.append(f"no valid endorsement by {required}")
    return VerificationResult(not problems, problems)
