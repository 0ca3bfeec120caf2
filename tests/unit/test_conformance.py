"""The conformance kit's judgements that need no node: an event against the published contract, a node description,
a status list's bit, a DID document, schemathesis's findings, and the report a person reads."""

import base64
import gzip
import json
from pathlib import Path

import pytest

from conformance import contract
from conformance.checks.alliance import addressed_problems, attachment_problems
from conformance.checks.credentials import _bit, did_document_problems, did_web_url
from conformance.checks.events import event_problems
from conformance.checks.http_apis import _failures
from conformance.description import InvalidDescription, load
from conformance.kafka import Message
from conformance.report import Exchange, Report, Result, Status
from shared.events import CloudEvent
from shared.events.alliance import EndorsementRequested
from tests.e2e.broken_assessment import grade_recorded

SOURCE = "urn:microcredentials:node:test"
GRADES = "mc.assessment.grades"
SUBMISSION = {"id": "submission-1", "data": {"learner_id": "learner-ada", "course_id": "course-1", "grade": "1.3"}}


def message(document: dict | bytes, topic: str = GRADES) -> Message:
    value = document if isinstance(document, bytes) else json.dumps(document).encode()
    return Message(topic=topic, partition=0, offset=7, key="learner-ada", headers={}, value=value)


def conforming_grade() -> dict:
    event = grade_recorded(SUBMISSION, SOURCE)
    event["data"]["passed"] = True
    return event


def test_a_grade_recorded_by_the_contract_conforms():
    assert event_problems(message(conforming_grade()), contract.events(), SOURCE) == []


def test_the_broken_stubs_grade_breaks_its_schema_for_lacking_passed():
    problems = event_problems(message(grade_recorded(SUBMISSION, SOURCE)), contract.events(), SOURCE)
    assert problems == ["data: 'passed' is a required property (the type's JSON Schema)"]


def test_an_event_on_another_topic_or_under_another_name_is_named_as_such():
    event = conforming_grade() | {"source": "urn:microcredentials:node:elsewhere"}
    problems = event_problems(message(event, topic="mc.certification.credentials"), contract.events(), SOURCE)
    assert problems == [
        "eu.microcredentials.assessment.grade.recorded.v1 belongs on topic mc.assessment.grades, not on "
        "mc.certification.credentials (shared/events/topics.json)",
        "source 'urn:microcredentials:node:elsewhere' is not the node's 'urn:microcredentials:node:test': a node "
        "publishes under its own name",
    ]


def test_an_unknown_type_and_a_message_that_is_no_cloudevent_are_refused():
    unknown = conforming_grade() | {"type": "eu.microcredentials.assessment.grade.guessed.v1"}
    assert event_problems(message(unknown), contract.events(), SOURCE) == [
        "type 'eu.microcredentials.assessment.grade.guessed.v1' is not in the published contract (shared/events/schemas/)"
    ]
    [problem] = event_problems(message(b"not json {"), contract.events(), SOURCE)
    assert problem.endswith("(a structured-mode CloudEvent 1.0 is required)")


def test_every_type_of_the_contract_has_one_topic():
    events = contract.events()
    assert all(events.topics_of(event_type) for event_type in events.schemas)
    assert "mc.lms.{lms}.grade-submissions" not in events.node_topics()


def description(**changes: object) -> dict:
    return {
        "source": SOURCE,
        "services": {name: "http://127.0.0.1:8000" for name in ("catalogue", "enrolment", "assessment", "certification", "notifications")},
        "kafka": {
            "bootstrap_servers": "127.0.0.1:9092",
            "auditor": {"properties": "kafka/auditor-conformance.properties"},
            "lms": {"id": "moodle-saarland", "username": "lms-moodle-saarland", "password": "secret"},
        },
        "institution": {"id": "uni-saarland", "name": "Saarland University", "country": "DE"},
        "tokens": {"signing_key": "token-key.pem"},
    } | changes


def test_a_description_resolves_its_paths_from_its_own_folder(tmp_path: Path):
    path = tmp_path / "node.json"
    path.write_text(json.dumps(description()))
    loaded = load(str(path))
    assert loaded.kafka.auditor.properties == tmp_path / "kafka" / "auditor-conformance.properties"
    assert loaded.tokens.signing_key == tmp_path / "token-key.pem"
    assert loaded.url("catalogue", "/courses") == "http://127.0.0.1:8000/courses"


