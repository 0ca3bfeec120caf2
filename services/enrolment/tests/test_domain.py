"""The enrolment rules without a database: eligibility in order, places and the waitlist, fees, withdrawals."""

from datetime import UTC, datetime, timedelta

import pytest

from services.enrolment import domain
from services.enrolment.domain import Conflict, Forbidden, NotFound, Places
from services.enrolment.models import Application, ApplicationStatus, CourseVersion, Learner, Offering
from shared.auth import Affiliation, Principal, Role
from shared.events.common import LearnerCategory, Money
from shared.events.enrolment import FeeStatus, LearnerEnrolled, LearnerWaitlisted

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEE = {"amount": 150.0, "currency": "EUR"}


def offering(**terms: object) -> Offering:
    defaults: dict[str, object] = {
        "offering_id": "offering-green-h2-2026",
        "course_id": "course-green-h2",
        "course_version": 2,
        "title": "Green Hydrogen Basics",
        "institution": "uni-saarland",
        "delivery_mode": "blended",
        "pace": "time-bound",
        "registration_opens_at": NOW - timedelta(days=7),
        "registration_closes_at": NOW + timedelta(days=7),
        "capacity": 2,
        "fee": FEE,
        "open_to": list(LearnerCategory),
        "opened_at": NOW - timedelta(days=8),
    }
    return Offering(**(defaults | terms))


def course(**terms: object) -> CourseVersion:
    defaults: dict[str, object] = {
        "course_id": "course-green-h2",
        "version": 2,
        "title": "Green Hydrogen Basics",
        "prerequisite_course_ids": [],
        "approved_at": NOW - timedelta(days=30),
    }
    return CourseVersion(**(defaults | terms))


def learner(category: LearnerCategory = LearnerCategory.ALLIANCE_STUDENT, learner_id: str = "ana") -> Learner:
    return Learner(id=learner_id, name="Ana Horvat", email=f"{learner_id}@upr.si", category=category)


def application(status: ApplicationStatus, app_id: str, seat: int | None = None, position: int | None = None,
                category: LearnerCategory = LearnerCategory.ALLIANCE_STUDENT) -> Application:
    return Application(id=app_id, offering_id="offering-green-h2-2026", learner_id=f"learner-{app_id}",
                       learner_category=category, status=status, seat=seat, position=position, applied_at=NOW)


def apply(
    the_learner: Learner | None = None,
    the_offering: Offering | None = None,
    the_course: CourseVersion | None = None,
    held: set[str] | None = None,
    declared: str | None = None,
    existing: Application | None = None,
    places: Places = Places(capacity=2, taken_seats=frozenset(), waitlisted=0),
    now: datetime = NOW,
) -> Application:
    return domain.apply(
        application_id="app-1",
        learner=the_learner or learner(),
        offering=the_offering or offering(),
        course=the_course or course(),
        held_course_ids=held or set(),
        declared_qualification=declared,
        existing=existing,
        places=places,
        now=now,
    )


# --- who may apply ---


def test_an_unknown_offering_or_an_unregistered_learner_is_named() -> None:
    with pytest.raises(NotFound, match="no offering offering-x"):
        domain.found(None, "offering offering-x")
    with pytest.raises(Conflict, match="ana@upr.si is not registered as a learner.*POST /learners"):
        domain.registered(None, "ana@upr.si")


def test_a_retired_course_takes_no_new_applications() -> None:
    with pytest.raises(Conflict, match="course course-green-h2 was retired"):
        apply(the_course=course(retired_at=NOW - timedelta(days=1)))


def test_an_offering_whose_course_version_has_not_arrived_yet_asks_to_try_again() -> None:
    with pytest.raises(Conflict, match="course-green-h2 version 2 .* not known here yet"):
        domain.apply(application_id="a", learner=learner(), offering=offering(), course=None, held_course_ids=set(),
                     declared_qualification=None, existing=None, places=Places(2, frozenset(), 0), now=NOW)


