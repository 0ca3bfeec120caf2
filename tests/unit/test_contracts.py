"""The event contracts: snapshots that catch breaking changes, type names, parsing, and forward compatibility."""

import copy
import json
import random
import re
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import jsonschema
import pytest
from pydantic import Field, ValidationError
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from shared.events import EVENT_TYPES, CloudEvent, Event, InvalidEvent, is_known_kind, parse_message, snapshot
from shared.events.catalogue import AwardingBody, CourseApproved, FormOfParticipation, MicroCredentialDescription
from shared.events.common import LearnerIdentity, Money
from shared.events.lms import GradeSubmitted
from shared.events.snapshot import breaking_changes, current_schemas

SOURCE = "urn:microcredentials:node:test"


def grade_submitted(**changes: Any) -> GradeSubmitted:
    values = dict(
        course_id="course-ai-ethics", learner_id="learner-ada", grade="1.3", passed=True,
        assessed_on=date(2025, 6, 30), assessor="prof-lovelace", lms="moodle.uni-saarland.de",
    )
    return GradeSubmitted(**values | changes)


def description(**changes: Any) -> MicroCredentialDescription:
    values = dict(
        title="Ethics of AI", awarding_bodies=[AwardingBody(name="Saarland University", country="DE")],
        learning_outcomes=["Assess an AI system against the EU AI Act"], languages=["en"], ects=5, workload_hours=125,
        eqf_level=7, type_of_assessment="written exam", form_of_participation=FormOfParticipation.ONLINE,
        type_of_quality_assurance="internal QA of Saarland University",
    )
    return MicroCredentialDescription(**values | changes)


def course_approved() -> CourseApproved:
    return CourseApproved(
        course_id="course-ai-ethics", version=1, description=description(), approved_by="qa-officer",
        approved_at=datetime(2025, 1, 15, 9, 0, tzinfo=UTC),
    )


def on_the_wire(event: Any, edit: Any = None) -> bytes:
    """A wrapped event as a JSON document, after `edit(document)` has had its way with it."""
    document = json.loads(CloudEvent.wrap(event, source=SOURCE).to_bytes())
    if edit:
        edit(document)
    return json.dumps(document).encode()


# (a) The snapshots in the repository are the contracts, and no contract broke.


def stored_snapshots() -> dict[str, dict]:
    return {path.name.removesuffix(".json"): json.loads(path.read_text()) for path in snapshot.SCHEMAS.glob("*.json")}


