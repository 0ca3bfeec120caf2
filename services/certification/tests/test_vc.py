"""Signed credentials: every Annex I element where MAPPING.md says; a proof that verifies, or fails for a reason."""

import copy
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyld import jsonld

from services.certification.models import MicroCredentialRecord
from services.certification import domain
from services.certification.status_lists import StatusPurpose, status_entry, status_list_credential
from services.certification.tests.ob_schemas import schema_problems
from services.certification.vc import keys
from services.certification.vc.contexts import CREDENTIAL_CONTEXT, UnknownContext, document_loader
from services.certification.vc.credential import IssuerProfile, hashed_email, open_badge_credential_json
from services.certification.vc.endorsement import endorsement_credential, verify_joint, with_endorsements
from services.certification.vc.proof import CanonicalizationError, canonicalize, sign, verify
from shared.events.catalogue import AwardingBody, FormOfParticipation, IdentityVerification, Stackability
from shared.events.common import LearnerIdentity

ISSUED_AT = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)
CREDENTIAL_ID = "urn:uuid:0b7d3c4e-2f1a-4c5b-9d8e-7f6a5b4c3d2e"
MAPPING = Path(__file__).resolve().parent.parent / "vc" / "MAPPING.md"
# Fixed keys, so that the golden signature below stays the same from run to run (Ed25519 is deterministic).
SAARLAND_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SOFIA_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
SAARLAND = IssuerProfile(
    id=keys.did_key(SAARLAND_KEY.public_key()),
    name="Saarland University",
    url="https://www.uni-saarland.de",
    country="DE",
)
SOFIA = IssuerProfile(id=keys.did_key(SOFIA_KEY.public_key()), name="Sofia University", country="BG")
SAARLAND_METHOD = keys.did_key_verification_method(SAARLAND_KEY.public_key())
SOFIA_METHOD = keys.did_key_verification_method(SOFIA_KEY.public_key())
RESOLVE = keys.KeyResolver()


def sample_record(**changes: Any) -> MicroCredentialRecord:
    """A joint micro-credential of three universities, with every mandatory and optional element filled in."""
    values: dict[str, Any] = dict(
        identification_of_the_learner=LearnerIdentity(
            learner_id="learner-ada",
            name="Ada Lovelace",
            email="ada@example.org",
            esi="urn:schac:personalUniqueCode:int:esi:ada",
        ),
        title="Ethics of AI",
        countries_of_the_issuer=["BG", "DE"],
        awarding_bodies=[
            AwardingBody(
                id="uni-saarland", name="Saarland University", country="DE", url="https://www.uni-saarland.de"
            ),
            AwardingBody(id="uni-sofia", name="Sofia University", country="BG"),
            AwardingBody(id="uni-trier", name="Trier University", country="DE"),
        ],
        date_of_issuing=date(2025, 7, 1),
        learning_outcomes=["Assess an AI system against the EU AI Act", "Argue a position on algorithmic fairness"],
        languages=["en", "bg"],
        workload_ects=5,
        workload_hours=125,
        eqf_level=7,
        type_of_assessment="written exam, supervised on site",
        form_of_participation=FormOfParticipation.BLENDED,
        type_of_quality_assurance="internal QA of Saarland University, accredited by ACQUIN",
        grade_achieved="1.3",
        prerequisites="A bachelor's degree",
        identity_verification=IdentityVerification.ONSITE_WITH_VERIFICATION,
        stackability=Stackability.STACKABLE,
        contact="microcredentials@uni-saarland.de",
    )
    return MicroCredentialRecord(**values | changes)