@pytest.mark.parametrize("now", [NOW - timedelta(days=8), NOW + timedelta(days=7), NOW + timedelta(days=30)])
def test_outside_the_registration_window_the_refusal_names_the_window(now: datetime) -> None:
    the_offering = offering()
    with pytest.raises(Conflict) as refusal:
        apply(now=now)
    message = str(refusal.value)
    assert f"opens {the_offering.registration_opens_at.isoformat()}" in message
    assert f"closes {the_offering.registration_closes_at.isoformat()}" in message


def test_a_learner_outside_the_target_group_is_told_who_may_apply() -> None:
    alliance_only = offering(open_to=[LearnerCategory.ALLIANCE_STUDENT, LearnerCategory.ALLIANCE_STAFF])
    with pytest.raises(Forbidden, match="open to alliance-student, alliance-staff; this learner is external"):
        apply(the_learner=learner(LearnerCategory.EXTERNAL), the_offering=alliance_only)


def test_missing_prerequisites_are_listed() -> None:
    advanced = course(prerequisite_course_ids=["course-basics", "course-lab", "course-stats"])
    with pytest.raises(Forbidden, match=r"missing prerequisites for course course-green-h2: course-basics, course-stats \("):
        apply(the_course=advanced, held={"course-lab"})


def test_held_prerequisites_let_the_learner_in() -> None:
    advanced = course(prerequisite_course_ids=["course-basics"])
    assert apply(the_course=advanced, held={"course-basics"}).status == ApplicationStatus.ENROLLED


def test_a_declared_qualification_stands_in_only_where_the_course_accepts_one() -> None:
    strict = course(prerequisite_course_ids=["course-basics"])
    lenient = course(prerequisite_course_ids=["course-basics"], accepts_declared_qualification=True)
    with pytest.raises(Forbidden, match="course-basics"):
        apply(the_course=strict, declared="MSc Chemistry, University of Ljubljana")
    with pytest.raises(Forbidden, match="or declare an equivalent qualification"):
        apply(the_course=lenient, declared="   ")
    accepted = apply(the_course=lenient, declared="MSc Chemistry, University of Ljubljana")
    assert accepted.status == ApplicationStatus.ENROLLED
    assert accepted.declared_qualification == "MSc Chemistry, University of Ljubljana"


def test_applying_twice_to_one_offering_is_refused_naming_the_first_application() -> None:
    first = application(ApplicationStatus.WAITLISTED, "app-0", position=3)
    with pytest.raises(Conflict, match="applied to offering offering-green-h2-2026 already: application app-0 is waitlisted"):
        apply(existing=first)


def test_the_checks_come_in_order_window_before_target_group_before_prerequisites() -> None:
    everything_wrong = dict(
        the_learner=learner(LearnerCategory.EXTERNAL),
        the_offering=offering(open_to=[LearnerCategory.ALLIANCE_STUDENT]),
        the_course=course(prerequisite_course_ids=["course-basics"]),
        existing=application(ApplicationStatus.ENROLLED, "app-0", seat=1),
    )
    with pytest.raises(Conflict, match="registration"):
        apply(**everything_wrong, now=NOW + timedelta(days=30))
    with pytest.raises(Forbidden, match="open to"):
        apply(**everything_wrong)
    with pytest.raises(Forbidden, match="prerequisites"):
        apply(**everything_wrong | {"the_learner": learner(LearnerCategory.ALLIANCE_STUDENT)})


# --- places and fees ---


def test_a_learner_gets_the_lowest_free_seat_while_places_remain() -> None:
    placed = apply(places=Places(capacity=3, taken_seats=frozenset({1, 3}), waitlisted=0))
    assert (placed.status, placed.seat, placed.position, placed.enrolled_at) == (ApplicationStatus.ENROLLED, 2, None, NOW)


def test_when_full_the_learner_joins_the_end_of_the_waitlist() -> None:
    waiting = apply(places=Places(capacity=2, taken_seats=frozenset({1, 2}), waitlisted=4))
    assert (waiting.status, waiting.seat, waiting.position) == (ApplicationStatus.WAITLISTED, None, 5)
    assert waiting.fee_status is None, "nothing is owed before there is a place"


def test_an_offering_without_capacity_never_fills() -> None:
    placed = apply(the_offering=offering(capacity=None), places=Places(None, frozenset(range(1, 1001)), 0))
    assert (placed.status, placed.seat) == (ApplicationStatus.ENROLLED, 1001)


