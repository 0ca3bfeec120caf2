"""The certification rules: a pass earns a credential holding every mandatory element of Annex I."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.certification.domain import credential_record, earns_credential
from services.certification.models import MicroCredentialRecord
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import AwardingBody, FormOfParticipation, MicroCredentialDescription
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
