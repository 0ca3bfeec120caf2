"""What the alliance is told of a node's catalogue (listings built from the node's facts, and nothing about people),
and which members' listings a node takes in (only what the registry says the sending node hosts)."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from services.alliance import domain
from services.alliance.domain import CourseVersion
from shared.alliance import AllianceRegistry
from shared.events.alliance import CourseDelisted, CourseListed, OfferingDelisted, OfferingListed, ProgrammeListed
from shared.events.catalogue import (
    AwardingBody,
    CourseApproved,
    DeliveryMode,
    FormOfParticipation,
    MicroCredentialDescription,
    OfferingOpened,
    Pace,
    ProgrammeApproved,
    StackingRule,
    StackingRuleKind,
)
from shared.events.common import LearnerCategory, Money
from shared.events.enrolment import OfferingAvailabilityChanged
from tests.alliance import registry_data

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
# Staff of the node whose ids must never leave it.
QA_OFFICER = "thomas.wagner@uni-saarland.de"
SAARLAND = AwardingBody(id="uni-saarland", name="Saarland University", country="DE")
SOFIA = AwardingBody(id="uni-sofia", name="Sofia University", country="BG")


def approved(version: int = 1, title: str = "Green Hydrogen Basics") -> CourseApproved:
    description = MicroCredentialDescription(
        title=title, awarding_bodies=[SAARLAND, SOFIA], learning_outcomes=["Size an electrolyser"], languages=["en"],
        ects=3, workload_hours=75, eqf_level=6, type_of_assessment="Project report",
        form_of_participation=FormOfParticipation.BLENDED, type_of_quality_assurance="Internal QA",
        course_leaders=["Prof. Dr. Maria Schmidt"],
    )
    return CourseApproved(
        course_id="course-h2", version=version, description=description, approved_by=QA_OFFICER,
        approved_at=NOW - timedelta(days=10 - version),
    )


def opened(**terms: object) -> OfferingOpened:
    values: dict[str, object] = dict(
        offering_id="offering-h2-2026", course_id="course-h2", course_version=1, title="Green Hydrogen Basics",
        institution="uni-saarland", delivery_mode=DeliveryMode.BLENDED, pace=Pace.TIME_BOUND,
        starts_on=date(2026, 10, 1), ends_on=date(2026, 12, 20), registration_opens_at=NOW,
        registration_closes_at=NOW + timedelta(days=30), capacity=25, fee=Money(amount=250, currency="EUR"),
    )
    return OfferingOpened(**(values | terms))


def registry() -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data())


# --- what a node lists ---


def test_a_course_is_listed_as_its_newest_approved_version_that_is_not_retired() -> None:
    listing = domain.course_listing("saarland", [CourseVersion(approved(1)), CourseVersion(approved(2, "Hydrogen II"))])
    assert isinstance(listing, CourseListed)
    assert (listing.version, listing.description.title, listing.institutions) == (2, "Hydrogen II", ["uni-saarland", "uni-sofia"])
    assert listing.key == "course/saarland/course-h2", "one key per course and node: compaction keeps the latest"

    older = domain.course_listing("saarland", [CourseVersion(approved(1)), CourseVersion(approved(2), retired=True)])
    assert isinstance(older, CourseListed) and older.version == 1

    gone = domain.course_listing("saarland", [CourseVersion(approved(1), retired=True)])
    assert isinstance(gone, CourseDelisted) and gone.key == listing.key
    assert domain.course_listing("saarland", []) is None


def test_an_offering_waits_for_its_course_version_then_is_listed_whole_with_its_places() -> None:
    assert domain.offering_listing("saarland", opened(), None, None) is None, "its course version has not come yet"

    fresh = domain.offering_listing("saarland", opened(), CourseVersion(approved(1)), None)
    assert isinstance(fresh, OfferingListed)
    assert (fresh.enrolled, fresh.waitlisted, fresh.places_left) == (0, 0, 25), "just opened: every place is free"
    assert fresh.description.ects == 3 and fresh.institutions == ["uni-saarland", "uni-sofia"]
    assert (fresh.fee, fresh.open_to) == (Money(amount=250, currency="EUR"), list(LearnerCategory))

    places = OfferingAvailabilityChanged(offering_id="offering-h2-2026", capacity=25, enrolled=25, waitlisted=3, places_left=0)
    full = domain.offering_listing("saarland", opened(), CourseVersion(approved(1)), places)
    assert isinstance(full, OfferingListed) and (full.enrolled, full.waitlisted, full.places_left) == (25, 3, 0)

    retired = domain.offering_listing("saarland", opened(), CourseVersion(approved(1), retired=True), places)
    assert isinstance(retired, OfferingDelisted) and retired.key == full.key == "offering/saarland/offering-h2-2026"
    assert "course course-h2 version 1 was retired" in retired.reason


def test_nothing_about_people_but_what_the_course_page_shows_leaves_the_node() -> None:
    """Who approved a course or a programme stays at the node; what a description names (its course leaders) is the
    course's public page."""
    rule = StackingRule(kind=StackingRuleKind.ALL_OF, course_ids=["course-h2"])
    programme = ProgrammeApproved(
        programme_id="programme-energy", version=1, title="Energy Transition", awarding_bodies=[SAARLAND], rule=rule,
        approved_by=QA_OFFICER, approved_at=NOW,
    )
    listings = [
        domain.course_listing("saarland", [CourseVersion(approved())]),
        domain.offering_listing("saarland", opened(), CourseVersion(approved()), None),
        domain.programme_listing("saarland", programme),
    ]
    for listing in listings:
        assert listing is not None
        text = json.dumps(listing.model_dump(mode="json"))
        assert QA_OFFICER not in text and "approved_by" not in text, type(listing).__name__
    assert isinstance(listings[2], ProgrammeListed) and listings[2].institutions == ["uni-saarland"]