def test_the_example_description_is_one():
    assert load(str(contract.ROOT / "conformance" / "example-node.json")).institution.id == "conformance-test"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"services": {"catalogue": "http://x"}}, "`services` lacks the base URL of enrolment, assessment"),
        ({"tokens": {"learners": ["a"]}}, "tokens: Value error, give `signing_key`, or a token for each of"),
        ({"sourse": "typo"}, "sourse: Extra inputs are not permitted"),
    ],
)
def test_a_faulty_description_is_refused_naming_the_field(tmp_path: Path, changes: dict, named: str):
    path = tmp_path / "node.json"
    path.write_text(json.dumps(description(**changes)))
    with pytest.raises(InvalidDescription, match="is not a node description") as refused:
        load(str(path))
    assert named in str(refused.value)


def encoded(bits: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(gzip.compress(bits)).decode().rstrip("=")


def test_a_status_list_bit_is_read_from_the_highest_bit_of_the_first_byte():
    assert _bit(encoded(b"\x80" + bytes(15)), 0) is True
    assert _bit(encoded(b"\x80" + bytes(15)), 1) is False
    assert _bit(encoded(bytes(1) + b"\x01" + bytes(14)), 15) is True
    with pytest.raises(ValueError, match="outside the list's 128 bits"):
        _bit(encoded(bytes(16)), 128)
    with pytest.raises(ValueError, match="multibase base64url"):
        _bit("z" + encoded(bytes(16))[1:], 0)


def test_a_did_document_that_does_not_authorize_the_signing_key_is_named():
    did = "did:web:127.0.0.1%3A8004:institutions:uni-saarland"
    key = f"{did}#key-1"
    document = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [{"id": key, "type": "Multikey", "controller": did, "publicKeyMultibase": "z6MkExample"}],
        "assertionMethod": [key],
    }
    assert did_web_url(did) == "http://127.0.0.1:8004/institutions/uni-saarland/did.json"
    assert did_document_problems(document, did, key) == []
    assert did_document_problems(document | {"assertionMethod": []}, did, key) == [
        f"{key} is not listed under assertionMethod: it may not sign credentials"
    ]
    assert did_document_problems(document, did, f"{did}#key-2")[0].startswith(f"it has no verificationMethod {did}#key-2")


def test_schemathesis_findings_become_one_line_per_failure():
    output = """
=================================== FAILURES ===================================
_________________________________ POST /courses _________________________________
- Undocumented HTTP status code

    Received: 401
    Documented: 201, 422

=================================== SUMMARY ====================================
"""
    assert _failures(output) == ["POST /courses: Undocumented HTTP status code (received 401; documented 201, 422)"]


def test_the_report_says_which_check_failed_why_and_what_was_sent():
    failed = Result("published-events", "Every event conforms", Status.FAIL, ["mc.assessment.grades[0]@7: no `passed`"],
                    [Exchange("Kafka: read mc.assessment.grades[0]@7", '{"type": "..."}')])
    report = Report("node.json", [Result("journey", "A learner's journey"), failed])
    text = report.text()
    assert not report.passed
    assert "FAIL            published-events — Every event conforms" in text
    assert "    why: mc.assessment.grades[0]@7: no `passed`" in text
    assert "    sent: Kafka: read mc.assessment.grades[0]@7" in text
    assert text.endswith("DOES NOT CONFORM: 1 pass, 1 fail")
    skipped = Report("node.json", [Result("credential", "The credential verifies", Status.SKIPPED, ["needs it"])])
    assert skipped.passed and json.loads(skipped.json())["results"][0]["status"] == "skipped"


# --- the exchanges between nodes: the kit as a partner node ---

KIT_DID = "did:web:127.0.0.1%3A9100:institutions:uni-silesia"
ALLIANCE = {
    "node": "conformance", "event_source": "urn:microcredentials:node:conformance", "base_url": "http://127.0.0.1:9100",
    "institution": {"id": "uni-silesia", "name": "University of Silesia in Katowice", "country": "PL"},
    "did": KIT_DID, "signing_key": "kit.pem", "node_under_test": "saarland",
    "bus": {"topic_prefix": "t.", "principal": {"properties": "bus/conformance.properties"}},
}


