"""The catalogue's rules, as plain functions: the alliance's description policy, the QA workflow with versions,
offerings and programmes. Nothing here reads or writes anything outside its arguments."""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from shared.iso_codes import COUNTRIES, LANGUAGES
from services.catalogue.models import (
    Answer,
    CaseState,
    ConsentCase,
    Course,
    Offering,
    OfferingCreate,
    PartnerConsent,
    Reviewed,
    Status,
)
from services.catalogue.settings import CatalogueSettings
from shared.alliance import AllianceRegistry, NotAMember
from shared.db import utcnow
from shared.events.catalogue import (
    Access,
    AwardingBody,
    Funding,
    MicroCredentialDescription,
    Pace,
    StackingRule,
    StackingRuleKind,
)

R = TypeVar("R", bound=Reviewed)

ESCO_SKILL_PREFIX = "http://data.europa.eu/esco/skill/"


@dataclass(frozen=True)
class Violation:
    """A broken rule: the field (dotted path in the request body) and the rule, in words."""

    field: str
    rule: str


class TransitionRefused(Exception):
    """The course or programme is not in a state that allows this step."""


class FourEyesViolation(Exception):
    """Whoever designed or submitted a version may not review it."""


# --- descriptions ---


def policy_violations(description: MicroCredentialDescription, settings: CatalogueSettings) -> list[Violation]:
    """Every rule of the alliance's policy the description breaks, all at once."""
    policy = settings.policy_name
    violations = awarding_body_violations(description.awarding_bodies, settings, "description.awarding_bodies")
    if not ects_allowed(description.ects, settings):
        least, most = f"{settings.policy_min_ects:g}", f"{settings.policy_max_ects:g}"
        allowed = (
            f"at least {least} and less than {most}"
            if settings.policy_max_ects_exclusive
            else f"between {least} and {most}"
        )
        violations.append(Violation("description.ects", f"{policy} policy: {allowed} ECTS"))
    if description.workload_hours is not None:
        expected = description.ects * settings.policy_hours_per_ects
        if abs(description.workload_hours - expected) > expected * settings.policy_hours_tolerance:
            violations.append(
                Violation(
                    "description.workload_hours",
                    f"{policy} policy: {settings.policy_hours_per_ects:g} hours per ECTS "
                    f"(±{settings.policy_hours_tolerance:.0%}), "
                    f"so about {expected:g} hours for {description.ects:g} ECTS",
                )
            )
    if description.eqf_level is not None and description.eqf_level not in settings.policy_eqf_levels:
        allowed = ", ".join(str(level) for level in sorted(settings.policy_eqf_levels))
        violations.append(Violation("description.eqf_level", f"{policy} policy: EQF level {allowed}"))
    for index, language in enumerate(description.languages):
        if language not in LANGUAGES:
            violations.append(
                Violation(
                    f"description.languages.{index}", f"{policy} policy: an ISO 639-1 language code, not {language!r}"
                )
            )
    for index, skill in enumerate(description.skills):
        if not skill.startswith(ESCO_SKILL_PREFIX):
            violations.append(
                Violation(f"description.skills.{index}", f"{policy} policy: an ESCO skill URI ({ESCO_SKILL_PREFIX}…)")
            )
    return violations + activity_violations(description, policy)


def activity_violations(description: MicroCredentialDescription, policy: str) -> list[Violation]:
    """The T4EU course table's activity description: each choice with what it needs said beside it."""
    violations = []
    if description.funding == Funding.OTHER and not (description.funding_note or "").strip():
        violations.append(Violation("description.funding_note", f"{policy} policy: say how other funding works"))
    if description.access == Access.LIMITED and description.max_participants is None:
        violations.append(
            Violation("description.max_participants", f"{policy} policy: access for a limited number says how many")
        )
    if description.max_participants is not None and description.access != Access.LIMITED:
        violations.append(
            Violation("description.access", f"{policy} policy: a maximum of participants means limited access")
        )
    repeated = sorted(value for value, count in Counter(description.curriculum_inclusion).items() if count > 1)
    if repeated:
        violations.append(
            Violation("description.curriculum_inclusion", f"{policy} policy: each once ({', '.join(repeated)} repeated)")
        )
    return violations


def ects_allowed(ects: float, settings: CatalogueSettings) -> bool:
    if settings.policy_max_ects_exclusive:
        return settings.policy_min_ects <= ects < settings.policy_max_ects
    return settings.policy_min_ects <= ects <= settings.policy_max_ects


