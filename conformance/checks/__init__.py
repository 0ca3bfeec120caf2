"""Every check of the kit, in the order they run: the one place where a check is registered.

A check is an async function taking the run (conformance.run.Run); its docstring's first line is its title in the
report. To add one, write the function in the module of its subject and add it here. Checks that look at what the
node published come last, after the others have made it publish.
"""

from conformance.checks import alliance, credentials, events, exchanges, http_apis
from conformance.run import Check

CHECKS = [
    Check("journey", exchanges.journey),
    Check("duplicate-grade", exchanges.duplicate_grade),
    Check("dead-letter", exchanges.dead_letter),
    Check("credential", credentials.credential),
    Check("status-lists", credentials.status_lists),
    Check("did-documents", credentials.did_documents),
    Check("http-apis", http_apis.http_apis),
    Check("joint-course-consent", alliance.joint_course_consent),
    Check("endorsement-exchange", alliance.endorsement_exchange),
    Check("published-events", events.published_events),
    Check("no-stray-dead-letters", events.no_stray_dead_letters),
]