# --- what a node takes in ---


def test_a_members_listing_is_taken_in_only_for_an_institution_its_node_hosts() -> None:
    alliance = registry()
    theirs = domain.offering_listing("saarland", opened(), CourseVersion(approved()), None)
    assert theirs is not None
    assert domain.refusal(theirs, "saarland", alliance) is None
    htw = theirs.model_copy(update={"institution": "htw-saar"})
    assert domain.refusal(htw, "saarland", alliance) is None, "a node may host several members"

    assert domain.refusal(theirs, "silesia", alliance) == (
        f"{OfferingListed.type} names node 'saarland', but it came from node 'silesia'"
    )
    silesian = theirs.model_copy(update={"institution": "uni-silesia"})
    assert domain.refusal(silesian, "saarland", alliance) == (
        f"{OfferingListed.type} of node saarland speaks for uni-silesia (University of Silesia in Katowice), which "
        "node silesia hosts, not node saarland"
    )
    stranger = theirs.model_copy(update={"institution": "uni-elsewhere"})
    reason = domain.refusal(stranger, "saarland", alliance)
    assert reason is not None and "'uni-elsewhere' is not a member of Transform4Europe (registry serial 1)" in reason

    gone = CourseDelisted(node="saarland", course_id="course-h2", reason="retired")
    assert domain.refusal(gone, "saarland", alliance) is None, "a delisting only takes the node's own thing off"
    assert domain.refusal(gone, "silesia", alliance) is not None


@pytest.mark.parametrize(
    ("node_id", "node_uri", "problem"),
    [
        (None, "urn:microcredentials:node:saarland", "ALLIANCE_NODE_ID is not set"),
        ("vilnius", "urn:microcredentials:node:vilnius", "'vilnius' is not a node of Transform4Europe"),
        ("saarland", "urn:microcredentials:node:local", "but this node's NODE_URI is 'urn:microcredentials:node:local'"),
    ],
)
def test_the_gateway_speaks_for_its_node_only_as_the_registry_names_it(
    node_id: str | None, node_uri: str, problem: str
) -> None:
    assert problem in (domain.membership_problem(registry(), node_id, node_uri) or "")
    assert domain.membership_problem(registry(), "saarland", "urn:microcredentials:node:saarland") is None
    assert "no alliance registry is in use" in (domain.membership_problem(None, "saarland", node_uri) or "")
