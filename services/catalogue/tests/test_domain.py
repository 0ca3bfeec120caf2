"""The catalogue's rules: the alliance's description policy, the quality-assurance workflow with versions,
offerings and programmes' stacking rules."""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.catalogue.domain import (
    FourEyesViolation,
    TransitionRefused,
    approve,
    changes_awarding_bodies,
    governing,
    next_version,
    offering_violations,
    open_for_registration,
    policy_violations,
    redraft,
    reject,
    retire,
    retire_all,
    rule_violations,
    submit,
    version_to_offer,
)
from services.catalogue.models import Course, Offering, OfferingCreate, Programme, Status
from services.catalogue.settings import CatalogueSettings
from shared.events.catalogue import AwardingBody, FormOfParticipation, MicroCredentialDescription, StackingRule

# Spelled out rather than taken from the defaults, so the expectations below can be read off here.
POLICY = CatalogueSettings(
    policy_name="T4EU", policy_min_ects=1, policy_max_ects=30, policy_hours_per_ects=25, policy_hours_tolerance=0.2
)
FOUR_EU_PLUS = CatalogueSettings(policy_name="4EU+", policy_min_ects=1, policy_max_ects=15)
DEQAR = CatalogueSettings(
    policy_name="DEQAR", policy_max_ects=60, policy_max_ects_exclusive=True, policy_eqf_levels=[5, 6, 7, 8]
)
DESIGNER, SUBMITTER, REVIEWER = "designer-grace", "designer-ada", "qa-officer-edsger"
SAARLAND = AwardingBody(id="uni-saarland", name="Saarland University", country="DE")


def description(**changes: Any) -> MicroCredentialDescription:
    values = dict(
        title="Ethics of AI", awarding_bodies=[SAARLAND],
        learning_outcomes=["Assess an AI system against the EU AI Act"], languages=["en"], ects=5, workload_hours=125,
        type_of_assessment="written exam", form_of_participation=FormOfParticipation.ONLINE,
        type_of_quality_assurance="internal QA of Saarland University",
    )
    return MicroCredentialDescription(**values | changes)


def course(status: Status = Status.DRAFT, version: int = 1) -> Course:
    return Course(id="course-ai-ethics", version=version, status=status,
                  description=description().model_dump(mode="json"), institutions=["uni-saarland"],
                  designed_by=DESIGNER)


def fields(violations: list) -> list[str]:
    return [violation.field for violation in violations]


# --- the description policy ---


def test_every_policy_violation_is_reported_at_once_naming_field_and_policy() -> None:
    broken = description(
        ects=40, workload_hours=200, languages=["en", "english"], skills=["programming"],
        awarding_bodies=[AwardingBody(name="Nowhere University", country="XX"), SAARLAND, SAARLAND],
    )
    violations = policy_violations(broken, POLICY)

    by_field = {violation.field: violation.rule for violation in violations}
    assert set(by_field) == {
        "description.ects", "description.workload_hours", "description.languages.1", "description.skills.0",
        "description.awarding_bodies.0.id", "description.awarding_bodies.0.country", "description.awarding_bodies",
    }
    assert all("T4EU" in rule for rule in by_field.values())
    assert re.search(r"\b1\b.*\b30\b", by_field["description.ects"]), "says the allowed range"
    assert "1000 hours" in by_field["description.workload_hours"], "says what workload 40 ECTS stand for"
    assert "ISO 639-1" in by_field["description.languages.1"] and "'english'" in by_field["description.languages.1"]
    assert "ISO 3166-1" in by_field["description.awarding_bodies.0.country"]
    assert "uni-saarland repeated" in by_field["description.awarding_bodies"]
    assert "ESCO" in by_field["description.skills.0"]