def test_no_event_contract_broke_since_its_snapshot() -> None:
    changes = breaking_changes(stored_snapshots(), current_schemas())
    assert not changes, (
        "These changes break producers or consumers still on the old contract; instead of changing a contract, "
        "publish a new type (e.g. `.v2`) beside the `.v1` one until everyone has moved:\n  " + "\n  ".join(changes)
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_type_has_an_up_to_date_snapshot(event_type: str) -> None:
    path = snapshot.SCHEMAS / f"{event_type}.json"
    stored = path.read_text() if path.exists() else ""
    assert stored == json.dumps(current_schemas()[event_type], indent=2, sort_keys=True) + "\n", (
        f"The snapshot {path.name} is missing or out of date. If your change is additive (a new optional field, "
        "a new enum value) run `python -m shared.events.snapshot` and commit the result."
    )


def test_snapshot_check_exits_non_zero_listing_the_break(tmp_path, capsys) -> None:
    topics = tmp_path / "topics.json"
    assert snapshot.main([], folder=tmp_path, topics_file=topics) == 0  # Writes a fresh set.
    grade_path = tmp_path / f"{GradeSubmitted.type}.json"
    old = json.loads(grade_path.read_text())
    old["properties"]["rubric"] = {"type": "string"}  # As if the current code had dropped `rubric`.
    grade_path.write_text(json.dumps(old))

    assert snapshot.main(["--check"], folder=tmp_path, topics_file=topics) == 1
    assert f"{GradeSubmitted.type}: data.rubric" in capsys.readouterr().err
    assert snapshot.main([], folder=tmp_path, topics_file=topics) == 1, "a breaking change must not be snapshotted away"


def test_the_published_topic_index_is_up_to_date() -> None:
    stored = json.loads(snapshot.TOPICS.read_text())
    assert stored == snapshot.current_topics(), (
        "shared/events/topics.json (which types each topic carries) is out of date: run `python -m "
        "shared.events.snapshot` and commit the result."
    )
    assert {name for names in stored.values() for name in names} == set(EVENT_TYPES)


def test_moving_a_type_to_another_topic_is_a_breaking_change(tmp_path, capsys) -> None:
    topics = tmp_path / "topics.json"
    assert snapshot.main([], folder=tmp_path, topics_file=topics) == 0
    index = json.loads(topics.read_text())
    index["mc.assessment.grades"].append(GradeSubmitted.type)  # As if grade submissions had been on the grades topic.
    index["mc.lms.{lms}.grade-submissions"].remove(GradeSubmitted.type)
    topics.write_text(json.dumps(index))

    assert snapshot.main(["--check"], folder=tmp_path, topics_file=topics) == 1
    assert f"{GradeSubmitted.type}: moved from topic mc.assessment.grades to mc.lms.{{lms}}.grade-submissions" in (
        capsys.readouterr().err
    )


def test_snapshot_lets_a_non_python_producer_validate_its_json() -> None:
    schema = json.loads((snapshot.SCHEMAS / f"{GradeSubmitted.type}.json").read_text())
    data = json.loads(on_the_wire(grade_submitted()))["data"]
    jsonschema.validate(data, schema)
    with pytest.raises(jsonschema.ValidationError, match="passed"):
        jsonschema.validate({key: value for key, value in data.items() if key != "passed"}, schema)


# (b) breaking_changes on small hand-made schemas.

OLD = {
    "$defs": {
        "Body": {
            "type": "object",
            "properties": {
                "country": {"type": "string"},
                "kind": {"type": "string", "enum": ["university", "company"]},
            },
            "required": ["country"],
        }
    },
    "type": "object",
    "properties": {
        "ects": {"type": "number"},
        "bodies": {"type": "array", "items": {"$ref": "#/$defs/Body"}},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    },
    "required": ["ects", "bodies"],
}


def changes_after(edit: Any) -> list[str]:
    new = copy.deepcopy(OLD)
    edit(new)
    return breaking_changes({"x.thing.happened.v1": OLD}, {"x.thing.happened.v1": new})


@pytest.mark.parametrize(
    ("edit", "path", "what"),
    [
        (lambda s: s["$defs"]["Body"]["properties"].pop("country"), "data.bodies[].country", "removed"),
        (lambda s: s["properties"]["ects"].update(type="string"), "data.ects", "type"),
        (lambda s: s["properties"].update(note={"type": "string"}), "data.note", "type"),
        (lambda s: s["$defs"]["Body"]["properties"]["kind"]["enum"].pop(), "data.bodies[].kind", "company"),
        (lambda s: s["required"].append("note"), "data.note", "required"),
        (lambda s: s["$defs"]["Body"]["required"].append("kind"), "data.bodies[].kind", "required"),
        (lambda s: s["properties"]["ects"].update(maximum=30), "data.ects", "maximum"),
    ],
    ids=["removed", "type", "no-longer-nullable", "enum-value-removed", "required", "nested-required", "constraint"],
)
def test_breaking_changes_finds_each_kind_of_break(edit, path: str, what: str) -> None:
    changes = changes_after(edit)
    assert len(changes) == 1, changes
    assert changes[0].startswith(f"x.thing.happened.v1: {path}:") and what in changes[0]


def test_a_type_that_disappeared_is_a_break() -> None:
    assert breaking_changes({"x.thing.happened.v1": OLD}, {"x.thing.happened.v2": OLD}) == [
        "x.thing.happened.v1: the event type disappeared"
    ]


def test_additive_changes_are_not_breaking() -> None:
    def add(schema: dict) -> None:
        schema["properties"]["contact"] = {"type": "string", "default": ""}
        schema["$defs"]["Body"]["properties"]["kind"]["enum"].append("network")
        schema["$defs"]["Body"]["properties"]["url"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    assert changes_after(add) == []
    assert breaking_changes({"x.thing.happened.v1": OLD}, {"x.thing.happened.v1": OLD, "x.new.happened.v1": OLD}) == []


def test_breaking_changes_reads_pydantic_schemas_through_refs_and_nullable_fields() -> None:
    class StricterDescription(MicroCredentialDescription):
        eqf_level: int = Field(ge=1, le=8)  # Was optional.

    class StricterApproved(CourseApproved):  # No `type` of its own, so not registered.
        description: StricterDescription

    old = CourseApproved.model_json_schema(mode="validation")
    new = StricterApproved.model_json_schema(mode="validation")
    changes = breaking_changes({CourseApproved.type: old}, {CourseApproved.type: new})
    assert changes and all(": data.description.eqf_level: " in change for change in changes)


# (c) Type names.

PRODUCERS = {"catalogue", "enrolment", "assessment", "certification", "notifications", "lms", "alliance"}
IRREGULAR_PAST = {"sent", "paid", "held", "made", "given", "withdrawn", "won", "lost", "built", "spent"}
TYPE_NAME = re.compile(r"eu\.microcredentials\.(?P<service>[a-z]+)\.[a-z]+(-[a-z]+)*\.(?P<fact>[a-z]+)\.v[1-9][0-9]*")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_type_name_says_who_published_which_fact_in_which_version(event_type: str) -> None:
    match = TYPE_NAME.fullmatch(event_type)
    assert match, f"{event_type} is not eu.microcredentials.<service>.<aggregate>.<past-tense-fact>.v<N>"
    fact, service = match["fact"], match["service"]
    assert fact.endswith("ed") or fact in IRREGULAR_PAST, f"{fact!r} is not a fact in the past tense"
    assert service in PRODUCERS
    event_class = EVENT_TYPES[event_type]
    assert event_class.__module__ == f"shared.events.{service}", "declare an event in its producer's module"
    assert event_class.topic.startswith(f"mc.{service}."), "an event travels on a topic of its producer"


def test_a_contract_registered_after_its_type_was_asked_about_is_known_at_once() -> None:
    # A consumer asks about every type it skips, and the answers are cached: a contract imported later must count.
    new_type = "eu.microcredentials.catalogue.test-contract.registered.v1"
    assert not is_known_kind(new_type)
    try:

        class Registered(Event):
            type: ClassVar[str] = new_type

        assert is_known_kind(new_type)
        assert is_known_kind(new_type.replace(".v1", ".v2"))
    finally:
        EVENT_TYPES.pop(new_type)
        is_known_kind.cache_clear()


# (d) parse_message.


def test_parse_message_round_trips_a_wrapped_event() -> None:
    event = grade_submitted()
    wrapped = CloudEvent.wrap(event, source=SOURCE)
    envelope, parsed = parse_message(wrapped.to_bytes())
    assert (envelope, parsed) == (wrapped, event)
    assert isinstance(parsed, GradeSubmitted)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"grade: 1.3", r"not a JSON document"),
        (on_the_wire(grade_submitted(), lambda d: d.pop("id")), r"not a CloudEvent: id\b"),
        (on_the_wire(grade_submitted(), lambda d: d.update(type="eu.x.grade.guessed.v1")), r"eu\.x\.grade\.guessed"),
        (on_the_wire(grade_submitted(), lambda d: d["data"].pop("passed")), r"breaks its contract: data\.passed\b"),
        (
            on_the_wire(course_approved(), lambda d: d["data"]["description"].update(ects=-5)),
            r"course\.approved\.v1 breaks its contract: data\.description\.ects\b",
        ),
    ],
    ids=["not-json", "no-id", "unknown-type", "missing-field", "nested-field"],
)
def test_parse_message_names_the_problem(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidEvent, match=problem):
        parse_message(raw)


