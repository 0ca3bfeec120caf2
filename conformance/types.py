"""The event types the kit waits for, by their published names (each has a schema in shared/events/schemas/)."""

COURSE_APPROVED = "eu.microcredentials.catalogue.course.approved.v1"
OFFERING_OPENED = "eu.microcredentials.catalogue.offering.opened.v1"
LEARNER_ENROLLED = "eu.microcredentials.enrolment.learner.enrolled.v1"
GRADE_RECORDED = "eu.microcredentials.assessment.grade.recorded.v1"
GRADE_REJECTED = "eu.microcredentials.assessment.grade.rejected.v1"
CREDENTIAL_ISSUED = "eu.microcredentials.certification.credential.issued.v1"
