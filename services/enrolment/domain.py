"""The enrolment rules, as plain functions: who a learner is (as their identity provider attests), who may apply to an
offering, who gets a place and who waits, what they pay, who moves up when someone withdraws, and the events that tell
the others. No I/O: the caller reads the state (under the offering's lock) and writes the result."""

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from services.enrolment.models import Application, ApplicationStatus, CourseVersion, Learner, Offering
from shared.auth import Affiliation, Principal
from shared.events import Event
from shared.events.common import LearnerCategory, LearnerIdentity, Money
from shared.events.enrolment import (
    EnrolmentWithdrawn,
    FeeStatus,
    LearnerEnrolled,
    LearnerWaitlisted,
    OfferingAvailabilityChanged,
)

T = TypeVar("T")

ALLIANCE = frozenset({LearnerCategory.ALLIANCE_STUDENT, LearnerCategory.ALLIANCE_STAFF})


class Refused(Exception):
    """A request the rules refuse; the message tells the person who asked why."""


class NotFound(Refused):
    pass


class Conflict(Refused):
    """Refused because of the state things are in (registration closed, applied already, ...)."""


class Forbidden(Refused):
    """Refused because of who is asking (their category, the micro-credentials they hold)."""


def found(thing: T | None, what: str) -> T:
    if thing is None:
        raise NotFound(f"no {what}")
    return thing


def registered(learner: Learner | None, subject: str) -> Learner:
    if learner is None:
        raise Conflict(f"{subject} is not registered as a learner yet: register with POST /learners first")
    return learner


# --- who the learner is: what their identity provider attests in their token ---

STAFF_AFFILIATIONS = frozenset({Affiliation.STAFF, Affiliation.FACULTY, Affiliation.EMPLOYEE})


def category_of(affiliation: Collection[Affiliation], alliance_member: bool) -> LearnerCategory:
    """A student of an alliance institution is an alliance student, its staff, faculty and employees alliance staff
    (someone who is both counts as a student); anyone else, including members, affiliates and alumni, is external."""
    if alliance_member and Affiliation.STUDENT in affiliation:
        return LearnerCategory.ALLIANCE_STUDENT
    if alliance_member and STAFF_AFFILIATIONS & set(affiliation):
        return LearnerCategory.ALLIANCE_STAFF
    return LearnerCategory.EXTERNAL


def attested(principal: Principal, alliance_member: bool) -> LearnerIdentity:
    """The learner as their token attests them: name, email, home institution, category and the ESI if it carries one.

    Forbidden, naming the claim, when the token lacks a name or email or carries one the contracts do not accept."""
    missing = [claim for claim, value in (("name", principal.name), ("email", principal.email)) if not value]
    if missing:
        raise Forbidden(
            f"a learner's {' and '.join(missing)} must come from their identity provider: the token of "
            f"{principal.subject} carries no {' or '.join(missing)} claim"
        )
    try:
        return learner_identity(
            principal.subject, principal.name, principal.email, principal.institution, principal.esi,
            category_of(principal.affiliation, alliance_member),
        )
    except ValidationError as error:
        claims = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise Forbidden(f"the token of {principal.subject} carries claims a learner's record cannot hold ({claims})") from error


def attest(learner: Learner, identity: LearnerIdentity) -> bool:
    """Bring the learner's record up to what their token attests now (a new name, email, affiliation); an ESI the
    learner gave stays when the token carries none. Whether anything changed."""
    values = identity.model_dump(include={"name", "email", "home_institution", "category", "esi"}, exclude_none=True)
    values.setdefault("home_institution", None)
    changed = {name: value for name, value in values.items() if getattr(learner, name) != value}
    for name, value in changed.items():
        setattr(learner, name, value)
    return bool(changed)


@dataclass(frozen=True)
class Places:
    """An offering's places as they are while its lock is held."""

    capacity: int | None  # None: no limit
    taken_seats: frozenset[int]
    waitlisted: int


# --- eligibility, in the order a learner is told about it ---


def check_course_open(offering: Offering, course: CourseVersion | None) -> CourseVersion:
    if course is None:
        # The offering arrived before its course's approval (they travel on different topics).
        raise Conflict(
            f"course {offering.course_id} version {offering.course_version} of offering {offering.offering_id} "
            "is not known here yet; try again shortly"
        )
    if course.retired_at is not None:
        raise Conflict(f"course {course.course_id} was retired: its offerings take no new applications")
    return course


def check_registration_window(offering: Offering, now: datetime) -> None:
    if not offering.registration_opens_at <= now < offering.registration_closes_at:
        raise Conflict(
            f"registration for offering {offering.offering_id} opens {offering.registration_opens_at.isoformat()} "
            f"and closes {offering.registration_closes_at.isoformat()}; it is {now.isoformat()} now"
        )


