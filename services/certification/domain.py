"""The certification rules, as plain functions: when a grade earns a credential, and what the credential holds."""

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from services.certification import claims
from services.certification.models import MicroCredentialRecord
from services.certification.vc import credential as credential_vc
from shared.alliance import AllianceRegistry, NotAMember
from shared.events.assessment import GradeAmended, GradeRecorded
from shared.events.catalogue import (
    AwardingBody,
    FormOfParticipation,
    MicroCredentialDescription,
    Stackability,
    StackingRule,
    StackingRuleKind,
)
from shared.events.common import LearnerIdentity


def earns_credential(grade: GradeRecorded) -> bool:
    return grade.passed


def credential_record(
    grade: GradeRecorded | GradeAmended, course: MicroCredentialDescription, issued_at: datetime
) -> MicroCredentialRecord:
    return MicroCredentialRecord(
        identification_of_the_learner=grade.learner,
        title=course.title,
        countries_of_the_issuer=sorted({body.country for body in course.awarding_bodies}),
        awarding_bodies=course.awarding_bodies,
        date_of_issuing=issued_at.date(),
        learning_outcomes=course.learning_outcomes,
        languages=course.languages,
        workload_ects=course.ects,
        workload_hours=course.workload_hours,
        eqf_level=course.eqf_level,
        type_of_assessment=course.type_of_assessment,
        form_of_participation=course.form_of_participation,
        type_of_quality_assurance=course.type_of_quality_assurance,
        grade_achieved=grade.grade,
        prerequisites=course.prerequisites,
        identity_verification=course.identity_verification,
        stackability=course.stackability,
        contact=course.contact,
    )


class NotIssuable(Exception):
    """A pass that cannot become a credential here; the reason says why (the grade is dead-lettered with it)."""


def lead_awarding_body(awarding_bodies: list[AwardingBody]) -> AwardingBody:
    """The lead awarding institution, which issues and signs: the first awarding body (it needs an institution code)."""
    lead = awarding_bodies[0]
    if lead.id is None:
        raise NotIssuable(f"the lead awarding body {lead.name!r} has no institution code, so no key can sign for it")
    return lead


def co_awarding_bodies(awarding_bodies: list[AwardingBody]) -> list[AwardingBody]:
    """The other awarding institutions, each of which endorses a joint credential (those with an institution code)."""
    lead = lead_awarding_body(awarding_bodies)
    return [body for body in awarding_bodies[1:] if body.id is not None and body.id != lead.id]


class Amendment(StrEnum):
    NOTHING = "nothing"
    ISSUE = "issue"  # fail -> pass: the learner earns the credential now
    REVOKE = "revoke"  # pass -> fail: the credential is no longer deserved
    REISSUE = "reissue"  # pass -> another passing grade: the old credential says the wrong grade


def amendment(
    previous_passed: bool, passed: bool, previous_grade: str, grade: str, holds_credential: bool
) -> Amendment:
    """What an amended grade does to the learner's credential for that course."""
    if not passed:
        return Amendment.REVOKE if holds_credential else Amendment.NOTHING
    if not holds_credential:
        return Amendment.ISSUE
    if not previous_passed or previous_grade != grade:
        return Amendment.REISSUE
    return Amendment.NOTHING


