"""Verifying a credential for anyone (an employer, an admissions office), with the answer in plain words.

`verdict(...)` is the rule: from the proofs' check, the issuer directory and the status bits, say who issued what to
whom, and whether it is valid, signed by an issuer this node does not know, revoked, suspended, tampered with, of a
status that could not be checked, or cannot be checked here. A name is shown as a fact only when it comes from the
directory (trust.py: the node's own institutions and the alliance's members); what the credential says about itself
(claims.py) is shown as a claim. `check(...)` gathers the facts: the DID documents of the keys it names (the node's
own, or fetched from members' nodes: resolver.py), the proofs (checked in worker processes, proof_checks.py) and,
for issuers the node vouches for, the status from the issuer's lists (this node's own, or its node's).
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from services.certification import claims, status_lists
from services.certification.status_lists import InvalidStatusList, StatusPurpose
from services.certification.trust import IssuerDirectory
from services.certification.vc.proof import VerificationResult


class Outcome(StrEnum):
    VALID = "valid"
    # A genuine, unchanged credential, but its issuer is not one this node vouches for: its name is only a claim.
    UNKNOWN_ISSUER = "unknown-issuer"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    TAMPERED = "tampered"
    # No proof at all: a claim anyone could have written.
    UNSIGNED = "unsigned"
    # Signed by a key this node cannot resolve (a DID document it does not hold).
    NOT_VERIFIABLE = "not-verifiable"
    # Expired, or not yet valid.
    NOT_VALID_NOW = "not-valid-now"
    # Genuine, by an issuer this node vouches for, but a status list it names could not be read (its node did not
    # answer, say): whether it was revoked is unknown, so it is not called valid.
    STATUS_UNKNOWN = "status-unknown"


class Status(StrEnum):
    """What the status lists say: `not-checked` when the credential has no status entry, or when a list it names
    could not be read (the outcome is then `status-unknown`)."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    NOT_CHECKED = "not-checked"


HEADINGS = {
    Outcome.VALID: "Valid",
    Outcome.UNKNOWN_ISSUER: "Not confirmed: the issuer is not a university this node knows",
    Outcome.REVOKED: "Revoked",
    Outcome.SUSPENDED: "Suspended",
    Outcome.TAMPERED: "Not valid: changed or not genuine",
    Outcome.UNSIGNED: "Not valid: not signed",
    Outcome.NOT_VERIFIABLE: "Cannot be checked here",
    Outcome.NOT_VALID_NOW: "Not valid now",
    Outcome.STATUS_UNKNOWN: "Not confirmed: its status could not be checked",
}

# How the page colours it: green for valid, amber for what cannot be confirmed, red for what is not valid.
TONES = {
    Outcome.VALID: "valid",
    Outcome.UNKNOWN_ISSUER: "unconfirmed",
    Outcome.NOT_VERIFIABLE: "unconfirmed",
    Outcome.STATUS_UNKNOWN: "unconfirmed",
}


@dataclass(frozen=True)
class StatusCheck:
    """Each status purpose: True (set), False (checked, not set), or None (no entry, or it could not be checked)."""

    revoked: bool | None = None
    suspended: bool | None = None
    # Purposes with an entry whose list could not be read (its node did not answer, a list not signed by the issuer).
    unchecked: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.revoked:
            return Status.REVOKED
        if self.suspended:
            return Status.SUSPENDED
        if self.unchecked or (self.revoked is None and self.suspended is None):
            return Status.NOT_CHECKED
        return Status.ACTIVE


@dataclass(frozen=True)
class IssuerFinding:
    """Who signed it: `name` is confirmed (from the issuer directory) or None; `claimed_name` is what the document
    says; `alliance` names the alliance whose registry lists the issuer as a member."""

    id: str | None
    name: str | None
    claimed_name: str | None
    confirmed: bool
    institution: str | None = None
    country: str | None = None
    alliance: str | None = None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    valid: bool
    heading: str
    tone: str
    summary: str
    issuer: IssuerFinding
    learner: str | None
    achievement: str | None
    issued_on: str | None
    status: Status
    # Endorsers whose endorsement counts (issuers this node vouches for), by their confirmed names.
    endorsed_by: list[str]
    endorsements: list[IssuerFinding]
    details: list[str]


