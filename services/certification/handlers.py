"""Kafka handlers of the certification service."""

import functools
import uuid
from dataclasses import dataclass, field

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.certification import domain, endorsements, issuing, stacking
from services.certification.endorsements import Endorsing
from services.certification.domain import Amendment, NotIssuable
from services.certification.issuing import Issuer
from services.certification.models import CourseVersion, Credential, Grade
from shared.consumer import Handler, Unprocessable
from shared.db import UnitOfWork
from shared.events import CloudEvent, Event
from shared.events.alliance import EndorsementDeclined, EndorsementRequested, EndorsementSigned
from shared.events.assessment import GradeAmended, GradeRecorded
from shared.events.catalogue import (
    CourseApproved,
    JointCourseConsented,
    JointCourseConsentWithdrawn,
    MicroCredentialDescription,
    ProgrammeApproved,
)

AMENDED_BY = "assessment"


async def course_approved(event: CourseApproved, envelope: CloudEvent, uow: UnitOfWork) -> None:
    await uow.session.execute(
        insert(CourseVersion)
        .values(course_id=event.course_id, version=event.version, description=event.description.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )


async def _course(uow: UnitOfWork, course_id: str, version: int) -> MicroCredentialDescription:
    key = ("course", course_id, version)
    if key not in uow.cache:  # A cohort's grades in one batch read the same course; approved versions never change.
        course = await uow.session.get(CourseVersion, (course_id, version))
        if course is None:
            raise Unprocessable(f"course {course_id} version {version} was never approved here")
        uow.cache[key] = MicroCredentialDescription.model_validate(course.description)
    return uow.cache[key]


async def _issue(
    uow: UnitOfWork,
    issuer: Issuer,
    grade: GradeRecorded | GradeAmended,
    course_version: int,
    replaces: Credential | None = None,
    credential_id: str | None = None,
) -> None:
    course = await _course(uow, grade.course_id, course_version)
    try:
        issued = await issuing.issue(uow, issuer, grade, course_version, course, replaces, credential_id)
    except NotIssuable as error:
        raise Unprocessable(str(error)) from error
    await endorsements.ask_for_endorsements(uow, issuer.endorsing, issued)
    await stacking.after_issue(uow, issuer, issued)


async def _live_credential(uow: UnitOfWork, learner_id: str, course_id: str, version: int | None) -> Credential | None:
    query = select(Credential).where(
        Credential.learner_id == learner_id, Credential.course_id == course_id, Credential.revoked_at.is_(None)
    )
    if version is not None:
        query = query.where(Credential.course_version == version)
    return (await issuing.read(uow, query.with_for_update())).first()


# The transaction's grades waiting to be written (UnitOfWork.rows), and what its passing grades are already credited
# with (read once for a batch of grades, not once per grade).
GRADES = "grades"
CREDITED = "credited"


@dataclass
class Credited:
    """Of the grades asked about: those a credential was issued for, and the live credentials' (learner, course,
    version)."""

    asked: set[str] = field(default_factory=set)
    grades: set[str] = field(default_factory=set)
    live: set[tuple[str, str, int]] = field(default_factory=set)


async def _credited(uow: UnitOfWork, event: GradeRecorded) -> Credited:
    credited = uow.cache.get(CREDITED)
    if credited is None or event.grade_id not in credited.asked:
        batch = [e for e in uow.events if isinstance(e, GradeRecorded) and domain.earns_credential(e)]
        if event.grade_id not in {e.grade_id for e in batch}:
            batch = [event]
        credited = Credited(asked={e.grade_id for e in batch})
        query = select(
            Credential.grade_id, Credential.learner_id, Credential.course_id, Credential.course_version,
            Credential.revoked_at,
        ).where(
            Credential.learner_id.in_({e.learner_id for e in batch}),
            Credential.course_id.in_({e.course_id for e in batch}),
        )
        for grade_id, learner_id, course_id, version, revoked_at in (await issuing.read(uow, query)).all():
            if grade_id is not None:
                credited.grades.add(grade_id)
            if revoked_at is None:
                credited.live.add((learner_id, course_id, version))
        uow.cache[CREDITED] = credited
    return credited


async def _write_grades(uow: UnitOfWork, rows: list[dict]) -> None:
    await uow.insert_unless_known(Grade, rows)


async def grade_recorded(
    event: GradeRecorded, envelope: CloudEvent, uow: UnitOfWork, *, issuer: Issuer
) -> None:
    # A batch's credentials are written together on commit (issuing.CREDENTIALS): a second pass for the same learner
    # and course within one batch is seen by the read-ahead (below), and the unique index of live credentials stands
    # behind it.
    # Written with the rest of the batch's grades when the transaction commits (one statement, not one each).
    uow.rows(GRADES, functools.partial(_write_grades, uow)).append(
        dict(
            grade_id=event.grade_id,
            learner_id=event.learner_id,
            course_id=event.course_id,
            course_version=event.course_version,
            learner=event.learner.model_dump(mode="json"),
            grade=event.grade,
            passed=event.passed,
        )
    )
    if not domain.earns_credential(event):
        return
    # The same pass delivered again, or submitted twice by the LMS: one credential. (Two instances racing on the same
    # learner and course: the unique index of live credentials refuses the second, whose retry then lands here.)
    credited = await _credited(uow, event)
    course = (event.learner_id, event.course_id, event.course_version)
    if event.grade_id in credited.grades or course in credited.live:
        return
    await _issue(uow, issuer, event, event.course_version)
    credited.grades.add(event.grade_id)
    credited.live.add(course)


async def grade_amended(
    event: GradeAmended, envelope: CloudEvent, uow: UnitOfWork, *, issuer: Issuer
) -> None:
    # Grades of this transaction not written yet are written first, and what the batch's grades were credited with is
    # read again after this amendment's changes.
    await uow.write_rows(GRADES)
    uow.cache.pop(CREDITED, None)
    grade = await uow.session.get(Grade, event.grade_id, with_for_update=True)
    version = event.course_version or (grade.course_version if grade else None)
    if grade is not None:
        grade.grade, grade.passed = event.grade, event.passed
        uow.session.add(grade)
    held = await _live_credential(uow, event.learner_id, event.course_id, version)
    action = domain.amendment(event.previous_passed, event.passed, event.previous_grade, event.grade, held is not None)
    reason = f"grade amended from {event.previous_grade} to {event.grade}: {event.reason}"
    if action is Amendment.ISSUE:
        if version is None:
            raise Unprocessable(
                f"grade {event.grade_id} was never recorded here and the amendment names no course version"
            )
        await _issue(uow, issuer, event, version)
    elif action is Amendment.REVOKE:
        assert held is not None
        await issuing.revoke(uow, issuer.settings, held, reason, AMENDED_BY)
    elif action is Amendment.REISSUE:
        assert held is not None
        replacement_id = str(uuid.uuid4())
        await issuing.revoke(uow, issuer.settings, held, reason, AMENDED_BY, replaced_by=replacement_id)
        await uow.session.flush()  # The old credential is no longer live before its replacement is stored.
        await _issue(uow, issuer, event, held.course_version, replaces=held, credential_id=replacement_id)


def event_handlers(issuer: Issuer, endorsing: Endorsing) -> dict[type[Event], Handler]:
    return {
        CourseApproved: course_approved,
        GradeRecorded: functools.partial(grade_recorded, issuer=issuer),
        GradeAmended: functools.partial(grade_amended, issuer=issuer),
        ProgrammeApproved: functools.partial(stacking.programme_approved, issuer=issuer),
        # Joint credentials across nodes: the members' course versions this node consented to co-award (its catalogue
        # says), and the endorsement exchange.
        JointCourseConsented: endorsements.course_consented,
        JointCourseConsentWithdrawn: endorsements.consent_withdrawn,
        EndorsementRequested: functools.partial(endorsements.endorsement_requested, endorsing=endorsing),
        EndorsementSigned: functools.partial(endorsements.endorsement_signed, endorsing=endorsing),
        EndorsementDeclined: functools.partial(endorsements.endorsement_declined, endorsing=endorsing),
    }