def awarding_body_violations(bodies: Sequence[AwardingBody], settings: CatalogueSettings, at: str) -> list[Violation]:
    """Each awarding body needs its institution id (what people act for) and an ISO country; none twice."""
    policy = settings.policy_name
    violations = []
    for index, body in enumerate(bodies):
        if body.id is None:
            violations.append(
                Violation(f"{at}.{index}.id", f"{policy} policy: every awarding body has its institution id")
            )
        if body.country not in COUNTRIES:
            violations.append(
                Violation(
                    f"{at}.{index}.country",
                    f"{policy} policy: an ISO 3166-1 alpha-2 country code, not {body.country!r}",
                )
            )
    twice = sorted(id_ for id_, count in Counter(body.id for body in bodies if body.id).items() if count > 1)
    if twice:
        violations.append(Violation(at, f"{policy} policy: each awarding body once ({', '.join(twice)} repeated)"))
    return violations


def institutions(bodies: Iterable[AwardingBody]) -> list[str]:
    """The awarding institutions' ids, the lead first."""
    return [body.id for body in bodies if body.id]


# --- the workflow, the same for courses and programmes ---


def _move(item: Reviewed, allowed_from: set[Status], to: Status) -> None:
    if item.status not in allowed_from:
        allowed = " or ".join(sorted(allowed_from))
        raise TransitionRefused(f"{_name(item)} is {item.status}; only a version that is {allowed} can become {to}")
    item.status = to
    item.updated_at = utcnow()


def _name(item: Reviewed) -> str:
    return f"{type(item).__name__.lower()} {item.id} version {item.version}"


def submit(item: Reviewed, submitter: str, name: str | None = None) -> None:
    _move(item, {Status.DRAFT}, Status.SUBMITTED)
    item.submitted_by, item.submitted_at, item.submitted_by_name = submitter, item.updated_at, name


def redraft(item: Reviewed) -> None:
    """A version is changed in place only while it is a draft; once submitted it is QA's, once decided it is
    revised (a new version)."""
    if item.status != Status.DRAFT:
        raise TransitionRefused(
            f"{_name(item)} is {item.status}; only a draft can be changed (revise an approved or rejected version)"
        )
    item.updated_at = utcnow()


def _review(item: Reviewed, reviewer: str, to: Status, name: str | None = None) -> None:
    # Four eyes: whoever wrote or submitted the version cannot also be the one who passes judgement on it.
    if reviewer in {item.designed_by, item.submitted_by}:
        did = "designed" if reviewer == item.designed_by else "submitted"
        raise FourEyesViolation(f"{reviewer} {did} {_name(item)} and cannot also review it (four eyes)")
    _move(item, {Status.SUBMITTED}, to)
    item.reviewed_by, item.reviewed_at, item.reviewed_by_name = reviewer, item.updated_at, name


def approve(item: Reviewed, reviewer: str, name: str | None = None) -> None:
    _review(item, reviewer, Status.APPROVED, name)


def reject(item: Reviewed, reviewer: str, reasons: list[str], name: str | None = None) -> None:
    _review(item, reviewer, Status.REJECTED, name)
    item.rejection_reasons = reasons


def retire(item: Reviewed, retirer: str, reason: str | None) -> None:
    _move(item, {Status.APPROVED}, Status.RETIRED)
    item.retired_by, item.retired_at, item.retirement_reason = retirer, item.updated_at, reason


def retire_all(versions: Sequence[R], retirer: str, reason: str | None) -> list[R]:
    """Retire every approved version, so that no version of the course can be offered any more."""
    approved = _approved(versions, "to retire")
    for item in approved:
        retire(item, retirer, reason)
    return approved


def _approved(versions: Sequence[R], purpose: str) -> list[R]:
    approved = [item for item in versions if item.status == Status.APPROVED]
    if not approved:
        states = ", ".join(f"version {item.version} {item.status}" for item in versions)
        noun = type(versions[0]).__name__.lower()
        raise TransitionRefused(f"{noun} {versions[0].id} has no approved version {purpose} ({states})")
    return approved


def governing(versions: Sequence[R]) -> R:
    """The version whose awarding bodies say who acts on a course or programme: the newest one QA approved (retired
    ones included), else the first. A draft's own list counts only once the lead it replaces has approved it, so a
    co-awarding university cannot make itself the lead by writing a revision that drops the lead."""
    approved = [item for item in versions if item.status in {Status.APPROVED, Status.RETIRED}]
    return max(approved, key=lambda item: item.version) if approved else min(versions, key=lambda item: item.version)