def unsigned_credential(record: MicroCredentialRecord | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("salt", "c0ffee")
    options.setdefault("skills", {"http://data.europa.eu/esco/skill/ethics-example": "apply ethics to AI"})
    unsigned = open_badge_credential_json(record or sample_record(), CREDENTIAL_ID, SAARLAND, ISSUED_AT, **options)
    return json.loads(unsigned)


def signed_credential(record: MicroCredentialRecord | None = None, **options: Any) -> dict[str, Any]:
    return sign(unsigned_credential(record, **options), SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)


def select(node: Any, path: str) -> list[Any]:
    """The values at a MAPPING.md path: `a.b`, `a[]` (every element), `a[key=value]` (matching elements)."""
    values = [node]
    for step in path.split("."):
        name, _, selector = step.partition("[")
        values = [value[name] for value in values if isinstance(value, dict) and name in value]
        if selector:
            selector = selector.rstrip("]")
            items = [item for value in values for item in (value if isinstance(value, list) else [value])]
            if selector:
                key, _, wanted = selector.partition("=")
                items = [item for item in items if isinstance(item, dict) and item.get(key) == wanted]
            values = items
    return values


def documented_mandatory_paths() -> dict[str, list[str]]:
    """Annex I mandatory element -> its JSON paths, read from the first table of MAPPING.md."""
    table = MAPPING.read_text(encoding="utf-8").split("## Mandatory elements", 1)[1].split("##", 1)[0]
    rows = [line.split("|") for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]
    return {row[2].strip(): re.findall(r"`([^`]+)`", row[4]) for row in rows}


# The credential carries Annex I.


def test_mapping_documents_all_twelve_mandatory_elements_of_annex_i() -> None:
    paths = documented_mandatory_paths()
    assert len(paths) == 12
    assert all(paths.values()), "every element has at least one path"


@pytest.mark.parametrize(("element", "paths"), documented_mandatory_paths().items())
def test_every_mandatory_element_is_at_its_documented_path(element: str, paths: list[str]) -> None:
    credential = unsigned_credential()
    for path in paths:
        assert select(credential, path), f"{element}: nothing at {path}"


def aligned(achievement: dict[str, Any], target_type: str) -> list[dict[str, Any]]:
    return [entry for entry in achievement["alignment"] if entry["targetType"] == f"ext:{target_type}"]


def test_the_values_are_the_records() -> None:
    record = sample_record()
    credential = unsigned_credential(record)
    achievement = credential["credentialSubject"]["achievement"]
    identifiers = {entry["identityType"]: entry for entry in credential["credentialSubject"]["identifier"]}

    assert (
        credential["@context"]
        == CREDENTIAL_CONTEXT
        == [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ]
    )
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"] == CREDENTIAL_ID
    assert credential["issuer"]["id"] == SAARLAND.id
    assert identifiers["name"] == {
        "type": "IdentityObject",
        "identityType": "name",
        "hashed": False,
        "identityHash": "Ada Lovelace",
    }
    assert identifiers["emailAddress"]["hashed"] is True
    assert identifiers["emailAddress"]["identityHash"] == hashed_email("ada@example.org", "c0ffee")
    assert "ada@example.org" not in str(credential), "the e-mail address is only there hashed"
    assert identifiers["systemId"]["identityHash"] == "learner-ada"
    assert identifiers["ext:europeanStudentIdentifier"]["identityHash"] == "urn:schac:personalUniqueCode:int:esi:ada"
    assert achievement["name"] == credential["name"] == "Ethics of AI"
    assert achievement["achievementType"] == "MicroCredential"
    # Country(ies) of the issuer, in the EU's country table.
    assert [(a["targetCode"], a["targetUrl"]) for a in aligned(achievement, "IssuerCountry")] == [
        ("BG", "http://publications.europa.eu/resource/authority/country/BGR"),
        ("DE", "http://publications.europa.eu/resource/authority/country/DEU"),
    ]
    assert credential["issuer"]["address"]["addressCountryCode"] == "DE"
    # Awarding bodies: the lead is the issuer and the achievement's creator; all are listed, lead first.
    assert achievement["creator"] == credential["issuer"]
    bodies = aligned(achievement, "AwardingBody")
    assert [(body["targetName"], body["targetCode"]) for body in bodies] == [
        ("Saarland University", "uni-saarland"),
        ("Sofia University", "uni-sofia"),
        ("Trier University", "uni-trier"),
    ]
    assert bodies[0]["targetUrl"] == SAARLAND.id
    assert bodies[1]["targetUrl"] == "urn:microcredentials:institution:uni-sofia"
    assert credential["validFrom"] == credential["awardedDate"] == "2025-07-01T10:30:00Z"
    assert datetime.fromisoformat(credential["validFrom"]).date() == record.date_of_issuing
    assert [a["targetName"] for a in aligned(achievement, "LearningOutcome")] == record.learning_outcomes
    assert all(outcome in achievement["criteria"]["narrative"] for outcome in record.learning_outcomes)
    assert achievement["inLanguage"] == "en"
    assert [(a["targetCode"], a["targetUrl"], a["targetName"]) for a in aligned(achievement, "Language")] == [
        ("en", "http://publications.europa.eu/resource/authority/language/ENG", "English"),
        ("bg", "http://publications.europa.eu/resource/authority/language/BUL", "Bulgarian"),
    ]
    assert (achievement["creditsAvailable"], credential["credentialSubject"]["creditsEarned"]) == (5, 5)
    [workload] = aligned(achievement, "NotionalWorkload")
    assert workload["targetCode"] == "PT125H"
    [eqf] = aligned(achievement, "EQFLevel")
    assert (eqf["targetUrl"], eqf["targetCode"]) == ("http://data.europa.eu/snb/eqf/7", "7")
    [assessment] = aligned(achievement, "AssessmentType")
    assert assessment["targetName"] == "written exam, supervised on site"
    assert "written exam, supervised on site" in achievement["criteria"]["narrative"]
    [mode] = aligned(achievement, "ModeOfLearningAndAssessment")
    assert (mode["targetUrl"], mode["targetCode"]) == (
        "http://data.europa.eu/snb/learning-assessment/e92d221e4d",
        "blended",
    )
    [quality] = aligned(achievement, "QualityAssurance")
    assert quality["targetName"] == "internal QA of Saarland University, accredited by ACQUIN"
    # Optional elements.
    [result] = credential["credentialSubject"]["result"]
    [grade_description] = achievement["resultDescription"]
    assert result["value"] == "1.3" and result["resultDescription"] == grade_description["id"]
    assert aligned(achievement, "EntryRequirement")[0]["targetName"] == "A bachelor's degree"
    [supervision] = aligned(achievement, "SupervisionAndIdentityVerification")
    assert (supervision["targetCode"], supervision["targetName"]) == (
        "onsite-with-identity-verification",
        "Onsite with identity verification",
    )
    assert aligned(achievement, "Stackability")[0]["targetCode"] == "stackable"
    [contact] = aligned(achievement, "FurtherInformation")
    assert (contact["targetName"], contact["targetUrl"]) == (
        "microcredentials@uni-saarland.de",
        "mailto:microcredentials@uni-saarland.de",
    )
    [skill] = aligned(achievement, "ESCOSkill")
    assert (skill["targetUrl"], skill["targetName"]) == (
        "http://data.europa.eu/esco/skill/ethics-example",
        "apply ethics to AI",
    )


def test_elements_the_record_lacks_are_left_out_not_emptied() -> None:
    record = sample_record(
        eqf_level=None,
        workload_hours=None,
        grade_achieved=None,
        prerequisites=None,
        identity_verification=None,
        contact=None,
    )
    credential = json.loads(open_badge_credential_json(record, CREDENTIAL_ID, SAARLAND, ISSUED_AT))
    achievement = credential["credentialSubject"]["achievement"]
    assert "resultDescription" not in achievement
    for absent in (
        "EQFLevel",
        "NotionalWorkload",
        "EntryRequirement",
        "SupervisionAndIdentityVerification",
        "FurtherInformation",
        "ESCOSkill",
    ):
        assert not aligned(achievement, absent), absent


# Standard contexts only, and 1EdTech's schemas.

# The vocabularies the credential's terms come from: W3C VC 2.0 (its security, status list and Dublin Core terms),
# Open Badges 3.0, schema.org (which Open Badges' context maps many of its terms to), RDF and XML Schema datatypes.
STANDARD_VOCABULARIES = (
    "https://www.w3.org/2018/credentials#",
    "https://w3id.org/security#",
    "https://purl.imsglobal.org/spec/vc/ob/vocab.html#",
    "https://schema.org/",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "http://www.w3.org/2001/XMLSchema#",
    "https://www.w3.org/ns/credentials/status#",
    "http://purl.org/dc/terms/",
)


def _predicates_and_types(nquads: str) -> set[str]:
    found = set()
    for line in nquads.splitlines():
        subject_end = line.index(" ")
        predicate = line[subject_end + 1 :].split(" ", 1)[0].strip("<>")
        found.add(predicate)
        if predicate == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type":
            found.add(line.split(" ")[2].strip("<>"))
    return found


def programme_credential(
    issuer: IssuerProfile = SAARLAND,
    key: Ed25519PrivateKey = SAARLAND_KEY,
    method: str = SAARLAND_METHOD,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A programme's credential, stacking two micro-credentials (listed as evidence)."""
    parts = [sample_record(), sample_record(title="Data Protection Law", grade_achieved="2.0", eqf_level=6)]
    record = domain.programme_record("Responsible AI Certificate", parts[0].awarding_bodies, parts, ISSUED_AT)
    credential_id = "urn:uuid:7d1f6a52-3c43-4a54-9a5e-1f6d0c7b8a90"
    status = status or status_entry("https://node.example", "uni-saarland", 9, StatusPurpose.REVOCATION)
    unsigned = json.loads(open_badge_credential_json(record, credential_id, issuer, ISSUED_AT, status))
    unsigned["evidence"] = [
        {
            "id": f"https://node.example/credentials/part-{number}",
            "type": ["Evidence"],
            "name": part.title,
            "narrative": f"The micro-credential {part.title}.",
        }
        for number, part in enumerate(parts, start=1)
    ]
    return sign(unsigned, key, method, created=ISSUED_AT)


def every_kind_of_credential() -> dict[str, dict[str, Any]]:
    return {
        "single": signed_credential(
            status=status_entry("https://node.example", "uni-saarland", 3, StatusPurpose.REVOCATION)
        ),
        "joint": joint_credential(),
        "endorsement": sofia_endorsement(),
        "programme": programme_credential(),
    }


@pytest.mark.parametrize("kind", ["single", "joint", "endorsement", "programme"])
def test_every_kind_of_credential_validates_against_1edtechs_open_badges_schemas(kind: str) -> None:
    credential = every_kind_of_credential()[kind]
    assert schema_problems(credential) == []
    assert verify(credential, RESOLVE).verified


@pytest.mark.parametrize("kind", ["single", "joint", "endorsement", "programme"])
def test_every_term_of_every_credential_is_a_standard_one(kind: str) -> None:
    nquads = canonicalize(every_kind_of_credential()[kind])
    private = {iri for iri in _predicates_and_types(nquads) if not iri.startswith(STANDARD_VOCABULARIES)}
    assert private == set()


def test_the_schemas_catch_what_open_badges_does_not_allow() -> None:
    credential = signed_credential()
    credential["credentialStatus"] = [credential.get("credentialStatus", {}), {}]
    credential["credentialSubject"]["achievement"]["inLanguage"] = "English"
    del credential["credentialSubject"]["achievement"]["criteria"]
    problems = "\n".join(schema_problems(credential))
    assert "credentialStatus" in problems and "inLanguage" in problems and "criteria" in problems


def test_a_credential_id_must_be_an_absolute_iri() -> None:
    with pytest.raises(ValueError, match="absolute IRI"):
        open_badge_credential_json(sample_record(), "credential-7", SAARLAND, ISSUED_AT)


def test_control_characters_are_replaced_so_other_verifiers_agree() -> None:
    record = sample_record(learning_outcomes=["Reads\x0bpage\x0cbreaks", "keeps\ttabs\nand lines"])
    achievement = unsigned_credential(record)["credentialSubject"]["achievement"]
    assert [a["targetName"] for a in aligned(achievement, "LearningOutcome")] == [
        "Reads page breaks",
        "keeps\ttabs\nand lines",
    ]


def test_control_characters_in_evidence_are_replaced_too() -> None:
    # A programme credential's evidence names its parts by their titles, which come from other credentials' records.
    evidence = [{"id": "https://node.example/credentials/1", "type": ["Evidence"], "name": "Ethics\x07of AI"}]
    unsigned = open_badge_credential_json(sample_record(), CREDENTIAL_ID, SAARLAND, ISSUED_AT, evidence=evidence)
    credential = json.loads(unsigned)

    assert credential["evidence"][0]["name"] == "Ethics of AI"
    assert verify(sign(credential, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT), RESOLVE).verified


# Signing and verifying.


def test_a_signed_credential_verifies() -> None:
    credential = signed_credential()
    [proof] = credential["proof"]

    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof",
        "eddsa-rdfc-2022",
        "assertionMethod",
    )
    assert proof["verificationMethod"] == SAARLAND_METHOD
    assert proof["proofValue"].startswith("z")
    assert verify(credential, RESOLVE).verified, verify(credential, RESOLVE).problems


def test_the_signature_is_the_same_for_the_same_key_and_credential() -> None:
    # A golden value: a change here means the canonical form changed (a pyld upgrade, a context edited), which
    # would break every credential issued before. The integration tests check this credential with jsonld.js too.
    assert signed_credential()["proof"][0]["proofValue"] == GOLDEN_PROOF_VALUE


def test_a_document_handed_over_without_a_copy_is_signed_the_same_and_left_as_it_was() -> None:
    handed_over = unsigned_credential()
    signed = sign(handed_over, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT, copy=False)

    assert signed == signed_credential()
    assert handed_over == unsigned_credential()  # Canonicalizing it changed nothing in it.


def tamper_grade(credential: dict[str, Any]) -> None:
    credential["credentialSubject"]["result"][0]["value"] = "1.0"


def tamper_learner_name(credential: dict[str, Any]) -> None:
    [name] = [entry for entry in credential["credentialSubject"]["identifier"] if entry["identityType"] == "name"]
    name["identityHash"] = "Eve Lovelace"


def tamper_one_byte_of_proof_value(credential: dict[str, Any]) -> None:
    value = credential["proof"][0]["proofValue"]
    credential["proof"][0]["proofValue"] = value[:-1] + ("2" if value[-1] != "2" else "3")


def tamper_proof_value_with_a_non_base58_character(credential: dict[str, Any]) -> None:
    value = credential["proof"][0]["proofValue"]
    credential["proof"][0]["proofValue"] = value[:10] + "0" + value[11:]


def tamper_issued_date(credential: dict[str, Any]) -> None:
    credential["validFrom"] = "2025-06-01T10:30:00Z"


@pytest.mark.parametrize(
    ("tamper", "cause"),
    [
        (tamper_grade, "signature does not match"),
        (tamper_learner_name, "signature does not match"),
        (tamper_one_byte_of_proof_value, "signature does not match"),
        (tamper_proof_value_with_a_non_base58_character, "proofValue is not valid base58"),
        (tamper_issued_date, "signature does not match"),
    ],
)
def test_a_changed_credential_does_not_verify_and_says_why(tamper, cause: str) -> None:
    credential = signed_credential()
    tamper(credential)
    result = verify(credential, RESOLVE)
    assert not result.verified
    assert any(cause in problem for problem in result.problems), result.problems


def test_a_proof_by_a_key_the_issuer_does_not_control_fails() -> None:
    forged = sign(unsigned_credential(), SOFIA_KEY, SOFIA_METHOD, created=ISSUED_AT)
    result = verify(forged, RESOLVE)
    assert not result.verified
    assert any("not by the issuer" in problem for problem in result.problems), result.problems


def test_an_unknown_verification_method_fails() -> None:
    credential = signed_credential()
    result = verify(credential, keys.KeyResolver(allow_did_key=False))
    assert not result.verified
    assert any("cannot resolve the verification method" in problem for problem in result.problems)


def test_a_credential_is_not_valid_before_its_valid_from() -> None:
    result = verify(signed_credential(), RESOLVE, now=datetime(2025, 6, 30, tzinfo=UTC))
    assert not result.verified
    assert any("not valid before" in problem for problem in result.problems)


def test_without_a_proof_nothing_verifies() -> None:
    assert verify(unsigned_credential(), RESOLVE).problems == ["the document has no proof"]


# Contexts: bundled only, never the network; nothing unsigned slips through.


def test_the_document_loader_serves_the_bundled_contexts() -> None:
    for url in CREDENTIAL_CONTEXT:
        assert "@context" in document_loader(url)["document"]
    with pytest.raises(UnknownContext):
        document_loader("https://w3id.org/microcredentials/elm-extension/v1")


def test_the_document_loader_refuses_an_unknown_context_url() -> None:
    with pytest.raises(UnknownContext, match="not bundled"):
        document_loader("https://www.w3.org/2018/credentials/examples/v1")


def test_a_credential_with_an_unknown_context_is_refused_not_fetched() -> None:
    credential = unsigned_credential()
    credential["@context"] = [*credential["@context"], "https://attacker.example/context.jsonld"]
    with pytest.raises(CanonicalizationError, match="attacker.example/context.jsonld' is not bundled"):
        canonicalize(credential)
    signed = signed_credential()
    signed["@context"] = credential["@context"]
    result = verify(signed, RESOLVE)
    assert not result.verified and any("is not bundled" in problem for problem in result.problems)


def test_a_property_the_contexts_do_not_define_is_refused_rather_than_left_unsigned() -> None:
    credential = unsigned_credential()
    credential["credentialSubject"]["achievement"]["honours"] = "summa cum laude"
    with pytest.raises(CanonicalizationError, match="honours"):
        sign(credential, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)
    signed = signed_credential()
    signed["@context"] = [*signed["@context"], {"honours": None}]
    signed["honours"] = "summa cum laude"
    result = verify(signed, RESOLVE)
    assert not result.verified and any("honours" in problem for problem in result.problems), result.problems


def test_a_relative_iri_is_refused_rather_than_left_unsigned() -> None:
    signed = signed_credential()
    signed["credentialSubject"]["achievement"]["id"] = "another-course"
    result = verify(signed, RESOLVE)
    assert not result.verified and any("relative IRI" in problem for problem in result.problems), result.problems


def test_sign_refuses_text_that_other_canonicalizers_would_read_differently() -> None:
    credential = unsigned_credential()
    credential["name"] = "Ethics\x0bof AI"
    with pytest.raises(ValueError, match="control characters"):
        sign(credential, SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT)


# Joint credentials: the lead university signs, partners endorse.


def joint_credential(endorsements: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if endorsements is None:
        endorsements = [sofia_endorsement()]
    return sign(
        with_endorsements(unsigned_credential(), endorsements), SAARLAND_KEY, SAARLAND_METHOD, created=ISSUED_AT
    )


def sofia_endorsement(endorsed: str = CREDENTIAL_ID) -> dict[str, Any]:
    return endorsement_credential(
        endorsed,
        SOFIA,
        "Sofia University co-awards this micro-credential.",
        private_key=SOFIA_KEY,
        verification_method=SOFIA_METHOD,
        issued_at=ISSUED_AT,
        endorsement_id="urn:uuid:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    )


def test_an_endorsement_is_an_open_badges_endorsement_credential_of_this_credential() -> None:
    endorsement = sofia_endorsement()
    assert endorsement["type"] == ["VerifiableCredential", "EndorsementCredential"]
    assert endorsement["issuer"]["id"] == SOFIA.id
    assert endorsement["credentialSubject"] == {
        "id": CREDENTIAL_ID,
        "type": ["EndorsementSubject"],
        "endorsementComment": "Sofia University co-awards this micro-credential.",
    }
    assert verify(endorsement, RESOLVE).verified


def test_a_joint_credential_with_a_valid_endorsement_verifies() -> None:
    credential = joint_credential()
    result = verify_joint(credential, RESOLVE, required_endorsers=[SOFIA.id])
    assert result.verified, result.problems
    assert verify(credential, RESOLVE).verified, "the issuer's proof covers the endorsements"


def test_a_joint_credential_with_a_tampered_endorsement_fails() -> None:
    credential = joint_credential()
    credential["endorsement"][0]["credentialSubject"]["endorsementComment"] = (
        "Sofia University does not know this course."
    )
    result = verify_joint(credential, RESOLVE)
    assert not result.verified
    assert any(
        problem.startswith(f"endorsement 1 by {SOFIA.id}: the signature does not match") for problem in result.problems
    )
    assert any(problem.startswith("issuer's proof: the signature does not match") for problem in result.problems)


def test_an_endorsement_of_another_credential_does_not_count_even_when_the_issuer_signed_it() -> None:
    credential = joint_credential([sofia_endorsement(endorsed="urn:uuid:00000000-0000-4000-8000-000000000000")])
    result = verify_joint(credential, RESOLVE, required_endorsers=[SOFIA.id])
    assert verify(credential, RESOLVE).verified
    assert not result.verified
    assert any("not this credential" in problem for problem in result.problems)
    assert f"no valid endorsement by {SOFIA.id}" in result.problems


def test_a_missing_endorsement_of_a_required_partner_fails() -> None:
    result = verify_joint(signed_credential(), RESOLVE, required_endorsers=[SOFIA.id])
    assert result.problems == [f"no valid endorsement by {SOFIA.id}"]


def test_endorsements_are_added_before_the_issuer_signs() -> None:
    with pytest.raises(ValueError, match="before the issuer signs"):
        with_endorsements(signed_credential(), [sofia_endorsement()])


# Keys and DIDs.


def test_a_did_key_is_the_multibase_ed25519_public_key() -> None:
    public_key = SAARLAND_KEY.public_key()
    did = keys.did_key(public_key)
    assert did.startswith("did:key:z6Mk")
    assert keys.public_key_from_multibase(did.removeprefix("did:key:")) == public_key
    method = keys.resolve_did_key(keys.did_key_verification_method(public_key))
    assert (method.controller, method.public_key) == (did, public_key)
    with pytest.raises(keys.UnresolvableKey):
        keys.resolve_did_key("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme")  # a secp256k1 key


def test_keys_survive_pem_files(tmp_path: Path) -> None:
    key = keys.generate_private_key()
    keys.save_private_key(tmp_path / "node.pem", key, passphrase=b"correct horse")
    assert (tmp_path / "node.pem").stat().st_mode & 0o777 == 0o600
    loaded = keys.load_private_key(tmp_path / "node.pem", passphrase=b"correct horse")
    assert keys.did_key(loaded.public_key()) == keys.did_key(key.public_key())
    assert keys.public_key_from_pem(keys.public_key_to_pem(key.public_key())) == key.public_key()
    assert keys.private_key_from_pem(keys.private_key_to_pem(key)).public_key() == key.public_key()


def test_a_node_signs_with_did_web_and_its_published_document_verifies_it() -> None:
    document = keys.did_web_document("certification.uni-saarland.example", SAARLAND_KEY.public_key())
    assert document["id"] == "did:web:certification.uni-saarland.example"
    assert document["assertionMethod"] == ["did:web:certification.uni-saarland.example#key-1"]
    assert document["verificationMethod"][0]["type"] == "Multikey"
    assert keys.did_web("localhost:8004") == "did:web:localhost%3A8004"

    node = IssuerProfile(id=document["id"], name="Saarland University", country="DE")
    credential = sign(
        json.loads(open_badge_credential_json(sample_record(), CREDENTIAL_ID, node, ISSUED_AT)),
        SAARLAND_KEY,
        keys.did_web_verification_method("certification.uni-saarland.example"),
        created=ISSUED_AT,
    )
    assert verify(credential, keys.KeyResolver([document])).verified
    unknown = verify(credential, keys.KeyResolver())
    assert not unknown.verified and "no DID document known" in unknown.problems[0]
    not_for_credentials = copy.deepcopy(document) | {"assertionMethod": []}
    assert not verify(credential, keys.KeyResolver([not_for_credentials])).verified


GOLDEN_PROOF_VALUE = "z4qUyag3sNGw49zDvJa6p7EJk61LwrkUPaZBxKnQwyJ7jHEYNg3AxumgJfiBwethhLcgsDJzs6M76bLcbsmCENzPH"


def plain_pyld(document: dict[str, Any]) -> str:
    options = {
        "documentLoader": document_loader,
        "base": None,
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
    }
    return jsonld.normalize(copy.deepcopy(document), options)


def test_canonicalization_with_cached_contexts_is_exactly_pyld_s() -> None:
    joint = with_endorsements(
        unsigned_credential(),
        [
            endorsement_credential(
                CREDENTIAL_ID,
                SOFIA,
                "co-awards",
                private_key=SOFIA_KEY,
                verification_method=SOFIA_METHOD,
                issued_at=ISSUED_AT,
            )
        ],
    )
    with_status = unsigned_credential(sample_record(grade_achieved="2.0", title="Another course"))
    with_status["credentialStatus"] = status_entry("https://node.example", "uni-saarland", 7, StatusPurpose.REVOCATION)
    status_list = status_list_credential(
        "https://node.example/status-lists/uni-saarland/revocation",
        SAARLAND.id,
        StatusPurpose.REVOCATION,
        bytes(16),
        "2025-07-01T10:30:00Z",
    )
    inline_context = {**unsigned_credential(), "@context": [*CREDENTIAL_CONTEXT, {"honours": "urn:example:honours"}]}
    inline_context["honours"] = "summa cum laude"
    documents = [unsigned_credential(), joint, with_status, status_list, inline_context]
    # Twice: the second round is served from the processed-context cache.
    for document in documents + documents:
        assert canonicalize(document) == plain_pyld(document)