# (e) Forward compatibility.


def test_a_consumer_on_an_older_contract_ignores_fields_it_does_not_know() -> None:
    class NewerGradeSubmitted(GradeSubmitted):  # What a producer on a later minor version sends.
        rubric: str = "ai-ethics-2025"

    newer = NewerGradeSubmitted(**grade_submitted().model_dump())
    raw = CloudEvent.wrap(newer, source=SOURCE).to_bytes()
    assert b'"rubric"' in raw

    _, parsed = parse_message(raw)
    assert type(parsed) is GradeSubmitted
    assert parsed == grade_submitted()


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN"])
def test_a_contract_number_is_finite(number: str) -> None:
    """JSON has no infinity, nor has PostgreSQL's jsonb: a body's 1e999 (which Python reads as inf) is refused."""
    with pytest.raises(ValueError, match="finite number"):
        Money.model_validate(json.loads(f'{{"amount": {number}, "currency": "EUR"}}'))


def test_a_learners_email_is_checked_every_time_though_valid_addresses_are_remembered() -> None:
    """Valid addresses are remembered (every service reads the learner of every event); a bad one never slips through
    on a second reading, and a remembered one comes back normalized as before."""
    learner = {"learner_id": "l-1", "name": "Ada"}
    for _ in range(2):
        assert LearnerIdentity(**learner, email="Ada@Uni-Saarland.DE").email == "Ada@uni-saarland.de"
        with pytest.raises(ValueError, match="not a valid email address"):
            LearnerIdentity(**learner, email="ada@@uni-saarland.de")


