"""Verifying a credential for anyone (an employer, an admissions office), with the answer in plain words.

`verdict(...)` is the plain rule: from the signature check, the endorsements' checks and the status bits, say who
issued what to whom, and whether it is valid, revoked, suspended, tampered with, or cannot be checked here.
`check(...)` gathers those facts: the proof with `vc.proof.verify` (this node's did:web keys, resolved locally, and
did:key), endorsements with `vc.endorsement.verify_joint`, and the status from this node's own status lists.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.certification import status_lists
from services.certification.status_lists import InvalidStatusList
from services.certification.vc.endorsement import verify_joint
from services.certification.vc.keys import KeyResolver
from services.certification.vc.proof import VerificationResult, verify


class Outcome(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    TAMPERED = "tampered"
    # No proof at all: a claim anyone could have written.
    UNSIGNED = "unsigned"
    # Signed by a key this node does not know, expired, or not yet valid.
    NOT_VERIFIABLE = "not-verifiable"
    NOT_VALID_NOW = "not-valid-now"


@dataclass(frozen=True)
class StatusCheck:
    """What the credential's status entries say: None when a list could not be checked (another node's list)."""

    revoked: bool | None = False
    suspended: bool | None = False
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    valid: bool
    summary: str
    issuer: str | None
    learner: str | None
    achievement: str | None
    issued_on: str | None
    endorsed_by: list[str]
    details: list[str]


def _described(document: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    issuer = document.get("issuer")
    issuer_name = issuer.get("name") or issuer.get("id") if isinstance(issuer, Mapping) else issuer
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    identifiers = subject.get("identifier") if isinstance(subject.get("identifier"), list) else []
    learner = next(
        (
            entry.get("identityHash")
            for entry in identifiers
            if isinstance(entry, Mapping) and entry.get("identityType") == "name" and not entry.get("hashed")
        ),
        None,
    )
    achievement = subject.get("achievement")
    title = achievement.get("name") if isinstance(achievement, Mapping) else document.get("name")
    valid_from = document.get("validFrom")
    return issuer_name, learner, title, valid_from[:10] if isinstance(valid_from, str) else None


def _endorsers(document: Mapping[str, Any]) -> list[str]:
    endorsements = document.get("endorsement", [])
    endorsements = [endorsements] if isinstance(endorsements, Mapping) else endorsements
    names = []
    for endorsement in endorsements if isinstance(endorsements, list) else []:
        issuer = endorsement.get("issuer") if isinstance(endorsement, Mapping) else None
        if isinstance(issuer, Mapping):
            names.append(str(issuer.get("name") or issuer.get("id")))
    return names


def _signature_outcome(problems: list[str]) -> Outcome:
    if any(problem.endswith("the document has no proof") for problem in problems):
        return Outcome.UNSIGNED
    if any("cannot resolve" in problem or "unknown verification method" in problem for problem in problems):
        return Outcome.NOT_VERIFIABLE
    if all("expired" in problem or "not valid before" in problem for problem in problems):
        return Outcome.NOT_VALID_NOW
    return Outcome.TAMPERED


def verdict(document: Mapping[str, Any], proofs: VerificationResult, status: StatusCheck) -> Verdict:
    """The plain-words answer. `proofs`: the issuer's proof and every endorsement's (verify_joint)."""
    issuer, learner, title, issued_on = _described(document)
    who = f"{issuer or 'an unnamed issuer'} issued this credential to {learner or 'an unnamed learner'}"
    what = f" for “{title}”" if title else ""
    when = f" on {issued_on}" if issued_on else ""
    facts = f"{who}{what}{when}"
    endorsed_by = _endorsers(document) if proofs.verified else []
    details = list(proofs.problems) + list(status.problems)
    if not proofs.verified:
        outcome = _signature_outcome(proofs.problems)
        summary = {
            Outcome.TAMPERED: "NOT VALID — this credential was changed after it was signed, or its signature is "
            f"not genuine. It claims that {facts}. Do not rely on it.",
            Outcome.NOT_VERIFIABLE: "CANNOT BE CHECKED HERE — it was signed with a key this node does not know. "
            f"It claims that {facts}. Verify it at the issuing university's node.",
            Outcome.NOT_VALID_NOW: f"NOT VALID NOW — {facts}, but it is outside its period of validity.",
            Outcome.UNSIGNED: f"NOT VALID — this is not a signed credential; anyone could have written it. "
            f"It claims that {facts}.",
        }[outcome]
    elif status.revoked:
        outcome, summary = Outcome.REVOKED, f"REVOKED — {facts}, but has revoked it. It is no longer valid."
    elif status.suspended:
        outcome = Outcome.SUSPENDED
        summary = f"SUSPENDED — {facts}, but it is suspended for now. It is not valid until it is reinstated."
    else:
        outcome = Outcome.VALID
        endorsement = f" Endorsed by {', '.join(endorsed_by)}." if endorsed_by else ""
        unchecked = (
            " Its revocation status could not be checked here."
            if status.revoked is None or status.suspended is None
            else " It has not been revoked or suspended."
        )
        summary = f"VALID — {facts}. The signature is genuine and the credential is unchanged."
        summary += unchecked + endorsement
    return Verdict(
        outcome=outcome,
        valid=outcome is Outcome.VALID,
        summary=summary,
        issuer=issuer,
        learner=learner,
        achievement=title,
        issued_on=issued_on,
        endorsed_by=endorsed_by,
        details=details,
    )


# Fetches a status list credential this node publishes by its URL; None when the URL is not one of this node's lists.
StatusListSource = Callable[[str], Awaitable[dict[str, Any] | None]]


async def check_status(document: Mapping[str, Any], own_list: StatusListSource, resolver: KeyResolver) -> StatusCheck:
    entries = document.get("credentialStatus", [])
    entries = [entries] if isinstance(entries, Mapping) else entries
    entries = status_lists.with_implied_suspension(entries) if isinstance(entries, list) else entries
    found: dict[str, bool | None] = {}
    problems = []
    for entry in entries if isinstance(entries, list) else []:
        purpose = entry.get("statusPurpose") if isinstance(entry, Mapping) else None
        url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
        if purpose not in ("revocation", "suspension") or not isinstance(url, str):
            continue
        status_list = await own_list(url)
        if status_list is None:
            found[purpose] = None
            problems.append(f"the {purpose} list {url} is not published by this node; it was not checked")
            continue
        listed = verify(status_list, resolver)
        try:
            if not listed.verified:
                raise InvalidStatusList("; ".join(listed.problems))
            found[purpose] = status_lists.entry_bit(status_list, dict(entry))
        except (InvalidStatusList, IndexError) as error:
            found[purpose] = None
            problems.append(f"the {purpose} list {url} cannot be read: {error}")
    return StatusCheck(found.get("revocation", False), found.get("suspension", False), problems)


async def check(document: Mapping[str, Any], resolver: KeyResolver, own_list: StatusListSource) -> Verdict:
    proofs = verify_joint(document, resolver)
    status = await check_status(document, own_list, resolver) if proofs.verified else StatusCheck()
    return verdict(document, proofs, status)