def find_issuer(document: Mapping[str, Any], directory: IssuerDirectory) -> IssuerFinding:
    did, claimed = claims.issuer_id(document), claims.issuer_name(document)
    institution = directory.institution(did)
    return IssuerFinding(
        id=did,
        name=institution.name if institution else None,
        claimed_name=claimed,
        confirmed=directory.trusts(did),
        institution=institution.id if institution else None,
        country=institution.country if institution else None,
        alliance=institution.alliance if institution else None,
    )


def _claimed(name: str | None) -> str:
    return f"“{name}” (not confirmed)" if name else "no name"


def _issuer_phrase(issuer: IssuerFinding) -> str:
    """The issuer as a sentence's subject: its confirmed name (and alliance), else its claimed name marked as a claim."""
    if issuer.name:
        return f"{issuer.name}, a member of {issuer.alliance}," if issuer.alliance else issuer.name
    if issuer.confirmed:  # a did:key trusted for development: nobody stands behind its name
        return f"an issuer trusted for development only (a did:key), calling itself {_claimed(issuer.claimed_name)},"
    return f"an issuer claiming to be {_claimed(issuer.claimed_name)}"


def _what(learner: str | None, title: str | None, issued_on: str | None) -> str:
    what = f" for “{title}”" if title else ""
    when = f" on {issued_on}" if issued_on else ""
    return f"to {learner or 'an unnamed learner'}{what}{when}"


def _status_sentence(status: StatusCheck) -> str:
    if status.revoked is None and status.suspended is None:
        return (
            "Its status was not checked: it carries no status list entry, so nothing here can tell whether it was "
            "revoked."
        )
    clear = [word for word, bit in (("revoked", status.revoked), ("suspended", status.suspended)) if bit is False]
    return f"It has not been {' or '.join(clear)}."


def _unchecked(status: StatusCheck) -> str:
    return " or ".join({"revocation": "revoked", "suspension": "suspended"}[p] for p in status.unchecked)


def _endorsement_sentence(endorsed_by: list[str], unconfirmed: list[IssuerFinding]) -> str:
    sentence = f" Endorsed by {', '.join(endorsed_by)}." if endorsed_by else ""
    if unconfirmed:
        names = ", ".join(_claimed(e.claimed_name) for e in unconfirmed[:3])
        names += f" and {len(unconfirmed) - 3} more" if len(unconfirmed) > 3 else ""
        one = len(unconfirmed) == 1
        sentence += (
            f" It also carries {'an endorsement' if one else 'endorsements'} by {'an issuer' if one else 'issuers'} "
            f"this node does not know, claiming to be {names}: not counted."
        )
    return sentence


def _signature_outcome(proofs: VerificationResult) -> Outcome | None:
    """None when the signatures are genuine and the credential is within its validity period."""
    if proofs.verified:
        return None
    problems = proofs.problems
    if any(problem.endswith("the document has no proof") for problem in problems):
        return Outcome.UNSIGNED
    if any("cannot resolve" in problem or "unknown verification method" in problem for problem in problems):
        return Outcome.NOT_VERIFIABLE
    if all("expired" in problem or "not valid before" in problem for problem in problems):
        return Outcome.NOT_VALID_NOW
    return Outcome.TAMPERED


def status_worth_checking(document: Mapping[str, Any], proofs: VerificationResult, directory: IssuerDirectory) -> bool:
    """Whether the status is worth checking: genuine signatures by an issuer this node vouches for."""
    return _signature_outcome(proofs) is None and directory.trusts(claims.issuer_id(document))