@pytest.mark.parametrize(
    ("ects", "workload_hours"),
    [(1, 25), (30, 750), (5, 100), (5, 150), (5, None)],
    ids=["fewest-ects", "most-ects", "workload-20%-under", "workload-20%-over", "no-workload-stated"],
)
def test_a_description_within_the_policy_passes(ects: float, workload_hours: float | None) -> None:
    assert policy_violations(description(ects=ects, workload_hours=workload_hours), POLICY) == []


@pytest.mark.parametrize(
    ("ects", "workload_hours", "field"),
    [(0.5, None, "description.ects"), (31, None, "description.ects"), (5, 99, "description.workload_hours"),
     (5, 151, "description.workload_hours")],
)
def test_just_outside_the_policy_is_a_violation(ects: float, workload_hours: float | None, field: str) -> None:
    violations = policy_violations(description(ects=ects, workload_hours=workload_hours), POLICY)
    assert fields(violations) == [field]


def test_the_4eu_plus_policy_refuses_20_ects_that_t4eu_accepts() -> None:
    twenty = description(ects=20, workload_hours=500)
    assert policy_violations(twenty, POLICY) == []
    [violation] = policy_violations(twenty, FOUR_EU_PLUS)
    assert violation.field == "description.ects" and violation.rule == "4EU+ policy: between 1 and 15 ECTS"


def test_deqar_counts_less_than_60_ects_at_eqf_levels_5_to_8() -> None:
    assert policy_violations(description(ects=59.5, workload_hours=None, eqf_level=7), DEQAR) == []
    violations = policy_violations(description(ects=60, workload_hours=None, eqf_level=4), DEQAR)
    by_field = {violation.field: violation.rule for violation in violations}
    assert by_field == {
        "description.ects": "DEQAR policy: at least 1 and less than 60 ECTS",
        "description.eqf_level": "DEQAR policy: EQF level 5, 6, 7, 8",
    }


def test_iso_codes_cover_the_eu_and_eea_languages_and_countries_and_nothing_made_up() -> None:
    eu_eea_languages = "bg cs da de el en es et fi fr ga hr hu is it lt lv mt nb nl nn no pl pt ro sk sl sv".split()
    countries = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IS IT LI LT LU LV MT NL NO PL PT RO SE SI SK".split()
    joint = description(
        languages=eu_eea_languages,
        awarding_bodies=[AwardingBody(id=f"uni-{code.lower()}", name=f"University {code}", country=code)
                         for code in countries],
    )
    assert policy_violations(joint, POLICY) == []
    made_up = description(languages=["EN", "xx"], awarding_bodies=[AwardingBody(id="uni", name="U", country="EU")])
    assert fields(policy_violations(made_up, POLICY)) == [
        "description.awarding_bodies.0.country", "description.languages.0", "description.languages.1"
    ]


@pytest.mark.parametrize("levels", ["5,6,7,8", "[5, 6, 7, 8]"])
def test_the_policy_is_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch, levels: str) -> None:
    monkeypatch.setenv("POLICY_NAME", "DEQAR")
    monkeypatch.setenv("POLICY_MAX_ECTS", "60")
    monkeypatch.setenv("POLICY_MAX_ECTS_EXCLUSIVE", "true")
    monkeypatch.setenv("POLICY_EQF_LEVELS", levels)
    settings = CatalogueSettings()
    assert (settings.policy_name, settings.policy_max_ects, settings.policy_max_ects_exclusive) == ("DEQAR", 60, True)
    assert settings.policy_eqf_levels == [5, 6, 7, 8]


# --- the workflow ---


