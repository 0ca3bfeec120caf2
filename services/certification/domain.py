"""The certification rules, as plain functions: when a grade earns a credential, and what the credential holds."""

from datetime import datetime

from services.certification.models import MicroCredentialRecord
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import MicroCredentialDescription


def earns_credential(grade: GradeRecorded) -> bool:
    return grade.passed


def credential_record(
    grade: GradeRecorded, course: MicroCredentialDescription, issued_at: datetime
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
