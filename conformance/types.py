"""The event types the kit waits for, by their published names (each has a schema in shared/events/schemas/)."""

COURSE_APPROVED = "eu.microcredentials.catalogue.course.approved.v1"
OFFERING_OPENED = "eu.microcredentials.catalogue.offering.opened.v1"
LEARNER_ENROLLED = "eu.microcredentials.enrolment.learner.enrolled.v1"
GRADE_RECORDED = "eu.microcredentials.assessment.grade.recorded.v1"
GRADE_REJECTED = "eu.microcredentials.assessment.grade.rejected.v1"
CREDENTIAL_ISSUED = "eu.microcredentials.certification.credential.issued.v1"
CREDENTIAL_COMPLETED = "eu.microcredentials.certification.credential.completed.v1"
# Messages between nodes (on the alliance bus, and inside a node on mc.alliance.outgoing / mc.alliance.incoming).
CONSENT_REQUESTED = "eu.microcredentials.alliance.consent.requested.v1"
CONSENT_GIVEN = "eu.microcredentials.alliance.consent.given.v1"
ENDORSEMENT_REQUESTED = "eu.microcredentials.alliance.endorsement.requested.v1"
ENDORSEMENT_SIGNED = "eu.microcredentials.alliance.endorsement.signed.v1"