def changes_awarding_bodies(governing_version: Reviewed, institutions: Sequence[str]) -> bool:
    """Whether a revision names other awarding institutions, or another lead, than the version that governs."""
    return list(institutions) != list(governing_version.institutions)


def next_version(latest: Reviewed) -> int:
    """The number of a revision of the latest version; only a decided version can be revised, so a version under
    review is never overtaken by another."""
    if latest.status not in {Status.APPROVED, Status.REJECTED}:
        raise TransitionRefused(
            f"{_name(latest)} is {latest.status}; only an approved or rejected version can be revised"
        )
    return latest.version + 1


# --- joint courses: the lead's QA approves, each co-awarding institution hosted by another node consents there ---


def partners_elsewhere(institutions: Sequence[str], registry: AllianceRegistry | None, own_node: str | None) -> dict[str, str]:
    """The co-awarding institutions (the lead excluded) that the registry says another node hosts, with that node:
    those whose consent is asked at their own node. Institutions this node hosts, or that the registry does not list
    (or no registry), follow the node's own rules, as before."""
    if registry is None or own_node is None:
        return {}
    partners = {}
    for institution in institutions[1:]:
        if registry.is_member(institution) and (node := registry.member(institution).node) != own_node:
            partners[institution] = node
    return partners


def await_consent(course: Course, reviewer: str, name: str | None = None) -> None:
    """The lead's QA approves a joint course version: it waits for its partners' consent (the same four eyes)."""
    _review(course, reviewer, Status.AWAITING_CONSENT, name)


def consented_by_all(course: Course, answers: Sequence[PartnerConsent]) -> bool:
    """Whether the version waiting for consent has every partner's now (then it is approved)."""
    return course.status == Status.AWAITING_CONSENT and all(answer.answer == Answer.GIVEN for answer in answers)


def approve_with_consent(course: Course) -> None:
    _move(course, {Status.AWAITING_CONSENT}, Status.APPROVED)


def declined_by_partner(course: Course, institution: str, reason: str) -> None:
    """A partner declined (or withdrew before approval): back to the designers with the partner's reason."""
    _move(course, {Status.AWAITING_CONSENT}, Status.REJECTED)
    course.rejection_reasons = [f"{institution} does not co-award this version: {reason}"]


def withdrawal_refusal(course: Course, withdrawn: Sequence[PartnerConsent]) -> None:
    """TransitionRefused, naming who withdrew and why, for a version a partner no longer co-awards: it opens no new
    offerings (those open run on; credentials issued stay)."""
    if withdrawn:
        who = "; ".join(f"{item.institution} withdrew on {item.answered_at:%Y-%m-%d}: {item.reason}" for item in withdrawn)
        raise TransitionRefused(f"{_name(course)} opens no new offerings: {who}")


def request_refusal(
    registry: AllianceRegistry | None, own_node: str | None, sender: str, lead: str, institution: str,
    institutions: Sequence[str],
) -> str | None:
    """Why this node does not take in a request to consent, or None: it must come from the node the registry says
    hosts the lead institution, for an institution this node hosts, among the course's co-awarding institutions."""
    if registry is None or own_node is None:
        return "this node is not a node of the alliance registry in use: it takes part in no joint course"
    try:
        lead_node = registry.member(lead).node
        partner_node = registry.member(institution).node
    except NotAMember as unknown:
        return str(unknown)
    if lead_node != sender:
        return f"the lead institution {lead} is hosted by node {lead_node}, not by node {sender}, which asked"
    if partner_node != own_node:
        return f"{institution} is hosted by node {partner_node}, not by this node ({own_node})"
    if list(institutions[:1]) != [lead] or institution not in institutions[1:]:
        return f"the course is awarded by {', '.join(institutions)}: not by {lead} with {institution}"
    return None


def _case(case: ConsentCase) -> str:
    return f"the consent of {case.institution} to course {case.course_id} version {case.version} of node {case.lead_node}"


def _step(case: ConsentCase, allowed_from: set[CaseState], to: CaseState) -> None:
    if case.state not in allowed_from:
        allowed = " or ".join(sorted(allowed_from))
        raise TransitionRefused(f"{_case(case)} is {case.state}; only one that is {allowed} can become {to}")
    case.state = to


def recommend(case: ConsentCase, person: str, name: str | None = None) -> None:
    """The first pair of eyes: a designer or QA officer of the institution recommends taking part."""
    _step(case, {CaseState.RECEIVED}, CaseState.RECOMMENDED)
    case.recommended_by, case.recommended_by_name, case.recommended_at = person, name, utcnow()


