"""The words the pages use for the services' coded values (delivery modes, statuses, outcomes, ...), marked for
translation; templates show them with `term(value)`."""

from services.web.i18n import _l

TERMS = {
    # delivery mode, pace, form of participation
    "on-campus": _l("on campus"),
    "online": _l("online"),
    "blended": _l("blended"),
    "onsite": _l("on site"),
    "self-paced": _l("self-paced"),
    "time-bound": _l("with fixed dates"),
    # who may apply
    "alliance-student": _l("students of the alliance"),
    "alliance-staff": _l("staff of the alliance"),
    "external": _l("learners from outside the alliance"),
    # supervision and identity verification during assessment
    "unsupervised-no-identity-verification": _l("unsupervised, identity not verified"),
    "supervised-no-identity-verification": _l("supervised, identity not verified"),
    "supervised-online": _l("supervised online, identity verified"),
    "onsite-with-identity-verification": _l("on site, identity verified"),
    "stand-alone": _l("stand-alone"),
    "stackable": _l("can be stacked with other micro-credentials"),
    # the T4EU course table's activity description: access, funding, inclusion in the curriculum
    "open": _l("open to all"),
    "restricted": _l("restricted"),
    "limited": _l("for a limited number of participants"),
    "self-funded": _l("self-funded"),
    "grant": _l("grant or government funded"),
    "alliance-funded": _l("alliance or project funded"),
    "free": _l("free of charge, funded by the university"),
    "other": _l("other"),
    "compulsory": _l("part of the curriculum, compulsory"),
    "elective": _l("part of the curriculum, elective"),
    "extracurricular": _l("extracurricular"),
    # a course version's state in the quality-assurance workflow
    "draft": _l("draft"),
    "submitted": _l("submitted"),
    "awaiting-consent": _l("approved here, awaiting the partners' consent"),
    "approved": _l("approved"),
    "rejected": _l("sent back"),
    "retired": _l("retired"),
    # a partner's consent to another member's joint course, at this node
    "received": _l("received, not yet recommended"),
    "recommended": _l("recommended, awaiting a QA officer"),
    "consented": _l("consented"),
    "declined": _l("declined"),
    # at the lead's node: a partner university's answer
    "requested": _l("asked, no answer yet"),
    "given": _l("consented"),
    # applications
    "enrolled": _l("enrolled"),
    "waitlisted": _l("on the waitlist"),
    "withdrawn": _l("withdrawn"),
    "waived": _l("free"),
    "due": _l("to be paid"),
    "paid": _l("paid"),
    # credentials
    "valid": _l("valid"),
    "revoked": _l("revoked"),
    "suspended": _l("suspended"),
}

# A verification's outcome (certification's `outcome`), as the employer reads it: the heading, and what to do.
OUTCOMES = {
    "valid": (_l("Valid"), _l("You can rely on this credential.")),
    "unknown-issuer": (
        _l("Not confirmed: the issuer is not a university this node knows"),
        _l("The signature is genuine, but nobody this node knows stands behind the issuer's name. Do not rely on it "
           "unless you can confirm who signed it."),
    ),
    "revoked": (_l("Revoked"), _l("The issuing university has revoked it: it is no longer valid.")),
    "suspended": (_l("Suspended"), _l("The issuing university has suspended it for now: do not rely on it today.")),
    "tampered": (
        _l("Not valid: changed or not genuine"),
        _l("It was changed after it was signed, or its signature is not genuine. Do not rely on it."),
    ),
    "unsigned": (_l("Not valid: not signed"), _l("It carries no signature: anyone could have written it.")),
    "not-verifiable": (
        _l("Cannot be checked here"),
        _l("It was signed with a key this node does not know. Verify it at the issuing university's node."),
    ),
    "not-valid-now": (_l("Not valid now"), _l("It is outside its period of validity.")),
    "status-unknown": (
        _l("Not confirmed: its status could not be checked"),
        _l("The signature is genuine, but whether it was revoked could not be checked right now. Try again later."),
    ),
}

# The description's fields by name, as the QA officer's page of changes calls them (the offering page words the same
# elements in _description.html).
FIELDS = {
    "title": _l("Title"),
    "short_description": _l("Short description"),
    "awarding_bodies": _l("Awarding bodies"),
    "faculty": _l("Faculty or department"),
    "learning_outcomes": _l("Learning outcomes"),
    "languages": _l("Languages of instruction and assessment"),
    "ects": _l("ECTS credits"),
    "workload_hours": _l("Workload in hours"),
    "eqf_level": _l("Level"),
    "type_of_assessment": _l("Type of assessment"),
    "form_of_participation": _l("Form of participation"),
    "type_of_quality_assurance": _l("Type of quality assurance"),
    "prerequisites": _l("Prerequisites"),
    "identity_verification": _l("Supervision and identity verification during assessment"),
    "stackability": _l("Integration and stackability"),
    "target_groups": _l("Target groups"),
    "participants_obligations": _l("Participants' obligations"),
    "competences": _l("Competences"),
    "skills": _l("Skills (ESCO)"),
    "literature": _l("Literature"),
    "course_leaders": _l("Course leaders"),
    "lecturers": _l("Lecturers"),
    "contact": _l("Contact"),
    "prerequisite_course_ids": _l("Courses to take first"),
    "accepts_declared_qualification": _l("Accepts a declared qualification instead"),
    "pace": _l("Pace"),
    "access": _l("Access"),
    "max_participants": _l("Maximum number of participants"),
    "funding": _l("Funding"),
    "funding_note": _l("About the funding"),
    "curriculum_inclusion": _l("Inclusion in the curriculum"),
    "application_and_selection": _l("Application and selection"),
    "recognition_of_results": _l("Recognition of results"),
    "sustainability": _l("Sustainability"),
    "student_support": _l("Support for students"),
    "teacher_support": _l("Support for teachers"),
    "infrastructure": _l("Infrastructure"),
    "qa_data_collected": _l("QA data collected"),
}