def test_an_alliance_section_resolves_its_paths_and_its_did_must_be_served_at_its_base_url(tmp_path: Path):
    path = tmp_path / "node.json"
    path.write_text(json.dumps(description(alliance=ALLIANCE)))
    loaded = load(str(path)).alliance
    assert loaded is not None
    assert (loaded.signing_key, loaded.bus.principal.properties) == (tmp_path / "kit.pem", tmp_path / "bus" / "conformance.properties")

    path.write_text(json.dumps(description(alliance=ALLIANCE | {"base_url": "http://127.0.0.1:9200"})))
    with pytest.raises(InvalidDescription, match="is not served at `base_url` http://127.0.0.1:9200"):
        load(str(path))


def endorsement_requested(**changes) -> dict:
    request = EndorsementRequested(
        sender="saarland", recipient="conformance", credential_id="credential-1", institution="uni-silesia",
        lead_institution="uni-saarland", course_id="course-1", course_version=1, credential={"id": "urn:uuid:1"},
    )
    return json.loads(CloudEvent.wrap(request, source=SOURCE).to_bytes()) | changes


EXPECTED = {"sender": "saarland", "recipient": "conformance", "institution": "uni-silesia", "course_id": "course-1"}


def test_an_endorsement_request_by_the_contract_addressed_to_the_kit_conforms():
    bus = "t.alliance.saarland.to.conformance"
    assert addressed_problems(message(endorsement_requested(), bus), contract.events(), SOURCE, EXPECTED) == []


def test_an_endorsement_request_for_another_node_without_its_credential_or_under_another_name_is_named():
    request = endorsement_requested(source="urn:microcredentials:node:elsewhere")
    request["data"] |= {"recipient": "primorska"}
    del request["data"]["credential"]
    problems = addressed_problems(message(request), contract.events(), SOURCE, EXPECTED)
    assert problems == [
        "data: 'credential' is a required property (the type's JSON Schema)",
        "source 'urn:microcredentials:node:elsewhere' is not the node's 'urn:microcredentials:node:test': a node sends "
        "under its own name",
        "data.recipient is 'primorska', not 'conformance'",
    ]
    # A node's own event is no message to a partner.
    assert addressed_problems(message(conforming_grade()), contract.events(), SOURCE, {}) == [
        "type 'eu.microcredentials.assessment.grade.recorded.v1' is not a message a node may address to a partner "
        "(shared/events/topics.json)"
    ]


ENDORSEMENT = {"issuer": {"id": KIT_DID}, "credentialSubject": {"id": "urn:uuid:1"}, "proof": [{"proofValue": "z1"}]}


def served(endorsements: list, **record) -> dict:
    return {"credential": {"id": "urn:uuid:1", "proof": [{}], "endorsement": endorsements}} | record


def test_a_credential_with_the_kits_endorsement_attached_and_complete_passes():
    assert attachment_problems(served([ENDORSEMENT], complete=True, pending_endorsements=[]), KIT_DID, "uni-silesia",
                               ENDORSEMENT) == []


@pytest.mark.parametrize(
    ("record", "named"),
    [
        (served([], complete=False, pending_endorsements=["uni-silesia"]), "carries 0 endorsements by"),
        (served([ENDORSEMENT, ENDORSEMENT], complete=True), "carries 2 endorsements by"),
        (served([ENDORSEMENT | {"proof": [{"proofValue": "z2"}]}]), "is not the one the kit signed and sent"),
        (served([ENDORSEMENT], complete=False), "the node says the credential is not complete"),
        (served([ENDORSEMENT], pending_endorsements=["uni-silesia"]), "still lists uni-silesia among its pending"),
        ({"credential": {"id": "urn:uuid:1", "endorsement": [ENDORSEMENT]}}, "no signed credential"),
    ],
)
def test_a_node_that_never_attaches_or_attaches_something_else_is_named(record: dict, named: str):
    problems = attachment_problems(record, KIT_DID, "uni-silesia", ENDORSEMENT)
    assert any(named in problem for problem in problems), problems