def check_target_group(offering: Offering, category: LearnerCategory) -> None:
    if category not in offering.open_to:
        who = ", ".join(offering.open_to) or "nobody"
        raise Forbidden(f"offering {offering.offering_id} is open to {who}; this learner is {category}")


def missing_prerequisites(
    course: CourseVersion, held_course_ids: Collection[str], declared_qualification: str | None
) -> list[str]:
    """The prerequisite courses still missing: none when all are held, or when a declared qualification stands in."""
    if course.accepts_declared_qualification and (declared_qualification or "").strip():
        return []
    return [course_id for course_id in course.prerequisite_course_ids if course_id not in held_course_ids]


def check_prerequisites(
    course: CourseVersion, held_course_ids: Collection[str], declared_qualification: str | None
) -> None:
    if missing := missing_prerequisites(course, held_course_ids, declared_qualification):
        instead = ", or declare an equivalent qualification" if course.accepts_declared_qualification else ""
        raise Forbidden(
            f"missing prerequisites for course {course.course_id}: {', '.join(missing)} "
            f"(the learner must hold their micro-credentials{instead})"
        )


def check_not_applied(offering: Offering, existing: Application | None) -> None:
    if existing is not None:
        raise Conflict(
            f"this learner applied to offering {offering.offering_id} already: application {existing.id} is {existing.status}"
        )


# --- places, fees, the waitlist ---


@dataclass(frozen=True)
class Seats(Collection[int]):
    """An offering's taken seats as PostgreSQL counts them: 1..highest but for `free` ones (a withdrawal's), without
    reading every seat of a cohort of thousands for each application."""

    highest: int
    free: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return self.highest - len(self.free)

    def __contains__(self, seat: object) -> bool:
        return isinstance(seat, int) and 1 <= seat <= self.highest and seat not in self.free

    def __iter__(self) -> Iterator[int]:
        return (seat for seat in range(1, self.highest + 1) if seat not in self.free)

    def lowest_free(self) -> int:
        return min(self.free) if self.free else self.highest + 1


def free_seat(capacity: int | None, taken_seats: Collection[int]) -> int | None:
    """The lowest free seat, or None when the offering is full."""
    if capacity is not None and len(taken_seats) >= capacity:
        return None
    if isinstance(taken_seats, Seats):
        return taken_seats.lowest_free()
    return next(seat for seat in range(1, len(taken_seats) + 2) if seat not in taken_seats)


def fee_for(category: LearnerCategory, fee: Money | None) -> tuple[Money | None, FeeStatus]:
    """The offering's fee, and whether it is owed: alliance students and staff learn for free (T4EU's guide)."""
    if category in ALLIANCE or fee is None or fee.amount == 0:
        return fee, FeeStatus.WAIVED
    return fee, FeeStatus.DUE


def offering_fee(offering: Offering) -> Money | None:
    return Money.model_validate(offering.fee) if offering.fee else None


def enrol(application: Application, seat: int, offering: Offering, now: datetime, promoted: bool = False) -> None:
    fee, fee_status = fee_for(LearnerCategory(application.learner_category), offering_fee(offering))
    application.status, application.seat, application.position = ApplicationStatus.ENROLLED, seat, None
    application.fee, application.fee_status = (fee.model_dump(mode="json") if fee else None), fee_status
    application.enrolled_at, application.promoted_from_waitlist = now, promoted


def apply(
    *,
    application_id: str,
    learner: Learner,
    offering: Offering,
    course: CourseVersion | None,
    held_course_ids: Collection[str],
    declared_qualification: str | None,
    existing: Application | None,
    places: Places,
    now: datetime,
) -> Application:
    """The learner's new application, enrolled or waitlisted, or Refused saying why not."""
    course = check_course_open(offering, course)
    check_registration_window(offering, now)
    category = LearnerCategory(learner.category)
    check_target_group(offering, category)
    check_prerequisites(course, held_course_ids, declared_qualification)
    check_not_applied(offering, existing)
    application = Application(
        id=application_id,
        offering_id=offering.offering_id,
        learner_id=learner.id,
        learner_category=category,
        status=ApplicationStatus.WAITLISTED,
        position=places.waitlisted + 1,
        declared_qualification=declared_qualification,
        applied_at=now,
    )
    if (seat := free_seat(places.capacity, places.taken_seats)) is not None:
        enrol(application, seat, offering, now)
    return application


def renumber(waitlist: Iterable[Application]) -> None:
    """Positions 1..n in the waitlist's order."""
    for position, application in enumerate(waitlist, start=1):
        application.position = position


@dataclass(frozen=True)
class Withdrawal:
    was_enrolled: bool
    # In the order they were in line.
    promoted: list[Application]
    # The offering's places once the withdrawal and the promotions are done.
    enrolled: int = 0
    waitlisted: int = 0