def verdict(
    document: Mapping[str, Any],
    proofs: VerificationResult,
    status: StatusCheck,
    directory: IssuerDirectory,
    unresolved: Sequence[str] = (),
) -> Verdict:
    """The plain-words answer. `proofs`: the issuer's proof and every endorsement's (vc.endorsement.verify_joint);
    `unresolved`: why DID documents it names could not be obtained (resolver.py)."""
    issuer = find_issuer(document, directory)
    learner, title, issued_on = claims.learner_name(document), claims.achievement_title(document), claims.issued_on(document)
    what = _what(learner, title, issued_on)
    signature = _signature_outcome(proofs)
    endorsements = [find_issuer(endorsement, directory) for endorsement in claims.endorsements(document)]
    if signature not in (None, Outcome.NOT_VALID_NOW) or not issuer.confirmed:
        # Endorsements count only inside a genuine credential of a known issuer: anyone can copy a university's
        # endorsement of a credential into their own document with the same id.
        endorsements = [
            replace(e, name=None, confirmed=False, institution=None, country=None, alliance=None) for e in endorsements
        ]
    endorsed_by = [e.name or _claimed(e.claimed_name) for e in endorsements if e.confirmed]
    details = list(unresolved) + list(proofs.problems) + list(status.problems)
    if issuer.id:
        details.append(f"issuer identifier: {issuer.id}")
    # What it says, for the outcomes where nothing of it is confirmed.
    claimed = f"It claims to come from {_claimed(issuer.claimed_name)} and to have been issued {what}."

    if signature in (Outcome.TAMPERED, Outcome.UNSIGNED, Outcome.NOT_VERIFIABLE):
        outcome = signature
        summary = {
            Outcome.TAMPERED: "NOT VALID — this credential was changed after it was signed, or its signature is not "
            f"genuine. {claimed} Do not rely on it.",
            Outcome.UNSIGNED: f"NOT VALID — this is not a signed credential; anyone could have written it. {claimed}",
            Outcome.NOT_VERIFIABLE: "CANNOT BE CHECKED HERE — it was signed with a key this node does not know"
            f"{f' ({unresolved[0]})' if unresolved else ''}. {claimed} Verify it at the issuing university's node.",
        }[signature]
    elif not issuer.confirmed:
        outcome = Outcome.UNKNOWN_ISSUER
        name = (
            f"It claims to come from “{issuer.claimed_name}”; that name is not confirmed."
            if issuer.claimed_name
            else "It names no issuer."
        )
        expired = " It is also outside its period of validity." if signature is Outcome.NOT_VALID_NOW else ""
        summary = (
            "NOT CONFIRMED — the signature is genuine and the credential is unchanged, but it was signed by an issuer "
            f"that is not a university this node knows. {name} It says it was issued {what}.{expired} Do not rely "
            "on it unless you can confirm who signed it."
        )
    else:
        facts = f"{_issuer_phrase(issuer)} issued this credential {what}"
        if signature is Outcome.NOT_VALID_NOW:
            outcome, summary = Outcome.NOT_VALID_NOW, f"NOT VALID NOW — {facts}, but it is outside its period of validity."
        elif status.revoked:
            outcome, summary = Outcome.REVOKED, f"REVOKED — {facts}, but has revoked it. It is no longer valid."
        elif status.suspended:
            outcome = Outcome.SUSPENDED
            summary = f"SUSPENDED — {facts}, but it is suspended for now. It is not valid until it is reinstated."
        elif status.unchecked:
            outcome = Outcome.STATUS_UNKNOWN
            why = f" ({status.problems[0]})" if status.problems else ""
            summary = (
                f"STATUS NOT CONFIRMED — {facts}; the signature is genuine and the credential is unchanged, but whether "
                f"it was {_unchecked(status)} could not be checked{why}. Do not rely on it until its status can be "
                "checked; try again later."
            )
        else:
            outcome = Outcome.VALID
            summary = (
                f"VALID — {facts}. The signature is genuine and the credential is unchanged. "
                f"{_status_sentence(status)}{_endorsement_sentence(endorsed_by, [e for e in endorsements if not e.confirmed])}"
            )
    return Verdict(
        outcome=outcome,
        valid=outcome is Outcome.VALID,
        heading=HEADINGS[outcome],
        tone=TONES.get(outcome, "invalid"),
        summary=summary,
        issuer=issuer,
        learner=learner,
        achievement=title,
        issued_on=issued_on,
        # The lists are read only for genuine signatures of an issuer the node vouches for (`check`).
        status=status.status
        if outcome in (Outcome.VALID, Outcome.REVOKED, Outcome.SUSPENDED, Outcome.STATUS_UNKNOWN)
        else Status.NOT_CHECKED,
        endorsed_by=endorsed_by,
        endorsements=endorsements,
        details=details,
    )