def test_a_learners_email_is_read_as_email_validator_reads_it() -> None:
    """Plain addresses take a shorter path than email_validator's own (their domain is checked once per domain): on
    thousands of addresses built from good and bad parts, each is accepted, normalized or refused (with the reason)
    exactly as pydantic's email_validator check alone does."""
    locals_ = [
        "ada", "Ada.Lovelace", "a.b-c_d+tag", "o'brien", "x!#$%&'*+/=?^_`{|}~-", "Postmaster", "ABUSE", "info",
        "a" * 64, "a" * 65, "a" * 250, ".ada", "ada.", "a..b", "a b", '"quoted"', "zoë", "ada@x", "", "a\tb",
    ]
    domains = [
        "uni-saarland.de", "Uni-Saarland.DE", "mail.upr.si", "a.b.c.d.example.org", "example.com", "x.org",
        "localhost", "host.local", "uni.test", "uni.invalid", "in-addr.arpa", "hidden.onion", "uni.local.de",
        "uni.123", "uni", "uni.", ".uni.org", "uni..org", "-uni.org", "uni-.org", "ab--cd.org", "xn--bcher-kva.de",
        "xn--zz.de", "a" * 63 + ".org", "a" * 64 + ".org", ".".join(["abcdefghij"] * 25) + ".org", "uni_x.org",
        "[127.0.0.1]", "bücher.de", "UNI.ORG", "u.o", "1.2.3.4",
    ]
    rng = random.Random(13)
    addresses = [f"{local}@{domain}" for local in locals_ for domain in domains]
    alphabet = "aZ09.-_+@'!~ é<>\""
    addresses += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(3000)]
    addresses += [f"{rng.choice(locals_)}{rng.choice(['', '.', '-'])}@{rng.choice(domains)}" for _ in range(1000)]
    for address in addresses:
        try:
            expected = validate_email(address)[1]
        except PydanticCustomError as refusal:
            expected = f"refused: {refusal}"
        for _ in range(2):  # The second time from what was remembered.
            try:
                read = LearnerIdentity(learner_id="l-1", name="Ada", email=address).email
            except ValidationError as refusal:
                read = f"refused: {refusal.errors()[0]['msg']}"
            assert read == expected, address