def test_seats_counted_by_the_database_give_the_same_seats_as_the_seats_themselves() -> None:
    """Seats(highest, free) stands for the taken seats 1..highest but the free ones, as routes.places counts them."""
    for taken in (frozenset(), frozenset({1, 2, 3}), frozenset({1, 3}), frozenset({2, 3, 5})):
        counted = domain.Seats(max(taken, default=0), frozenset(range(1, max(taken, default=0) + 1)) - taken)
        assert (len(counted), set(counted), 4 in counted) == (len(taken), set(taken), 4 in taken)
        for capacity in (None, 3, 4):
            assert domain.free_seat(capacity, counted) == domain.free_seat(capacity, taken), (taken, capacity)


@pytest.mark.parametrize(
    ("category", "fee", "expected"),
    [
        (LearnerCategory.ALLIANCE_STUDENT, Money(**FEE), FeeStatus.WAIVED),
        (LearnerCategory.ALLIANCE_STAFF, Money(**FEE), FeeStatus.WAIVED),
        (LearnerCategory.EXTERNAL, Money(**FEE), FeeStatus.DUE),
        (LearnerCategory.EXTERNAL, None, FeeStatus.WAIVED),
        (LearnerCategory.EXTERNAL, Money(amount=0, currency="EUR"), FeeStatus.WAIVED),
    ],
)
def test_alliance_students_and_staff_learn_for_free_and_external_learners_owe_the_fee(
    category: LearnerCategory, fee: Money | None, expected: FeeStatus
) -> None:
    assert domain.fee_for(category, fee) == (fee, expected)


def test_an_external_learners_place_carries_the_offerings_fee_as_due() -> None:
    placed = apply(the_learner=learner(LearnerCategory.EXTERNAL))
    assert (placed.fee, placed.fee_status) == (FEE, FeeStatus.DUE)


def test_a_registrar_records_a_due_fee_as_paid_once() -> None:
    placed = apply(the_learner=learner(LearnerCategory.EXTERNAL))
    domain.record_fee(placed, FeeStatus.PAID, "registrar@uni-saarland.de")
    domain.record_fee(placed, FeeStatus.PAID, "registrar@uni-saarland.de")
    assert (placed.fee_status, placed.fee_recorded_by) == (FeeStatus.PAID, "registrar@uni-saarland.de")
    with pytest.raises(Conflict, match="is paid; it cannot become waived"):
        domain.record_fee(placed, FeeStatus.WAIVED, "registrar@uni-saarland.de")


def test_no_fee_is_recorded_for_a_learner_without_a_place() -> None:
    waiting = application(ApplicationStatus.WAITLISTED, "app-9", position=1)
    with pytest.raises(Conflict, match="app-9 is waitlisted: only an enrolled learner owes a fee"):
        domain.record_fee(waiting, FeeStatus.PAID, "registrar")


def test_places_left() -> None:
    assert domain.places_left(30, 12) == 18
    assert domain.places_left(30, 31) == 0, "a capacity lowered below the enrolled never goes negative"
    assert domain.places_left(None, 500) is None


# --- withdrawals ---


def full_offering_with_waitlist() -> tuple[Offering, list[Application], list[Application]]:
    enrolled = [application(ApplicationStatus.ENROLLED, f"e{seat}", seat=seat) for seat in (1, 2)]
    waitlist = [
        application(ApplicationStatus.WAITLISTED, f"w{position}", position=position, category=category)
        for position, category in ((1, LearnerCategory.EXTERNAL), (2, LearnerCategory.ALLIANCE_STUDENT), (3, LearnerCategory.ALLIANCE_STAFF))
    ]
    return offering(capacity=2), enrolled, waitlist