class StatusListUnavailable(Exception):
    """A status list that could not be read; the message says why (it names the list's URL)."""


# The verified status list credential behind a URL (this node's own, or the issuer's node's); raises
# StatusListUnavailable.
StatusListSource = Callable[[str], Awaitable[Mapping[str, Any]]]


async def check_status(document: Mapping[str, Any], status_list: StatusListSource) -> StatusCheck:
    """The credential's revocation and suspension bits, read from the lists its entries name. A list that cannot be
    read leaves its purpose unchecked, with the reason: never "not revoked"."""
    found: dict[str, bool | None] = {}
    unchecked, problems = [], []
    for entry in claims.status_entries(document):
        purpose, url = entry.get("statusPurpose"), entry.get("statusListCredential")
        if purpose not in set(StatusPurpose) or not isinstance(url, str):
            continue
        try:
            found[purpose] = status_lists.entry_bit(dict(await status_list(url)), dict(entry))
        except StatusListUnavailable as error:
            unchecked.append(purpose)
            problems.append(f"the {purpose} list could not be read: {error}")
        except (InvalidStatusList, IndexError) as error:
            unchecked.append(purpose)
            problems.append(f"the {purpose} list {url} cannot be read: {error}")
    return StatusCheck(found.get("revocation"), found.get("suspension"), tuple(unchecked), problems)


# Checks a credential's proofs with these DID documents (ProofChecker.check, off the event loop).
ProofCheck = Callable[[Mapping[str, Any], Iterable[Mapping[str, Any]]], Awaitable[VerificationResult]]
# The DID documents of these DIDs that could be obtained, and why the others could not (MemberResolver.did_documents).
DidDocuments = Callable[[list[str]], Awaitable[tuple[list[dict[str, Any]], list[str]]]]
# DID documents looked up for one credential at most: its issuer and a few co-awarding universities. More would let
# one pasted document send a verifier to as many addresses as it names.
MAX_LOOKED_UP_DIDS = 8


async def check(
    document: Mapping[str, Any],
    directory: IssuerDirectory,
    did_documents: DidDocuments,
    proofs_of: ProofCheck,
    status_of: Callable[[Mapping[str, Any]], Awaitable[StatusCheck]],
) -> Verdict:
    """Obtain the DID documents its proofs need that the node does not hold (did:key needs none), check the proofs
    (`proofs_of`, off the event loop), then, for an issuer this node vouches for, the status."""
    held = directory.did_documents()
    held_dids = {held_document["id"] for held_document in held}
    wanted = [did for did in claims.signing_dids(document) if did.startswith("did:web:") and did not in held_dids]
    fetched, unresolved = await did_documents(wanted[:MAX_LOOKED_UP_DIDS]) if wanted else ([], [])
    if len(wanted) > MAX_LOOKED_UP_DIDS:
        unresolved.append(
            f"it names {len(wanted)} DIDs; the DID documents of the {len(wanted) - MAX_LOOKED_UP_DIDS} after the first "
            f"{MAX_LOOKED_UP_DIDS} were not looked up"
        )
    proofs = await proofs_of(document, [*held, *fetched])
    status = await status_of(document) if status_worth_checking(document, proofs, directory) else StatusCheck()
    return verdict(document, proofs, status, directory, unresolved)
