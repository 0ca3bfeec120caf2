"""The catalogue's rules: the alliance's description policy and the quality-assurance workflow."""

import re
from typing import Any

import pytest

from services.catalogue.domain import FourEyesViolation, TransitionRefused, approve, policy_violations, reject, submit
from services.catalogue.models import Course, CourseStatus
from services.catalogue.settings import CatalogueSettings
from shared.events.catalogue import AwardingBody, FormOfParticipation, MicroCredentialDescription

# Spelled out rather than taken from the defaults, so the expectations below can be read off here.
POLICY = CatalogueSettings(
    policy_name="T4EU", policy_min_ects=1, policy_max_ects=30, policy_hours_per_ects=25, policy_hours_tolerance=0.2
)
DESIGNER, REVIEWER = "designer-grace", "qa-officer-edsger"


def description(**changes: Any) -> MicroCredentialDescription:
    values = dict(
        title="Ethics of AI", awarding_bodies=[AwardingBody(name="Saarland University", country="DE")],
        learning_outcomes=["Assess an AI system against the EU AI Act"], languages=["en"], ects=5, workload_hours=125,
        type_of_assessment="written exam", form_of_participation=FormOfParticipation.ONLINE,
        type_of_quality_assurance="internal QA of Saarland University",
    )
    return MicroCredentialDescription(**values | changes)


def course(status: CourseStatus = CourseStatus.DRAFT) -> Course:
    return Course(id="course-ai-ethics", status=status, description=description().model_dump(mode="json"),
                  designed_by=DESIGNER)


def test_every_policy_violation_is_reported_at_once_naming_field_and_policy() -> None:
    violations = policy_violations(description(ects=40, workload_hours=200), POLICY)

    by_field = {violation.field: violation.rule for violation in violations}
    assert set(by_field) == {"description.ects", "description.workload_hours"}
    assert all("T4EU" in rule for rule in by_field.values())
    assert re.search(r"\b1\b.*\b30\b", by_field["description.ects"]), "says the allowed range"
    assert "1000 hours" in by_field["description.workload_hours"], "says what workload 40 ECTS stand for"


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
    assert [violation.field for violation in violations] == [field]


def test_a_course_goes_from_draft_through_review_to_approved() -> None:
    approved = course()
    submit(approved)
    assert approved.status == CourseStatus.SUBMITTED
    approve(approved, REVIEWER)
    assert (approved.status, approved.reviewed_by) == (CourseStatus.APPROVED, REVIEWER)

    rejected = course(CourseStatus.SUBMITTED)
    reasons = ["learning outcomes are not assessable"]
    reject(rejected, REVIEWER, reasons)
    assert rejected.status == CourseStatus.REJECTED
    assert (rejected.reviewed_by, rejected.rejection_reasons) == (REVIEWER, reasons)


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (CourseStatus.SUBMITTED, submit),
        (CourseStatus.APPROVED, submit),
        (CourseStatus.DRAFT, lambda c: approve(c, REVIEWER)),
        (CourseStatus.REJECTED, lambda c: approve(c, REVIEWER)),
        (CourseStatus.APPROVED, lambda c: reject(c, REVIEWER, ["too late"])),
    ],
    ids=["resubmit", "submit-approved", "approve-draft", "approve-rejected", "reject-approved"],
)
def test_a_step_the_workflow_does_not_allow_is_refused_and_changes_nothing(status: CourseStatus, step: Any) -> None:
    refused = course(status)
    with pytest.raises(TransitionRefused, match="course-ai-ethics"):
        step(refused)
    assert refused.status == status and refused.reviewed_by is None


@pytest.mark.parametrize("step", [lambda c: approve(c, DESIGNER), lambda c: reject(c, DESIGNER, ["not mine"])],
                         ids=["approve", "reject"])
def test_the_designer_cannot_review_their_own_course(step: Any) -> None:
    own = course(CourseStatus.SUBMITTED)
    with pytest.raises(FourEyesViolation, match=DESIGNER):
        step(own)
    assert own.status == CourseStatus.SUBMITTED and own.reviewed_by is None