class CredentialStatus(StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class StatusAction(StrEnum):
    REVOKE = "revoke"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"


class TransitionRefused(Exception):
    """The credential's status does not allow the action (e.g. suspending a revoked credential)."""


def credential_status(revoked: bool, suspended: bool) -> CredentialStatus:
    if revoked:
        return CredentialStatus.REVOKED
    return CredentialStatus.SUSPENDED if suspended else CredentialStatus.VALID


def check_transition(status: CredentialStatus, action: StatusAction) -> None:
    """Revocation is final; a credential is suspended only when valid, and reinstated only when suspended."""
    if status is CredentialStatus.REVOKED:
        raise TransitionRefused(f"the credential is revoked, for good; it cannot be {action}d")
    if action is StatusAction.SUSPEND and status is CredentialStatus.SUSPENDED:
        raise TransitionRefused("the credential is suspended already")
    if action is StatusAction.UNSUSPEND and status is not CredentialStatus.SUSPENDED:
        raise TransitionRefused("the credential is not suspended")


def stacked_courses(rule: StackingRule, held: Mapping[str, float]) -> list[str] | None:
    """The courses (of those the learner holds, course id -> ECTS) that complete the programme, or None when they do
    not yet. all-of: every course; n-of: n of them; min-ects: enough ECTS among them."""
    parts = [course_id for course_id in rule.course_ids if course_id in held]
    if rule.kind is StackingRuleKind.ALL_OF:
        complete = len(parts) == len(rule.course_ids)
    elif rule.kind is StackingRuleKind.N_OF:
        complete = len(parts) >= (rule.n or len(rule.course_ids))
    else:
        complete = sum(held[course_id] for course_id in parts) >= (rule.min_ects or 0)
    return parts if complete and parts else None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def programme_record(
    title: str, awarding_bodies: list[AwardingBody], parts: list[MicroCredentialRecord], issued_at: datetime
) -> MicroCredentialRecord:
    """The Annex I elements of a programme credential, from the micro-credentials it stacks."""
    modes = {part.form_of_participation for part in parts}
    hours = [part.workload_hours for part in parts]
    levels = [part.eqf_level for part in parts if part.eqf_level is not None]
    return MicroCredentialRecord(
        identification_of_the_learner=parts[-1].identification_of_the_learner,
        title=title,
        countries_of_the_issuer=sorted({body.country for body in awarding_bodies}),
        awarding_bodies=awarding_bodies,
        date_of_issuing=issued_at.date(),
        learning_outcomes=_unique(outcome for part in parts for outcome in part.learning_outcomes),
        languages=_unique(language for part in parts for language in part.languages),
        workload_ects=sum(part.workload_ects for part in parts),
        workload_hours=None if None in hours else sum(hours),  # type: ignore[arg-type]
        eqf_level=max(levels) if levels else None,
        type_of_assessment="assessed in its parts: "
        + "; ".join(f"{part.title}: {part.type_of_assessment}" for part in parts),
        form_of_participation=modes.pop() if len(modes) == 1 else FormOfParticipation.BLENDED,
        type_of_quality_assurance="programme approved by the awarding universities' quality assurance; parts: "
        + "; ".join(f"{part.title}: {part.type_of_quality_assurance}" for part in parts),
        grade_achieved=None,
        prerequisites=None,
        identity_verification=None,
        stackability=Stackability.STAND_ALONE,
        contact=None,
    )


# --- joint credentials across nodes: who signs for whom, and what a co-awarding node endorses ---


def foreign_keys(held: Mapping[str, str], registry: AllianceRegistry) -> list[str]:
    """Why this node must not hold some of its signing keys: `held` maps each institution it holds a key for to the DID
    this node would sign with for it. A member of the alliance is signed for only by the node the registry says hosts
    it (its `credential_dids` are that node's); a key of another member here is one university holding another's."""
    problems = []
    for institution, did in sorted(held.items()):
        if not registry.is_member(institution):
            continue  # Not in the alliance: the node's own business (it is trusted nowhere else anyway).
        member = registry.member(institution)
        if did not in member.credential_dids:
            problems.append(
                f"{institution} ({member.legal_name}) is a member of {registry.alliance.name} hosted by node "
                f"{member.node}, which signs for it with {', '.join(member.credential_dids)}; this node holds its "
                f"private key and would sign as {did}"
            )
    return problems


def endorsement_node(registry: AllianceRegistry | None, institution: str, own_node: str | None) -> str:
    """The node to ask for a co-awarding institution's endorsement (raises NotAMember, or ValueError naming why none)."""
    if registry is None:
        raise ValueError("this node follows no alliance registry, so it knows no node to ask")
    node = registry.node_of(institution).id
    if node == own_node:
        raise ValueError(f"{institution} is hosted by this node, which holds no key for it (ISSUER_KEYS_DIR)")
    return node


def endorsement_refusal(
    *,
    registry: AllianceRegistry,
    own_node: str,
    sender: str,
    institution: str,
    own_did: str | None,
    lead_institution: str,
    credential: Mapping[str, Any],
    course_id: str,
    course_version: int,
    consented_institutions: list[str] | None,
    withdrawn_at: datetime | None = None,
) -> str | None:
    """Why this node does not endorse a joint credential for `institution`, or None. It signs only for an institution
    it hosts (the registry names this node, and its DID is this node's: `own_did`, None without a key); the lead must
    be a member hosted by the node that asked; the credential must be issued with a DID of the lead and award the course
    version named; and `institution` must have consented, at this node, to that version of the lead's course with
    these awarding institutions, the lead first (`consented_institutions`, None without consent), and not have
    withdrawn (`withdrawn_at`) before the credential was issued (its `validFrom`). `validFrom` is written to the
    second (cut down), so a withdrawal counts from the start of its second: a credential issued later in that same
    second would otherwise read as issued before it, and be endorsed.
    Whether the credential verifies is checked after these (it needs the lead's node)."""
    try:
        member = registry.member(institution)
        lead = registry.member(lead_institution)
    except NotAMember as unknown:
        return str(unknown)
    if member.node != own_node or own_did is None or own_did not in member.credential_dids:
        return f"{institution} is not an institution this node ({own_node}) signs for"
    if lead.node != sender:
        return f"the lead institution {lead_institution} is hosted by node {lead.node}, not by node {sender}, which asked"
    issuer_id = claims.issuer_id(credential)
    if issuer_id not in lead.credential_dids:
        return f"the credential's issuer {issuer_id!r} is not a DID of {lead_institution} in the registry"
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    achievement_id = achievement.get("id") if isinstance(achievement, Mapping) else None
    if achievement_id != f"urn:microcredentials:course:{course_id}:v{course_version}":
        return f"the credential awards {achievement_id!r}, not course {course_id} version {course_version}"
    if consented_institutions is None:
        return (
            f"{institution} has not consented, at this node, to co-award course {course_id} version {course_version} "
            f"of node {sender}"
        )
    if institution not in consented_institutions[1:] or consented_institutions[0] != lead_institution:
        return (
            f"course {course_id} version {course_version} of node {sender} was consented to as awarded by "
            f"{', '.join(consented_institutions)}: not by {lead_institution} with {institution}"
        )
    if withdrawn_at is not None:
        issued = _moment(credential.get("validFrom"))
        if issued is None or issued >= withdrawn_at.replace(microsecond=0):
            return (
                f"{institution} withdrew from course {course_id} version {course_version} on "
                f"{withdrawn_at.isoformat()}, before this credential was issued ({credential.get('validFrom')})"
            )
    return None


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def received_endorsement_refusal(
    endorsement: Mapping[str, Any], credential_id: str, endorser_dids: list[str]
) -> str | None:
    """Why an endorsement a partner's node sent is not attached (before its proof is checked), or None: it must be an
    EndorsementCredential of this credential, issued with a DID the registry gives the co-awarding institution."""
    types = endorsement.get("type")
    if not isinstance(types, list) or "EndorsementCredential" not in types:
        return "it is not an EndorsementCredential"
    subject = endorsement.get("credentialSubject")
    subject_id = subject.get("id") if isinstance(subject, Mapping) else None
    if subject_id != credential_id:
        return f"it endorses {subject_id!r}, not this credential {credential_id!r}"
    issuer_id = claims.issuer_id(endorsement)
    if issuer_id not in endorser_dids:
        return f"its issuer {issuer_id!r} is not a DID the registry gives the co-awarding institution"
    return None


# --- stacking across nodes: the parts a learner presents (presented_parts.py) ---

# The most credentials one presentation may carry: more than any programme stacks.
MAX_PRESENTED_PARTS = 20
_COURSE_ACHIEVEMENT = re.compile(r"^urn:microcredentials:course:(?P<course>.+):v(?P<version>[1-9][0-9]*)$")


class PartRefused(ValueError):
    """A presented part this node does not take; the message names the part and the rule it breaks."""


def presented_credentials(body: Any) -> list[Mapping[str, Any]]:
    """The credentials a learner presents: one OpenBadgeCredential, a JSON list of them, or a W3C
    VerifiablePresentation carrying them in `verifiableCredential` (raises PartRefused)."""
    if isinstance(body, Mapping) and "VerifiablePresentation" in claims.types(body):
        carried = body.get("verifiableCredential")
        credentials = [carried] if isinstance(carried, Mapping) else carried
        if not isinstance(credentials, list) or not credentials:
            raise PartRefused("the VerifiablePresentation carries no credential in verifiableCredential")
    elif isinstance(body, list):
        credentials = body
    else:
        credentials = [body]
    if not credentials:
        raise PartRefused("no credential presented")
    if len(credentials) > MAX_PRESENTED_PARTS:
        raise PartRefused(f"{len(credentials)} credentials presented; at most {MAX_PRESENTED_PARTS} at once")
    for number, credential in enumerate(credentials, start=1):
        if not isinstance(credential, Mapping):
            raise PartRefused(f"part {number} is not a credential (a JSON object), but a {type(credential).__name__}")
        if "OpenBadgeCredential" not in claims.types(credential):
            raise PartRefused(f"part {number} is not an OpenBadgeCredential (its type: {claims.types(credential)})")
        if not isinstance(credential.get("id"), str):
            raise PartRefused(f"part {number} has no id, so nothing could ever tell whether it was revoked")
    return list(credentials)


def awarded_course(credential: Mapping[str, Any]) -> tuple[str, int] | None:
    """The course version a credential of this platform awards (`urn:microcredentials:course:<id>:v<version>`)."""
    found = _COURSE_ACHIEVEMENT.match(claims.achievement_id(credential) or "")
    return (found["course"], int(found["version"])) if found else None


def not_the_learners(credential: Mapping[str, Any], email: str | None, esi: str | None) -> str | None:
    """Why the credential is not the presenting learner's, or None. Its subject names the learner by identifiers (no
    holder key); the token's identity provider attests the learner's e-mail address and European Student Identifier.
    The rule: when both carry an ESI, the ESIs are equal; otherwise the e-mail address the token attests, hashed with
    the credential's salt, is its hashed `emailAddress` identifier (the learner id is not compared: each node knows a
    visiting learner under its own name, `<institution>:<sub>`)."""
    identifiers = claims.subject_identifiers(credential)
    esis = [i.get("identityHash") for i in identifiers
            if i.get("identityType") == "ext:europeanStudentIdentifier" and not i.get("hashed")]
    if esi and esis:
        if any(isinstance(value, str) and value.lower() == esi.lower() for value in esis):
            return None
        return "its subject's European Student Identifier is not the one your identity provider attests"
    emails = [i for i in identifiers if i.get("identityType") == "emailAddress"]
    if not emails:
        return "its subject carries no e-mail address (nor a European Student Identifier) to match you by"
    if not email:
        return "your token attests no e-mail address to match the credential's subject by"
    for identifier in emails:
        value, salt = identifier.get("identityHash"), identifier.get("salt")
        if not isinstance(value, str):
            continue
        if identifier.get("hashed"):
            if isinstance(salt, str) and value == credential_vc.hashed_email(email, salt):
                return None
        elif value.strip().lower() == email.strip().lower():
            return None
    return "its subject's e-mail address is not the one your identity provider attests"


def _target_codes(credential: Mapping[str, Any], target_type: str) -> list[str]:
    return [str(item["targetCode"]) for item in claims.alignments(credential, target_type) if item.get("targetCode")]


def _target_names(credential: Mapping[str, Any], target_type: str) -> list[str]:
    return [str(item["targetName"]) for item in claims.alignments(credential, target_type) if item.get("targetName")]


def _hours(code: str) -> float | None:
    found = re.fullmatch(r"PT([0-9]+(?:\.[0-9]+)?)H", code)
    return float(found[1]) if found else None


def part_record(
    credential: Mapping[str, Any], learner: LearnerIdentity, issued_on: date, ects: float
) -> MicroCredentialRecord:
    """The Annex I elements of a presented part, as its Open Badges alignments carry them (what a programme record is
    made of), for the learner who presented it."""
    bodies = []
    for alignment in claims.alignments(credential, "ext:AwardingBody"):
        country = str(alignment.get("targetDescription") or "").rpartition(", ")[2]
        code = alignment.get("targetCode")
        bodies.append(AwardingBody(
            id=code if isinstance(code, str) and re.fullmatch(r"[a-z0-9][a-z0-9.-]*", code) else None,
            name=str(alignment.get("targetName") or claims.issuer_name(credential) or "unnamed"),
            country=country if re.fullmatch(r"[A-Z]{2}", country) else "ZZ",
        ))
    modes = [code for code in _target_codes(credential, "ext:ModeOfLearningAndAssessment") if code in set(FormOfParticipation)]
    hours = [_hours(code) for code in _target_codes(credential, "ext:NotionalWorkload")]
    levels = [int(code) for code in _target_codes(credential, "ext:EQFLevel") if code.isdigit()]
    issuer = claims.issuer_name(credential) or "its issuer"
    return MicroCredentialRecord(
        identification_of_the_learner=learner,
        title=claims.achievement_title(credential) or "a micro-credential",
        countries_of_the_issuer=_target_codes(credential, "ext:IssuerCountry"),
        awarding_bodies=bodies or [AwardingBody(name=issuer, country="ZZ")],
        date_of_issuing=issued_on,
        learning_outcomes=_target_names(credential, "ext:LearningOutcome"),
        languages=_target_codes(credential, "ext:Language") or ["en"],
        workload_ects=ects,
        workload_hours=hours[0] if hours else None,
        eqf_level=levels[0] if levels else None,
        type_of_assessment=next(iter(_target_names(credential, "ext:AssessmentType")), f"as assessed by {issuer}"),
        form_of_participation=FormOfParticipation(modes[0]) if modes else FormOfParticipation.BLENDED,
        type_of_quality_assurance=next(iter(_target_names(credential, "ext:QualityAssurance")), f"that of {issuer}"),
        grade_achieved=claims.result_value(credential),
        prerequisites=None,
        identity_verification=None,
        stackability=Stackability.STACKABLE,
        contact=None,
    )
