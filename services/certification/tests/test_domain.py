"""The certification rules: a pass earns a credential holding every mandatory element of Annex I."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.certification.domain import (
    Amendment,
    CredentialStatus,
    NotIssuable,
    StatusAction,
    TransitionRefused,
    amendment,
    check_transition,
    co_awarding_bodies,
    credential_record,
    earns_credential,
    lead_awarding_body,
    programme_record,
    stacked_courses,
)
from services.certification.models import MicroCredentialRecord
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import AwardingBody, FormOfParticipation, MicroCredentialDescription, StackingRule
from shared.events.common import LearnerIdentity

ADA = LearnerIdentity(learner_id="learner-ada", name="Ada Lovelace", email="ada@example.org", esi="urn:schac:ada")
ISSUED_AT = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)


def grade(**changes: Any) -> GradeRecorded:
    values = dict(
        grade_id="grade-1", enrolment_id="enrolment-7", course_id="course-ai-ethics", course_version=2,
        learner_id=ADA.learner_id, learner=ADA, grade="1.3", passed=True, assessed_on=date(2025, 6, 30),
        submission_id="submission-1",
    )
    return GradeRecorded(**values | changes)


def alliance_course() -> MicroCredentialDescription:
    return MicroCredentialDescription(
        title="Ethics of AI",
        awarding_bodies=[
            AwardingBody(name="Saarland University", country="DE"),
            AwardingBody(name="Sofia University", country="BG"),
            AwardingBody(name="Trier University", country="DE"),
        ],
        learning_outcomes=["Assess an AI system against the EU AI Act", "Argue a position on algorithmic fairness"],
        languages=["en", "bg"],
        ects=5,
        workload_hours=125,
        eqf_level=7,
        type_of_assessment="written exam, supervised on site",
        form_of_participation=FormOfParticipation.BLENDED,
        type_of_quality_assurance="internal QA of Saarland University, accredited by ACQUIN",
    )


@pytest.mark.parametrize(("passed", "earns"), [(True, True), (False, False)])
def test_only_a_pass_earns_a_credential(passed: bool, earns: bool) -> None:
    assert earns_credential(grade(passed=passed, grade="1.3" if passed else "5.0")) is earns


def test_the_credential_holds_every_mandatory_element_of_annex_i() -> None:
    course = alliance_course()
    record = credential_record(grade(), course, ISSUED_AT)

    assert record.identification_of_the_learner == ADA
    assert record.title == "Ethics of AI"
    assert sorted(record.countries_of_the_issuer) == ["BG", "DE"], "each country once, however many bodies"
    assert record.awarding_bodies == course.awarding_bodies
    assert record.date_of_issuing == date(2025, 7, 1)
    assert record.learning_outcomes == course.learning_outcomes
    assert record.languages == ["en", "bg"]
    assert (record.workload_ects, record.workload_hours) == (5, 125)
    assert record.eqf_level == 7
    assert record.type_of_assessment == "written exam, supervised on site"
    assert record.form_of_participation == FormOfParticipation.BLENDED
    assert record.type_of_quality_assurance == "internal QA of Saarland University, accredited by ACQUIN"
    assert record.grade_achieved == "1.3"


def test_the_credential_survives_storage_as_json_unchanged() -> None:
    record = credential_record(grade(), alliance_course(), ISSUED_AT)
    assert MicroCredentialRecord.model_validate(record.model_dump(mode="json")) == record


@pytest.mark.parametrize(
    ("previous_passed", "passed", "previous", "new", "holds", "expected"),
    [
        (True, False, "2.0", "5.0", True, Amendment.REVOKE),
        (True, False, "2.0", "5.0", False, Amendment.NOTHING),
        (True, True, "2.0", "1.3", True, Amendment.REISSUE),
        (True, True, "2.0", "2.0", True, Amendment.NOTHING),
        (False, True, "5.0", "3.7", False, Amendment.ISSUE),
        (False, False, "5.0", "4.7", False, Amendment.NOTHING),
    ],
)
def test_an_amended_grade_revokes_reissues_or_issues(previous_passed, passed, previous, new, holds, expected) -> None:
    assert amendment(previous_passed, passed, previous, new, holds) is expected


@pytest.mark.parametrize(
    ("status", "action", "allowed"),
    [
        (CredentialStatus.VALID, StatusAction.REVOKE, True),
        (CredentialStatus.SUSPENDED, StatusAction.REVOKE, True),
        (CredentialStatus.REVOKED, StatusAction.REVOKE, False),
        (CredentialStatus.VALID, StatusAction.SUSPEND, True),
        (CredentialStatus.SUSPENDED, StatusAction.SUSPEND, False),
        (CredentialStatus.REVOKED, StatusAction.SUSPEND, False),
        (CredentialStatus.SUSPENDED, StatusAction.UNSUSPEND, True),
        (CredentialStatus.VALID, StatusAction.UNSUSPEND, False),
        (CredentialStatus.REVOKED, StatusAction.UNSUSPEND, False),
    ],
)
def test_revocation_is_final_and_only_a_suspension_is_lifted(status, action, allowed) -> None:
    if allowed:
        check_transition(status, action)
    else:
        with pytest.raises(TransitionRefused):
            check_transition(status, action)


def test_the_first_awarding_body_leads_and_the_others_endorse() -> None:
    bodies = [
        AwardingBody(id="uni-saarland", name="Saarland University", country="DE"),
        AwardingBody(id="uni-sofia", name="Sofia University", country="BG"),
        AwardingBody(name="A body without a code", country="DE"),
    ]
    assert lead_awarding_body(bodies).id == "uni-saarland"
    assert [body.id for body in co_awarding_bodies(bodies)] == ["uni-sofia"]
    with pytest.raises(NotIssuable, match="no institution code"):
        lead_awarding_body(alliance_course().awarding_bodies)


@pytest.mark.parametrize(
    ("rule", "held", "parts"),
    [
        (StackingRule(kind="all-of", course_ids=["a", "b"]), {"a": 5, "b": 3, "x": 9}, ["a", "b"]),
        (StackingRule(kind="all-of", course_ids=["a", "b"]), {"a": 5}, None),
        (StackingRule(kind="n-of", course_ids=["a", "b", "c"], n=2), {"c": 1, "a": 1}, ["a", "c"]),
        (StackingRule(kind="n-of", course_ids=["a", "b", "c"], n=2), {"c": 1}, None),
        (StackingRule(kind="min-ects", course_ids=["a", "b"], min_ects=8), {"a": 5, "b": 3}, ["a", "b"]),
        (StackingRule(kind="min-ects", course_ids=["a", "b"], min_ects=8), {"a": 5, "x": 30}, None),
    ],
)
def test_a_programme_is_complete_when_its_rule_is_met_by_courses_it_counts(rule, held, parts) -> None:
    assert stacked_courses(rule, held) == parts


def test_a_programme_credential_adds_up_its_parts() -> None:
    first = credential_record(grade(), alliance_course(), ISSUED_AT)
    second = first.model_copy(
        update={"title": "Data Law", "workload_ects": 3, "workload_hours": 75, "eqf_level": 6, "languages": ["de"]}
    )
    bodies = [AwardingBody(id="uni-saarland", name="Saarland University", country="DE")]
    record = programme_record("AI and Law Pathway", bodies, [first, second], ISSUED_AT)
    assert (record.title, record.workload_ects, record.workload_hours, record.eqf_level) == (
        "AI and Law Pathway", 8, 200, 7,
    )
    assert record.languages == ["en", "bg", "de"] and record.countries_of_the_issuer == ["DE"]
    assert record.identification_of_the_learner == ADA and record.grade_achieved is None
    assert "Ethics of AI: written exam" in record.type_of_assessment and "Data Law" in record.type_of_assessment