def test_a_course_goes_from_draft_through_review_to_approved_or_rejected() -> None:
    approved = course()
    submit(approved, SUBMITTER)
    assert (approved.status, approved.submitted_by) == (Status.SUBMITTED, SUBMITTER)
    approve(approved, REVIEWER)
    assert (approved.status, approved.reviewed_by) == (Status.APPROVED, REVIEWER)
    assert approved.reviewed_at is not None

    rejected = course(Status.SUBMITTED)
    reasons = ["learning outcomes are not assessable"]
    reject(rejected, REVIEWER, reasons)
    assert rejected.status == Status.REJECTED
    assert (rejected.reviewed_by, rejected.rejection_reasons) == (REVIEWER, reasons)


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.SUBMITTED, lambda c: submit(c, DESIGNER)),
        (Status.APPROVED, lambda c: submit(c, DESIGNER)),
        (Status.DRAFT, lambda c: approve(c, REVIEWER)),
        (Status.REJECTED, lambda c: approve(c, REVIEWER)),
        (Status.APPROVED, lambda c: reject(c, REVIEWER, ["too late"])),
        (Status.RETIRED, lambda c: approve(c, REVIEWER)),
        (Status.DRAFT, lambda c: retire(c, REVIEWER, None)),
        (Status.SUBMITTED, lambda c: retire(c, REVIEWER, None)),
        (Status.RETIRED, lambda c: retire(c, REVIEWER, None)),
    ],
    ids=["resubmit", "submit-approved", "approve-draft", "approve-rejected", "reject-approved", "approve-retired",
         "retire-draft", "retire-submitted", "retire-twice"],
)
def test_a_step_the_workflow_does_not_allow_is_refused_and_changes_nothing(status: Status, step: Any) -> None:
    refused = course(status)
    with pytest.raises(TransitionRefused, match="course-ai-ethics version 1"):
        step(refused)
    assert refused.status == status and refused.reviewed_by is None and refused.retired_by is None


@pytest.mark.parametrize("step", [lambda c: approve(c, DESIGNER), lambda c: reject(c, DESIGNER, ["not mine"]),
                                  lambda c: approve(c, SUBMITTER)],
                         ids=["designer-approves", "designer-rejects", "submitter-approves"])
def test_whoever_designed_or_submitted_a_version_cannot_review_it(step: Any) -> None:
    own = course()
    submit(own, SUBMITTER)
    with pytest.raises(FourEyesViolation, match="four eyes"):
        step(own)
    assert own.status == Status.SUBMITTED and own.reviewed_by is None


def test_programmes_follow_the_same_workflow_with_four_eyes() -> None:
    programme = Programme(id="prog-1", title="Green skills", awarding_bodies=[], rule={}, institutions=["uni-a"],
                          designed_by=DESIGNER)
    submit(programme, DESIGNER)
    with pytest.raises(FourEyesViolation, match="programme prog-1"):
        approve(programme, DESIGNER)
    approve(programme, REVIEWER)
    assert programme.status == Status.APPROVED


def test_retiring_an_approved_version_records_who_and_why() -> None:
    retired = course(Status.APPROVED)
    retire(retired, "node-admin-1", "superseded by the 2027 curriculum")
    assert (retired.status, retired.retired_by, retired.retirement_reason) == (
        Status.RETIRED, "node-admin-1", "superseded by the 2027 curriculum"
    )


def test_retiring_a_course_retires_every_approved_version_and_leaves_the_draft() -> None:
    versions = [course(Status.APPROVED, 1), course(Status.APPROVED, 2), course(Status.DRAFT, 3)]
    retired = retire_all(versions, REVIEWER, None)
    assert [c.version for c in retired] == [1, 2]
    assert [c.status for c in versions] == [Status.RETIRED, Status.RETIRED, Status.DRAFT]
    with pytest.raises(TransitionRefused, match="no approved version to retire"):
        retire_all(versions, REVIEWER, None)


@pytest.mark.parametrize("status", [Status.APPROVED, Status.REJECTED])
def test_an_approved_or_rejected_version_can_be_revised_into_the_next_version(status: Status) -> None:
    assert next_version(course(status, version=3)) == 4


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SUBMITTED, Status.RETIRED])
def test_a_version_still_in_the_works_or_retired_cannot_be_revised(status: Status) -> None:
    with pytest.raises(TransitionRefused, match="only an approved or rejected version can be revised"):
        next_version(course(status))


