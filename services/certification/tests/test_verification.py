"""The verdicts anyone reads on the verify page: who issued what to whom, and whether to trust it, in plain words."""

import copy

from services.certification.tests.test_vc import RESOLVE, joint_credential, signed_credential, tamper_grade
from services.certification.vc.endorsement import verify_joint
from services.certification.vc.keys import KeyResolver
from services.certification.verification import Outcome, StatusCheck, verdict


def judged(document, status: StatusCheck = StatusCheck(), resolver=RESOLVE):
    return verdict(document, verify_joint(document, resolver), status)


def test_a_genuine_credential_is_valid_and_says_who_issued_what_to_whom() -> None:
    result = judged(signed_credential())
    assert (result.outcome, result.valid) == (Outcome.VALID, True)
    assert result.summary == (
        "VALID — Saarland University issued this credential to Ada Lovelace for “Ethics of AI” on 2025-07-01. "
        "The signature is genuine and the credential is unchanged. It has not been revoked or suspended."
    )


def test_a_joint_credential_names_its_endorsers() -> None:
    result = judged(joint_credential())
    assert result.valid and result.endorsed_by == ["Sofia University"]
    assert result.summary.endswith("Endorsed by Sofia University.")


def test_a_changed_credential_is_called_tampered_and_not_to_be_relied_on() -> None:
    credential = signed_credential()
    tamper_grade(credential)
    result = judged(credential)
    assert (result.outcome, result.valid) == (Outcome.TAMPERED, False)
    assert result.summary.startswith("NOT VALID — this credential was changed after it was signed")
    assert "Do not rely on it." in result.summary
    assert any("signature does not match" in detail for detail in result.details)


def test_a_tampered_endorsement_makes_the_whole_credential_tampered() -> None:
    credential = copy.deepcopy(joint_credential())
    credential["endorsement"][0]["credentialSubject"]["endorsementComment"] = "changed"
    assert judged(credential).outcome is Outcome.TAMPERED


def test_revoked_and_suspended_say_so_even_though_the_signature_is_genuine() -> None:
    revoked = judged(signed_credential(), StatusCheck(revoked=True, suspended=True))
    assert revoked.outcome is Outcome.REVOKED and not revoked.valid
    assert revoked.summary.startswith("REVOKED — Saarland University issued this credential to Ada Lovelace")
    assert revoked.summary.endswith("but has revoked it. It is no longer valid.")
    suspended = judged(signed_credential(), StatusCheck(suspended=True))
    assert suspended.outcome is Outcome.SUSPENDED and not suspended.valid
    assert "not valid until it is reinstated" in suspended.summary


def test_a_key_this_node_does_not_know_cannot_be_checked_here() -> None:
    result = judged(signed_credential(), resolver=KeyResolver(allow_did_key=False))
    assert result.outcome is Outcome.NOT_VERIFIABLE
    assert result.summary.startswith("CANNOT BE CHECKED HERE")


def test_a_status_list_of_another_node_is_said_to_be_unchecked() -> None:
    result = judged(signed_credential(), StatusCheck(revoked=None, suspended=None, problems=["not published here"]))
    assert result.valid
    assert "Its revocation status could not be checked here." in result.summary


def test_a_document_without_a_proof_is_not_a_signed_credential() -> None:
    unsigned = {key: value for key, value in signed_credential().items() if key != "proof"}
    result = judged(unsigned)
    assert (result.outcome, result.valid) == (Outcome.UNSIGNED, False)
    assert result.summary.startswith("NOT VALID — this is not a signed credential")