def test_an_enrolled_learners_withdrawal_promotes_the_first_in_line_to_the_freed_seat() -> None:
    the_offering, enrolled, waitlist = full_offering_with_waitlist()
    later = NOW + timedelta(days=1)

    withdrawal = domain.withdraw(enrolled[0], the_offering, {1, 2}, waitlist, later)

    assert withdrawal.was_enrolled and withdrawal.promoted == [waitlist[0]]
    assert (enrolled[0].status, enrolled[0].seat, enrolled[0].withdrawn_at) == (ApplicationStatus.WITHDRAWN, None, later)
    first = waitlist[0]
    assert (first.status, first.seat, first.position, first.promoted_from_waitlist) == (ApplicationStatus.ENROLLED, 1, None, True)
    assert (first.fee, first.fee_status, first.enrolled_at) == (FEE, FeeStatus.DUE, later), "an external learner's fee"
    assert [(a.id, a.position) for a in waitlist[1:]] == [("w2", 1), ("w3", 2)]


def test_a_waitlisted_learners_withdrawal_moves_those_behind_up() -> None:
    the_offering, _, waitlist = full_offering_with_waitlist()

    withdrawal = domain.withdraw(waitlist[1], the_offering, {1, 2}, waitlist, NOW)

    assert not withdrawal.was_enrolled and withdrawal.promoted == []
    assert (waitlist[1].status, waitlist[1].position) == (ApplicationStatus.WITHDRAWN, None)
    assert [(a.id, a.position) for a in waitlist if a.status == ApplicationStatus.WAITLISTED] == [("w1", 1), ("w3", 2)]


def test_a_withdrawal_with_nobody_waiting_just_frees_the_seat() -> None:
    the_offering, enrolled, _ = full_offering_with_waitlist()
    withdrawal = domain.withdraw(enrolled[1], the_offering, {1, 2}, [], NOW)
    assert withdrawal.promoted == [] and enrolled[1].status == ApplicationStatus.WITHDRAWN


def test_a_lowered_capacity_promotes_nobody_until_the_offering_is_below_it() -> None:
    _, enrolled, waitlist = full_offering_with_waitlist()
    withdrawal = domain.withdraw(enrolled[0], offering(capacity=1), {1, 2}, waitlist, NOW)
    assert withdrawal.promoted == [] and [a.position for a in waitlist] == [1, 2, 3]


def test_the_places_an_offering_has_left_are_published_as_counts_after_each_change() -> None:
    """What the catalogue and the alliance are told: how many have a place and wait, never who."""
    placed = apply(places=Places(capacity=2, taken_seats=frozenset({1}), waitlisted=0))
    after = domain.taken(Places(2, frozenset({1}), 0), placed)
    assert (len(after.taken_seats), after.waitlisted) == (2, 0)
    waiting = apply(places=Places(capacity=2, taken_seats=frozenset({1, 2}), waitlisted=3))
    after = domain.taken(Places(2, frozenset({1, 2}), 3), waiting)
    assert (len(after.taken_seats), after.waitlisted) == (2, 4)

    the_offering, enrolled, waitlist = full_offering_with_waitlist()
    promoted = domain.withdraw(enrolled[0], the_offering, {1, 2}, waitlist, NOW)
    assert (promoted.enrolled, promoted.waitlisted) == (2, 2), "the first in line took the freed seat"
    left = domain.withdraw(waitlist[2], the_offering, {1, 2}, waitlist[1:], NOW)
    assert (left.enrolled, left.waitlisted) == (2, 1)

    availability = domain.availability(offering(capacity=2), 2, 1)
    assert availability.model_dump() == {
        "offering_id": "offering-green-h2-2026", "capacity": 2, "enrolled": 2, "waitlisted": 1, "places_left": 0
    }
    assert availability.key == "offering-green-h2-2026", "one offering's counts stay in order on one partition"
    assert domain.availability(offering(capacity=None), 40, 0).places_left is None, "no limit"


def test_withdrawing_twice_is_refused() -> None:
    the_offering, enrolled, waitlist = full_offering_with_waitlist()
    domain.withdraw(enrolled[0], the_offering, {1, 2}, waitlist, NOW)
    with pytest.raises(Conflict, match="application e1 was withdrawn already"):
        domain.withdraw(enrolled[0], the_offering, {2}, waitlist[1:], NOW)


# --- who the learner is: what their token attests ---