# --- offerings ---


def test_an_offering_runs_the_latest_approved_version_unless_another_approved_one_is_named() -> None:
    versions = [course(Status.APPROVED, 1), course(Status.APPROVED, 2), course(Status.SUBMITTED, 3)]
    assert version_to_offer(versions, None).version == 2
    assert version_to_offer(versions, 1).version == 1
    with pytest.raises(TransitionRefused, match="version 3 is submitted"):
        version_to_offer(versions, 3)
    with pytest.raises(LookupError, match="no version 7"):
        version_to_offer(versions, 7)
    with pytest.raises(TransitionRefused, match=r"no approved version to offer \(version 1 draft\)"):
        version_to_offer([course(Status.DRAFT)], None)


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def offering(**changes: Any) -> OfferingCreate:
    values = dict(course_id="c", delivery_mode="online", pace="time-bound", starts_on=date(2026, 4, 1),
                  ends_on=date(2026, 6, 30), registration_opens_at=NOW, registration_closes_at=NOW + timedelta(days=14))
    return OfferingCreate.model_validate(values | changes)


def test_an_offering_with_sensible_dates_passes_and_a_one_day_workshop_too() -> None:
    assert offering_violations(offering()) == []
    assert offering_violations(offering(ends_on=date(2026, 4, 1))) == []
    assert offering_violations(offering(pace="self-paced", starts_on=None, ends_on=None)) == []


def test_every_date_problem_of_an_offering_is_named_at_once() -> None:
    backwards = offering(registration_closes_at=NOW, ends_on=date(2026, 3, 31))
    assert fields(offering_violations(backwards)) == ["registration_closes_at", "ends_on"]
    assert fields(offering_violations(offering(starts_on=None, ends_on=None))) == ["starts_on", "ends_on"]


def test_registration_is_open_from_the_opening_moment_until_just_before_closing() -> None:
    run = Offering(**offering().model_dump(exclude={"course_version"}), id="o", course_version=1, institution="u",
                   opened_by="r")
    assert not open_for_registration(run, NOW - timedelta(seconds=1))
    assert open_for_registration(run, NOW)
    assert not open_for_registration(run, NOW + timedelta(days=14))


# --- programmes ---


def rule(**values: Any) -> StackingRule:
    return StackingRule.model_validate(values)


def test_a_valid_stacking_rule_passes() -> None:
    ects = {"a": 5, "b": 5, "c": 10}
    assert rule_violations(rule(kind="all-of", course_ids=["a", "b"]), set(ects), ects) == []
    assert rule_violations(rule(kind="n-of", course_ids=["a", "b", "c"], n=2), set(ects), ects) == []
    assert rule_violations(rule(kind="min-ects", course_ids=["a", "c"], min_ects=15), set(ects), ects) == []


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        (dict(kind="n-of", course_ids=["a", "b"]), "rule.n", "how many courses"),
        (dict(kind="n-of", course_ids=["a", "b"], n=3), "rule.n", "at most the 2 courses"),
        (dict(kind="min-ects", course_ids=["a", "b"]), "rule.min_ects", "how many ECTS"),
        (dict(kind="min-ects", course_ids=["a", "b"], min_ects=12), "rule.min_ects", "give 10 ECTS, less than 12"),
        (dict(kind="all-of", course_ids=["a", "a"]), "rule.course_ids", "a repeated"),
    ],
    ids=["n-of-without-n", "n-too-big", "min-ects-without-min", "min-ects-unreachable", "course-twice"],
)
def test_a_stacking_rule_that_cannot_work_is_refused(values: dict, field: str, says: str) -> None:
    ects = {"a": 5, "b": 5}
    [violation] = rule_violations(rule(**values), set(ects), ects)
    assert violation.field == field and says in violation.rule


