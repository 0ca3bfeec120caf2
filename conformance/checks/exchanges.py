"""The exchanges the alliance relies on: a learner's way from a course to a credential, and how the node takes what an
LMS sends (a duplicate counts once; a malformed message is put aside with the reason and the node goes on)."""

import asyncio
import json

from conformance import steps, types
from conformance.run import DEAD_LETTER_REASON, Failed, Run


async def journey(run: Run) -> None:
    """A learner's journey: course approved, offering opened, learner enrolled, grade from the LMS's topic, credential issued"""
    offering = await steps.the_offering(run)
    learner = await steps.enrolled_learner(run, offering)
    submission = steps.grade(run, offering, learner, "1.3")
    await run.send_as_lms(learner.subject, submission)
    await run.event(
        types.GRADE_RECORDED, learner_id=learner.subject, course_id=offering["course_id"], submission_id=submission["id"],
        passed=True,
    )
    issued = await run.event(types.CREDENTIAL_ISSUED, learner_id=learner.subject, course_id=offering["course_id"])
    run.facts["credential"] = await steps.downloaded_credential(run, issued.document)


async def duplicate_grade(run: Run) -> None:
    """A grade delivered twice (the same CloudEvent id) counts once: one grade recorded, one credential issued"""
    offering = await steps.the_offering(run)
    learner = await steps.enrolled_learner(run, offering)
    submission = steps.grade(run, offering, learner, "2.0")
    await run.send_as_lms(learner.subject, submission)
    await run.send_as_lms(learner.subject, submission)
    # Then another grade for the same enrolment (a new id). Messages with one key are handled in order, so once the
    # node has answered this one (a rejection: graded already), it has handled both copies of the first.
    later = steps.grade(run, offering, learner, "1.0")
    await run.send_as_lms(learner.subject, later)
    await run.event(types.GRADE_REJECTED, types.GRADE_RECORDED, learner_id=learner.subject, submission_id=later["id"])
    await run.event(types.CREDENTIAL_ISSUED, learner_id=learner.subject, course_id=offering["course_id"])

    recorded = run.events.found(
        lambda m: m.field("type") == types.GRADE_RECORDED and m.field("data.submission_id") == submission["id"]
    )
    issued = run.events.found(
        lambda m: m.field("type") == types.CREDENTIAL_ISSUED and m.field("data.learner_id") == learner.subject
    )
    run.record(
        f"count the node's events about submission {submission['id']} (sent twice) and learner {learner.subject}",
        f"{len(recorded)} GradeRecorded ({', '.join(m.where for m in recorded)}), "
        f"{len(issued)} CredentialIssued ({', '.join(m.where for m in issued)})",
    )
    if len(recorded) != 1:
        run.fail(f"submission {submission['id']}, delivered twice, was recorded {len(recorded)} times, not once")
    if len(issued) != 1:
        run.fail(f"learner {learner.subject} passed once and got {len(issued)} credentials, not one")


# A message that is not JSON, and a grade submission that breaks its type's JSON Schema (no `grade`).
NOT_JSON = b"this is not a CloudEvent {"


async def dead_letter(run: Run) -> None:
    """A malformed message from the LMS is dead-lettered with the reason, and the node goes on with the next one"""
    offering = await steps.the_offering(run)
    learner = await steps.enrolled_learner(run, offering)
    without_grade = steps.grade(run, offering, learner, "1.7")
    del without_grade["data"]["grade"]
    malformed = [NOT_JSON, json.dumps(without_grade).encode()]
    for value in malformed:
        await run.send_as_lms(learner.subject, value)
    # The no-stray-dead-letters check knows these were meant to be dead-lettered.
    run.facts.setdefault("malformed", set()).update((learner.subject, value) for value in malformed)
    good = steps.grade(run, offering, learner, "1.7")
    await run.send_as_lms(learner.subject, good)

    # Both are waited for at once: a node that dead-letters nothing costs one timeout, not two.
    letters = await asyncio.gather(
        *(
            run.events.wait_for(
                lambda m, value=value: m.topic in run.events.dead_letter_topics and m.key == learner.subject
                and m.value == value,
                run.timeout,
            )
            for value in malformed
        )
    )
    for value, letter in zip(malformed, letters):
        sent = f"Kafka: wait for {value[:60]!r}… (key {learner.subject}) on a dead-letter topic"
        if letter is None:
            run.record(sent, f"nothing within {run.timeout:.0f} s")
            run.fail(
                f"the malformed message {value[:60]!r}… was not put on any dead-letter topic "
                f"({', '.join(run.events.dead_letter_topics) or 'the node has none the auditor may read'})"
            )
            continue
        reason = letter.headers.get(DEAD_LETTER_REASON)
        run.record(sent, f"{letter.where}, reason: {reason}")
        if not reason:
            run.fail(f"the dead letter at {letter.where} has no {DEAD_LETTER_REASON} header saying why")
    try:
        await run.event(types.GRADE_RECORDED, learner_id=learner.subject, submission_id=good["id"])
    except Failed as failure:
        raise Failed(f"the node did not go on after the malformed messages: {failure}") from failure