@pytest.mark.parametrize(
    ("affiliation", "alliance_member", "category"),
    [
        ({Affiliation.STUDENT}, True, LearnerCategory.ALLIANCE_STUDENT),
        ({Affiliation.STUDENT, Affiliation.EMPLOYEE}, True, LearnerCategory.ALLIANCE_STUDENT),
        ({Affiliation.FACULTY}, True, LearnerCategory.ALLIANCE_STAFF),
        ({Affiliation.STAFF, Affiliation.MEMBER}, True, LearnerCategory.ALLIANCE_STAFF),
        ({Affiliation.MEMBER}, True, LearnerCategory.EXTERNAL),
        ({Affiliation.ALUM}, True, LearnerCategory.EXTERNAL),
        ({Affiliation.STUDENT}, False, LearnerCategory.EXTERNAL),
        (set(), True, LearnerCategory.EXTERNAL),
    ],
)
def test_the_category_comes_from_the_affiliation_at_an_alliance_institution(
    affiliation: set[Affiliation], alliance_member: bool, category: LearnerCategory
) -> None:
    assert domain.category_of(affiliation, alliance_member) == category


def token(**claims: object) -> Principal:
    values: dict[str, object] = {
        "subject": "ana", "name": "Ana Horvat", "email": "ana@upr.si", "roles": {Role.LEARNER}, "institution": "upr",
        "affiliation": {Affiliation.STUDENT},
    }
    return Principal(**values | claims)


def test_a_learner_is_who_their_token_says_and_a_token_without_name_or_email_is_refused() -> None:
    attested = domain.attested(token(esi="urn:schac:personalUniqueCode:int:esi:si:1"), alliance_member=True)
    assert (attested.name, attested.email, attested.home_institution, attested.category, attested.esi) == (
        "Ana Horvat", "ana@upr.si", "upr", LearnerCategory.ALLIANCE_STUDENT, "urn:schac:personalUniqueCode:int:esi:si:1"
    )
    with pytest.raises(Forbidden, match="the token of ana carries no name or email claim"):
        domain.attested(token(name=None, email=None), alliance_member=True)
    with pytest.raises(Forbidden, match="email"):
        domain.attested(token(email="not an address"), alliance_member=True)


def test_the_record_follows_the_token_and_keeps_an_esi_the_learner_gave_when_the_token_has_none() -> None:
    record = learner(LearnerCategory.ALLIANCE_STUDENT)
    record.home_institution, record.esi = "upr", "urn:schac:personalUniqueCode:int:esi:si:27000123"
    assert not domain.attest(record, domain.attested(token(email="ana@upr.si"), alliance_member=True))
    changed = domain.attest(
        record, domain.attested(token(name="Ana Novak", affiliation={Affiliation.STAFF}), alliance_member=True)
    )
    assert changed and (record.name, record.category) == ("Ana Novak", LearnerCategory.ALLIANCE_STAFF)
    assert record.esi == "urn:schac:personalUniqueCode:int:esi:si:27000123"


# --- what the others are told ---


def test_the_events_carry_the_offering_the_fee_and_the_position() -> None:
    the_offering, the_learner = offering(), learner(LearnerCategory.EXTERNAL)
    placed = apply(the_learner=the_learner)
    enrolled = domain.placed(placed, the_offering, the_learner)
    assert isinstance(enrolled, LearnerEnrolled)
    assert (enrolled.offering_id, enrolled.fee, enrolled.fee_status) == (the_offering.offering_id, Money(**FEE), FeeStatus.DUE)
    assert enrolled.learner.category == LearnerCategory.EXTERNAL and not enrolled.promoted_from_waitlist

    waiting = apply(places=Places(2, frozenset({1, 2}), 6))
    waitlisted = domain.placed(waiting, the_offering, learner())
    assert isinstance(waitlisted, LearnerWaitlisted) and waitlisted.position == 7


def test_applications_decided_together_each_take_the_places_the_ones_before_them_left() -> None:
    """Applications that share a transaction (services/enrolment/applications.py): a seat a withdrawal freed first,
    then the next seats, then the waitlist in order."""
    places = Places(capacity=4, taken_seats=domain.Seats(3, frozenset({2})), waitlisted=0)
    decided = []
    for _ in range(4):
        application = apply(places=places)
        decided.append(application.seat or -application.position)
        places = domain.taken(places, application)
    assert decided == [2, 4, -1, -2]
    assert (len(places.taken_seats), places.waitlisted) == (4, 2)