def consent(case: ConsentCase, person: str, name: str | None = None) -> None:
    """The second pair of eyes: a QA officer other than whoever recommended it consents."""
    if person == case.recommended_by:
        raise FourEyesViolation(f"{person} recommended {_case(case)} and cannot also give it (four eyes)")
    _step(case, {CaseState.RECOMMENDED}, CaseState.CONSENTED)
    case.decided_by, case.decided_by_name, case.decided_at = person, name, utcnow()


def decline(case: ConsentCase, person: str, reason: str, name: str | None = None) -> None:
    _step(case, {CaseState.RECEIVED, CaseState.RECOMMENDED}, CaseState.DECLINED)
    case.decided_by, case.decided_by_name, case.decided_at, case.reason = person, name, utcnow(), reason


def withdraw(case: ConsentCase, person: str, reason: str, name: str | None = None) -> None:
    _step(case, {CaseState.CONSENTED}, CaseState.WITHDRAWN)
    case.withdrawn_by, case.withdrawn_by_name, case.withdrawn_at, case.reason = person, name, utcnow(), reason


def changed_fields(before: dict | None, after: dict) -> list[str]:
    """The description's elements a version changes from the one consented to before (none without one)."""
    if before is None:
        return []
    return [name for name in dict.fromkeys([*after, *before]) if before.get(name) != after.get(name)]


# --- offerings ---


def version_to_offer(versions: Sequence[Course], requested: int | None) -> Course:
    """Of a course's versions, the one an offering runs: the one asked for, else the newest approved one.

    LookupError for a version that does not exist; TransitionRefused for one that is not approved.
    """
    if requested is None:
        return max(_approved(versions, "to offer"), key=lambda course: course.version)
    chosen = next((course for course in versions if course.version == requested), None)
    if chosen is None:
        raise LookupError(f"course {versions[0].id} has no version {requested}")
    if chosen.status != Status.APPROVED:
        raise TransitionRefused(f"{_name(chosen)} is {chosen.status}; only an approved version can be offered")
    return chosen


def offering_violations(offering: OfferingCreate) -> list[Violation]:
    """The offering's dates must make sense, all problems at once."""
    violations = []
    if offering.registration_closes_at <= offering.registration_opens_at:
        violations.append(Violation("registration_closes_at", "registration closes after it opens"))
    if offering.starts_on and offering.ends_on and offering.ends_on < offering.starts_on:
        # The same day is fine: a one-day workshop starts and ends on it.
        violations.append(Violation("ends_on", "the offering ends on or after the day it starts"))
    if offering.pace == Pace.TIME_BOUND:
        for field in ("starts_on", "ends_on"):
            if getattr(offering, field) is None:
                violations.append(Violation(field, "a time-bound offering has a start and an end date"))
    return violations


def open_for_registration(offering: Offering, now: datetime) -> bool:
    return offering.registration_opens_at <= now < offering.registration_closes_at


# --- programmes ---


def rule_violations(rule: StackingRule, existing: set[str], approved_ects: dict[str, float]) -> list[Violation]:
    """What is wrong with a programme's stacking rule, given which courses exist and the ECTS of the approved ones."""
    violations = []
    unknown = [course_id for course_id in rule.course_ids if course_id not in existing]
    unapproved = [
        course_id for course_id in rule.course_ids if course_id in existing and course_id not in approved_ects
    ]
    if unknown:
        violations.append(Violation("rule.course_ids", f"no such course: {', '.join(unknown)}"))
    if unapproved:
        violations.append(Violation("rule.course_ids", f"no approved version: {', '.join(unapproved)}"))
    repeated = sorted(course_id for course_id, count in Counter(rule.course_ids).items() if count > 1)
    if repeated:
        violations.append(Violation("rule.course_ids", f"each course once ({', '.join(repeated)} repeated)"))
    courses = len(set(rule.course_ids))
    if rule.kind == StackingRuleKind.N_OF:
        if rule.n is None:
            violations.append(Violation("rule.n", "an n-of rule says how many courses (n)"))
        elif rule.n > courses:
            violations.append(Violation("rule.n", f"n-of: n is at most the {courses} courses named"))
    if rule.kind == StackingRuleKind.MIN_ECTS:
        if rule.min_ects is None:
            violations.append(Violation("rule.min_ects", "a min-ects rule says how many ECTS (min_ects)"))
        elif not unknown and not unapproved:
            total = sum(approved_ects[course_id] for course_id in set(rule.course_ids))
            if rule.min_ects > total:
                violations.append(
                    Violation(
                        "rule.min_ects", f"min-ects: the courses named give {total:g} ECTS, less than {rule.min_ects:g}"
                    )
                )
    return violations
