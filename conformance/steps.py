"""The exchanges a node must follow, as the alliance's users make them through its HTTP APIs and its LMS's topic: a
course described and approved (four eyes), an offering opened, a learner registered and enrolled, a grade sent by the
LMS. Checks build on them; each step waits for the event the node must publish about it."""

import uuid
from datetime import UTC, datetime
from typing import Any

from conformance import types
from conformance.description import Institution
from conformance.run import Failed, Run, Skipped
from conformance.people import Person
from deploy.journey import GERMAN_SCHEME, Lms, grade_submission, open_offering, sample_course


async def the_offering(run: Run) -> dict[str, Any]:
    """The run's offering of a course of the test institution, opened once and shared by the checks that enrol."""
    if run.facts.get("offering") is None:
        if "offering" in run.facts:
            raise Skipped("needs an open offering, which the node did not give (see the journey check)")
        run.facts["offering"] = None
        course = await approved_course(run)
        run.facts["offering"] = await opened_offering(run, course)
    return run.facts["offering"]


async def approved_course(run: Run) -> dict[str, Any]:
    """A course of the test institution, described by its designer, approved by its QA officer (another person), and
    graded on the German scale; assessment knows it."""
    course = await proposed_course(run)
    await run.event(types.COURSE_APPROVED, course_id=course["id"])
    await ready_for_grading(run, course["id"])
    return course


async def proposed_course(run: Run, *partners: Institution) -> dict[str, Any]:
    """A course of the test institution (lead), with `partners` as co-awarding institutions, described by its designer,
    submitted, and approved by its QA officer (another person): what the node does next is the caller's to see."""
    designer, qa_officer = run.people.staff("course-designer"), run.people.staff("qa-officer")
    description = sample_course(f"Conformance check {datetime.now(UTC):%Y-%m-%d %H:%M:%S} {uuid.uuid4().hex[:4]}")
    description["awarding_bodies"] = [
        {"id": institution.id, "name": institution.name, "country": institution.country}
        for institution in (run.description.institution, *partners)
    ]
    course = await run.ok("POST", "catalogue", "/courses", by=designer, json={"description": description}, expect=201)
    course_id = course["id"]
    await run.ok("POST", "catalogue", f"/courses/{course_id}/submit", by=designer)
    await run.ok("POST", "catalogue", f"/courses/{course_id}/approve", by=qa_officer, json={})
    return course


async def ready_for_grading(run: Run, course_id: str) -> None:
    """Assessment knows the approved course, and its assessor set the German grading scheme."""

    async def assessment_knows_it() -> bool | None:
        response = await run.call("GET", "assessment", f"/courses/{course_id}", quiet=True)
        return True if response.status_code == 200 else None

    await run.until(f"assessment knows course {course_id}", assessment_knows_it)
    await run.ok(
        "PUT", "assessment", f"/courses/{course_id}/grading-scheme", by=run.people.staff("assessor"),
        json={"scheme": GERMAN_SCHEME},
    )


async def opened_offering(run: Run, course: dict[str, Any]) -> dict[str, Any]:
    """An offering of the course, open for registration now; enrolment knows it and its course."""
    offering = await run.ok(
        "POST", "catalogue", "/offerings", by=run.people.staff("registrar"), json=open_offering(course["id"]), expect=201
    )
    await run.event(types.OFFERING_OPENED, offering_id=offering["id"])

    async def enrolment_knows_it() -> bool | None:
        response = await run.call("GET", "enrolment", f"/offerings/{offering['id']}", quiet=True)
        return True if response.status_code == 200 and response.json().get("course_known") else None

    await run.until(f"enrolment knows offering {offering['id']} and its course", enrolment_knows_it)
    return offering


async def enrolled_learner(run: Run, offering: dict[str, Any]) -> Person:
    """A new learner, registered and given a place in the offering; assessment knows the enrolment."""
    try:
        learner = run.people.new_learner()
    except LookupError as error:
        raise Failed(str(error)) from error
    registered = await run.call("POST", "enrolment", "/learners", by=learner, json={})
    if registered.status_code not in (201, 409):  # 409: a ready-made learner token registered in an earlier run.
        raise Failed(f"POST enrolment /learners answered {registered.status_code}: {registered.text}")
    await run.ok("POST", "enrolment", "/applications", by=learner, json={"offering_id": offering["id"]}, expect=201)
    await run.event(types.LEARNER_ENROLLED, learner__learner_id=learner.subject, offering_id=offering["id"])

    async def assessment_knows_it() -> bool | None:
        query = {"learner_id": learner.subject, "course_id": offering["course_id"]}
        response = await run.call(
            "GET", "assessment", "/enrolments", by=run.people.staff("assessor"), params=query, quiet=True
        )
        return True if response.status_code == 200 and response.json() else None

    await run.until(f"assessment knows that {learner.subject} is enrolled", assessment_knows_it)
    return learner


def grade(run: Run, offering: dict[str, Any], learner: Person, value: str) -> dict[str, Any]:
    """A grade submission as the LMS writes it: a structured CloudEvent (docs/lms-grade-submission.md), a new id."""
    lms = Lms(run.description.kafka.lms.id, run.description.kafka.lms.id, (run.description.institution.id,))
    return grade_submission(offering["course_id"], learner.subject, value, passed=True, lms=lms)


async def downloaded_credential(run: Run, issued: dict[str, Any]) -> dict[str, Any]:
    """The signed credential a CredentialIssued event points at (its `download_url`, else its `credential_url`)."""
    data = issued.get("data", {})
    url = data.get("download_url") or data.get("credential_url")
    if not isinstance(url, str):
        raise Failed("the CredentialIssued event says nowhere where its credential can be fetched")
    response = await run.fetch(url)
    if response.status_code != 200:
        raise Failed(f"the credential at {url} answered {response.status_code}")
    try:
        document = response.json()
    except ValueError as error:
        raise Failed(f"the credential at {url} is not JSON") from error
    # The credential itself, or a record holding it (this project's `credential_url` answers with the record).
    credential = document.get("credential", document) if isinstance(document, dict) else None
    if not isinstance(credential, dict) or "proof" not in credential:
        raise Failed(f"{url} holds no signed credential (no `proof`)")
    return credential
