"""The rules of presented parts (stacking across nodes), as pure functions: what a presentation carries, whose a part
is, which course it awards, and the Annex I elements a programme record takes from it."""

import json
from datetime import date
from typing import Any

import pytest

from services.certification import domain
from services.certification.domain import PartRefused
from services.certification.tests.test_vc import ISSUED_AT, SAARLAND, sample_record, unsigned_credential
from services.certification.vc.credential import open_badge_credential_json
from shared.events.catalogue import FormOfParticipation
from shared.events.common import LearnerIdentity

ADA_ESI = "urn:schac:personalUniqueCode:int:esi:ada"
COURSE = "urn:microcredentials:course:3f2a-ethics:v2"


def part(**changes: Any) -> dict[str, Any]:
    return unsigned_credential(achievement_id=COURSE, **changes)


def test_a_presentation_is_one_credential_a_list_or_a_verifiable_presentation():
    one = part()
    assert domain.presented_credentials(one) == [one]
    assert domain.presented_credentials([one, one]) == [one, one]
    presentation = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"],
                    "verifiableCredential": [one]}
    assert domain.presented_credentials(presentation) == [one]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"type": ["VerifiablePresentation"], "verifiableCredential": []}, "carries no credential"),
        ([], "no credential presented"),
        ([{"type": ["VerifiableCredential"], "id": "urn:x"}], "part 1 is not an OpenBadgeCredential"),
        (["text"], "part 1 is not a credential"),
        ([{"type": ["VerifiableCredential", "OpenBadgeCredential"]}], "part 1 has no id"),
        ([{}] * 21, "at most 20"),
    ],
)
def test_what_is_not_a_presentation_is_refused_naming_the_part(body: Any, why: str):
    with pytest.raises(PartRefused, match=why):
        domain.presented_credentials(body)


def test_a_part_is_the_learners_when_the_esis_match_else_the_hashed_email():
    credential = part()  # Ada: ada@example.org (hashed, salted), her ESI
    assert domain.not_the_learners(credential, "ada@example.org", ADA_ESI) is None
    assert domain.not_the_learners(credential, "ADA@example.org", None) is None  # addresses compare case-blind
    # The learner id is not compared: another node knows her as <institution>:<sub>.
    assert "European Student Identifier" in domain.not_the_learners(credential, "ada@example.org", "urn:other")
    assert "e-mail address is not" in domain.not_the_learners(credential, "mallory@example.org", None)
    assert "attests no e-mail address" in domain.not_the_learners(credential, None, None)


def test_without_an_esi_in_the_credential_the_email_decides():
    learner = sample_record().identification_of_the_learner.model_copy(update={"esi": None})
    record = sample_record(identification_of_the_learner=learner)
    credential = unsigned_credential(record, achievement_id=COURSE)
    assert domain.not_the_learners(credential, "ada@example.org", ADA_ESI) is None
    assert domain.not_the_learners(credential, "eve@example.org", ADA_ESI) is not None


def test_the_course_version_a_part_awards():
    assert domain.awarded_course(part()) == ("3f2a-ethics", 2)
    assert domain.awarded_course(unsigned_credential(achievement_id="urn:microcredentials:programme:p:v1")) is None


def test_a_parts_annex_i_elements_come_back_from_its_alignments():
    record = sample_record()
    unsigned = open_badge_credential_json(record, "https://b.example/credentials/1", SAARLAND, ISSUED_AT,
                                          achievement_id=COURSE, salt="s")
    credential = json.loads(unsigned)
    learner = LearnerIdentity(learner_id="uni-silesia:ada", name="Ada Lovelace", email="ada@example.org")
    read = domain.part_record(credential, learner, date(2025, 7, 1), 5.0)
    assert read.identification_of_the_learner == learner
    assert (read.title, read.workload_ects, read.workload_hours, read.eqf_level) == ("Ethics of AI", 5.0, 125.0, 7)
    assert read.learning_outcomes == record.learning_outcomes
    assert read.languages == ["en", "bg"]
    assert read.form_of_participation is FormOfParticipation.BLENDED
    assert [(body.id, body.name, body.country) for body in read.awarding_bodies] == [
        (body.id, body.name, body.country) for body in record.awarding_bodies
    ]
    assert read.type_of_assessment == record.type_of_assessment
    assert read.grade_achieved == "1.3"
    # Made into a programme record with another part, it adds up.
    programme = domain.programme_record("Programme", record.awarding_bodies[:1], [read, record], ISSUED_AT)
    assert programme.workload_ects == 10