def test_a_rule_names_every_unknown_course_and_every_course_without_an_approved_version() -> None:
    violations = rule_violations(rule(kind="all-of", course_ids=["a", "ghost-1", "draft-only", "ghost-2"]),
                                 {"a", "draft-only"}, {"a": 5})
    assert [v.rule for v in violations] == ["no such course: ghost-1, ghost-2", "no approved version: draft-only"]


# --- who acts on a course: its governing version ---


def versions(*states: tuple[Status, list[str]]) -> list[Course]:
    return [
        course(status, number).model_copy(update={"institutions": institutions})
        for number, (status, institutions) in enumerate(states, start=1)
    ]


def test_the_newest_approved_version_governs_not_what_a_later_draft_claims() -> None:
    joint, taken_over = ["uni-saarland", "uni-vilnius"], ["uni-vilnius"]
    assert governing(versions((Status.APPROVED, joint), (Status.SUBMITTED, taken_over))).institutions == joint
    assert governing(versions((Status.APPROVED, joint), (Status.APPROVED, taken_over))).institutions == taken_over
    assert governing(versions((Status.RETIRED, joint), (Status.REJECTED, taken_over))).institutions == joint
    assert governing(versions((Status.REJECTED, joint), (Status.DRAFT, taken_over))).institutions == joint, (
        "until a version is approved, the first"
    )


def test_another_lead_or_another_set_of_awarding_bodies_is_a_change() -> None:
    [approved] = versions((Status.APPROVED, ["uni-saarland", "uni-vilnius"]))
    assert not changes_awarding_bodies(approved, ["uni-saarland", "uni-vilnius"])
    assert changes_awarding_bodies(approved, ["uni-vilnius", "uni-saarland"])
    assert changes_awarding_bodies(approved, ["uni-saarland"])
    assert changes_awarding_bodies(approved, ["uni-saarland", "uni-vilnius", "uni-trieste"])


# --- the T4EU course table's activity description ---


def test_other_funding_limited_access_and_curriculum_inclusion_need_what_the_choice_implies() -> None:
    broken = description(funding="other", access="limited", curriculum_inclusion=["elective", "elective"])
    by_field = {violation.field: violation.rule for violation in policy_violations(broken, POLICY)}
    assert by_field == {
        "description.funding_note": "T4EU policy: say how other funding works",
        "description.max_participants": "T4EU policy: access for a limited number says how many",
        "description.curriculum_inclusion": "T4EU policy: each once (elective repeated)",
    }
    assert "description.access" in fields(policy_violations(description(access="open", max_participants=30), POLICY))
    fixed = description(funding="other", funding_note="Erasmus+ blended intensive programme", access="limited",
                        max_participants=30, curriculum_inclusion=["elective", "extracurricular"])
    assert policy_violations(fixed, POLICY) == []


def test_a_description_written_before_the_t4eu_activity_fields_still_reads() -> None:
    old = description().model_dump(mode="json")
    for name in ("pace", "access", "max_participants", "funding", "funding_note", "curriculum_inclusion",
                 "application_and_selection", "recognition_of_results", "sustainability", "student_support",
                 "teacher_support", "infrastructure", "qa_data_collected"):
        old.pop(name)
    read = MicroCredentialDescription.model_validate(old)
    assert (read.funding, read.curriculum_inclusion, read.sustainability) == (None, [], None)
    assert policy_violations(read, POLICY) == []


def test_only_a_draft_is_changed_in_place() -> None:
    redraft(course(Status.DRAFT))
    for status in (Status.SUBMITTED, Status.APPROVED, Status.REJECTED):
        with pytest.raises(TransitionRefused, match="only a draft can be changed"):
            redraft(course(status))


def test_the_names_of_who_submitted_and_reviewed_are_kept_beside_their_subjects() -> None:
    item = course()
    submit(item, SUBMITTER, "Ada Lovelace")
    approve(item, REVIEWER, "Edsger Dijkstra")
    assert (item.submitted_by_name, item.reviewed_by_name) == ("Ada Lovelace", "Edsger Dijkstra")