def withdraw(
    application: Application, offering: Offering, taken_seats: Collection[int], waitlist: list[Application], now: datetime
) -> Withdrawal:
    """Withdraw the application; the first in line take the places that are free then, those behind move up.

    `taken_seats` are the offering's enrolled seats and `waitlist` its waitlisted applications, in order of position.
    """
    if application.status == ApplicationStatus.WITHDRAWN:
        when = application.withdrawn_at.isoformat() if application.withdrawn_at else "an earlier time"
        raise Conflict(f"application {application.id} was withdrawn already, at {when}")
    was_enrolled = application.status == ApplicationStatus.ENROLLED
    taken = set(taken_seats) - {application.seat}
    application.status, application.seat, application.position = ApplicationStatus.WITHDRAWN, None, None
    application.withdrawn_at = now
    waiting = [waiting for waiting in waitlist if waiting.id != application.id]
    promoted: list[Application] = []
    while waiting and (seat := free_seat(offering.capacity, taken)) is not None:
        first = waiting.pop(0)
        enrol(first, seat, offering, now, promoted=True)
        taken.add(seat)
        promoted.append(first)
    renumber(waiting)
    return Withdrawal(was_enrolled, promoted, enrolled=len(taken), waitlisted=len(waiting))


def record_fee(application: Application, status: FeeStatus, recorded_by: str) -> None:
    """A registrar records that a due fee was paid, or waives it. Recording the same status again changes nothing."""
    if application.status != ApplicationStatus.ENROLLED:
        raise Conflict(f"application {application.id} is {application.status}: only an enrolled learner owes a fee")
    if application.fee_status == status:
        return
    if application.fee_status != FeeStatus.DUE:
        raise Conflict(f"the fee of application {application.id} is {application.fee_status}; it cannot become {status}")
    application.fee_status, application.fee_recorded_by = status, recorded_by


def places_left(capacity: int | None, enrolled: int) -> int | None:
    return None if capacity is None else max(capacity - enrolled, 0)


def taken(places: Places, application: Application) -> Places:
    """The offering's places once a new application holds its seat or its place in line (the next application to the
    same offering in the same transaction is decided with these)."""
    if application.status == ApplicationStatus.WAITLISTED:
        return replace(places, waitlisted=places.waitlisted + 1)
    assert application.seat is not None
    seats = places.taken_seats
    if isinstance(seats, Seats):
        highest = max(seats.highest, application.seat)
        return replace(places, taken_seats=Seats(highest, frozenset(seats.free - {application.seat})))
    return replace(places, taken_seats=frozenset(seats | {application.seat}))


# --- what the others are told ---


def identity(learner: Learner) -> LearnerIdentity:
    return learner_identity(
        learner.id, learner.name, learner.email, learner.home_institution, learner.esi, learner.category
    )


def learner_identity(
    learner_id: str, name: str | None, email: str | None, home_institution: str | None, esi: str | None,
    category: LearnerCategory | None,
) -> LearnerIdentity:
    """A learner's identity, built on each of the learner's requests and for each event about them (an address
    already found valid is not checked again: EmailAddress remembers it)."""
    return LearnerIdentity(
        learner_id=learner_id, name=name, email=email, home_institution=home_institution, esi=esi, category=category
    )


def placed(application: Application, offering: Offering, learner: Learner) -> Event:
    """LearnerEnrolled or LearnerWaitlisted, as the application stands."""
    common = {
        "enrolment_id": application.id,
        "course_id": offering.course_id,
        "course_version": offering.course_version,
        # The title the learner applied under: the offering's.
        "course_title": offering.title,
        "offering_id": offering.offering_id,
        "learner": identity(learner),
    }
    if application.status == ApplicationStatus.WAITLISTED:
        assert application.position is not None
        return LearnerWaitlisted(**common, position=application.position, waitlisted_at=application.applied_at)
    assert application.enrolled_at is not None
    return LearnerEnrolled(
        **common,
        enrolled_at=application.enrolled_at,
        fee=Money.model_validate(application.fee) if application.fee else None,
        fee_status=application.fee_status or FeeStatus.WAIVED,
        promoted_from_waitlist=application.promoted_from_waitlist,
    )


def availability(offering: Offering, enrolled: int, waitlisted: int) -> OfferingAvailabilityChanged:
    """The offering's places as they now stand: public counts, no one's name."""
    return OfferingAvailabilityChanged(
        offering_id=offering.offering_id,
        capacity=offering.capacity,
        enrolled=enrolled,
        waitlisted=waitlisted,
        places_left=places_left(offering.capacity, enrolled),
    )


def withdrawn(application: Application, offering: Offering, learner: Learner, was_enrolled: bool) -> EnrolmentWithdrawn:
    assert application.withdrawn_at is not None
    return EnrolmentWithdrawn(
        enrolment_id=application.id,
        course_id=offering.course_id,
        course_title=offering.title,
        offering_id=offering.offering_id,
        learner=identity(learner),
        was_enrolled=was_enrolled,
        withdrawn_at=application.withdrawn_at,
    )
