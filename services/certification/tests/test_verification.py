"""The verdicts anyone reads on the verify page: who issued what to whom, and whether to trust it, in plain words.

The node vouches only for issuers in its directory, and shows their names from the directory; whatever a credential
says about itself is shown as a claim."""

import copy
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.certification import status_lists
from services.certification.models import MicroCredentialRecord
from services.certification.proof_checks import ProofCheck
from services.certification.signing_keys import NodeIdentity
from services.certification.status_lists import StatusPurpose
from services.certification.tests.test_vc import sample_record
from services.certification.trust import Institution, IssuerDirectory
from services.certification.vc import keys
from services.certification.vc.credential import IssuerProfile, open_badge_credential_json
from services.certification.vc.endorsement import endorsement_credential, with_endorsements
from services.certification.vc.proof import sign
from services.certification.verification import (
    Outcome,
    Status,
    StatusCheck,
    StatusListUnavailable,
    check,
    check_status,
    verdict,
)

import json

ISSUED_AT = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)
CREDENTIAL_ID = "https://node.example/credentials/c-1"
NODE = NodeIdentity(
    "https://node.example",
    {
        "uni-saarland": Ed25519PrivateKey.from_private_bytes(bytes(range(32))),
        "uni-sofia": Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64))),
    },
)
# The directory's name differs from the one the credentials give themselves: the verdict must show the directory's.
LEGAL_NAMES = {"uni-saarland": ("Universität des Saarlandes", "DE"), "uni-sofia": ("Sofia University St. Kliment Ohridski", "BG")}
MALLORY_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(64, 96)))


def institution(code: str) -> Institution:
    legal_name, country = LEGAL_NAMES[code]
    return Institution(NODE.did(code), code, legal_name, country, NODE.public_url, NODE.document(code))


DIRECTORY = IssuerDirectory([institution("uni-saarland"), institution("uni-sofia")])


def node_credential(*, endorsements: list[dict[str, Any]] = (), status: bool = True, **options: Any) -> dict[str, Any]:
    """A credential this node's Saarland key signed, with its revocation entry (index 42; suspension implied there)."""
    profile = IssuerProfile(id=NODE.did("uni-saarland"), name="Saarland University", country="DE")
    unsigned = json.loads(
        open_badge_credential_json(sample_record(), CREDENTIAL_ID, profile, ISSUED_AT, salt="c0ffee", **options)
    )
    if status:
        unsigned["credentialStatus"] = status_lists.status_entry(
            NODE.public_url, "uni-saarland", 42, status_lists.StatusPurpose.REVOCATION
        )
    unsigned = with_endorsements(unsigned, endorsements) if endorsements else unsigned
    key, method = NODE.private_key("uni-saarland"), NODE.verification_method("uni-saarland")
    return sign(unsigned, key, method, created=ISSUED_AT)


def forged_credential(
    claimed_name: str = "Saarland University", record: MicroCredentialRecord | None = None, endorsements: int = 0
) -> dict[str, Any]:
    """Mallory's: a genuine signature by a did:key she just made, claiming a university's name (and, to make it
    heavy to check, endorsed by herself as many times as asked)."""
    did = keys.did_key(MALLORY_KEY.public_key())
    unsigned = json.loads(open_badge_credential_json(
        record or sample_record(), CREDENTIAL_ID, IssuerProfile(id=did, name=claimed_name), ISSUED_AT, salt="c0ffee"
    ))
    if endorsements:
        unsigned = with_endorsements(unsigned, [endorsement(None) for _ in range(endorsements)])
    return sign(unsigned, MALLORY_KEY, keys.did_key_verification_method(MALLORY_KEY.public_key()), created=ISSUED_AT)


def endorsement(code: str | None) -> dict[str, Any]:
    """An endorsement of the credential by one of the node's institutions, or (None) by an unknown did:key."""
    if code is None:
        profile = IssuerProfile(id=keys.did_key(MALLORY_KEY.public_key()), name="Harvard University")
        key, method = MALLORY_KEY, keys.did_key_verification_method(MALLORY_KEY.public_key())
    else:
        profile = IssuerProfile(id=NODE.did(code), name=code)
        key, method = NODE.private_key(code), NODE.verification_method(code)
    return endorsement_credential(
        CREDENTIAL_ID, profile, "We co-award it.", private_key=key, verification_method=method, issued_at=ISSUED_AT
    )


def proofs(document: dict[str, Any], directory: IssuerDirectory = DIRECTORY):
    """The proof check the service runs in its worker processes, here in this one."""
    return ProofCheck(json.dumps(document), json.dumps(directory.did_documents())).run()


CLEAR = StatusCheck(revoked=False, suspended=False)


def judged(document: dict[str, Any], status: StatusCheck = CLEAR, directory: IssuerDirectory = DIRECTORY):
    return verdict(document, proofs(document, directory), status, directory)


def test_a_credential_of_the_nodes_institution_is_valid_and_named_from_the_directory() -> None:
    result = judged(node_credential())
    assert (result.outcome, result.valid, result.status, result.tone) == (Outcome.VALID, True, Status.ACTIVE, "valid")
    assert result.summary == (
        "VALID — Universität des Saarlandes issued this credential to Ada Lovelace for “Ethics of AI” on 2025-07-01. "
        "The signature is genuine and the credential is unchanged. It has not been revoked or suspended."
    )
    assert (result.issuer.name, result.issuer.claimed_name, result.issuer.confirmed) == (
        "Universität des Saarlandes", "Saarland University", True
    )
    assert (result.issuer.institution, result.issuer.country) == ("uni-saarland", "DE")


def test_a_genuine_signature_by_an_unknown_did_key_is_not_valid_and_its_name_is_only_a_claim() -> None:
    result = judged(forged_credential())
    assert (result.outcome, result.valid, result.tone) == (Outcome.UNKNOWN_ISSUER, False, "unconfirmed")
    assert result.heading == "Not confirmed: the issuer is not a university this node knows"
    assert result.summary.startswith("NOT CONFIRMED — the signature is genuine and the credential is unchanged, but")
    assert "not a university this node knows" in result.summary
    assert "It claims to come from “Saarland University”; that name is not confirmed." in result.summary
    assert "Saarland University issued" not in result.summary
    assert (result.issuer.name, result.issuer.claimed_name, result.issuer.confirmed) == (
        None, "Saarland University", False
    )
    assert result.status is Status.NOT_CHECKED
    assert f"issuer identifier: {keys.did_key(MALLORY_KEY.public_key())}" in result.details


def test_a_did_key_issuer_is_trusted_only_where_development_says_so_and_its_name_stays_a_claim() -> None:
    development = IssuerDirectory([institution("uni-saarland")], trust_did_key=True)
    result = judged(forged_credential(), directory=development)
    assert (result.outcome, result.valid) == (Outcome.VALID, True)
    assert "trusted for development only (a did:key), calling itself “Saarland University” (not confirmed)" in (
        result.summary
    )
    assert result.issuer.name is None and result.issuer.confirmed

    # Listed in a directory but without the development setting: still not trusted.
    did = keys.did_key(MALLORY_KEY.public_key())
    listed = IssuerDirectory([Institution(did, "uni-saarland", "Saarland University", "DE", NODE.public_url)])
    assert judged(forged_credential(), directory=listed).outcome is Outcome.UNKNOWN_ISSUER


def test_without_a_status_entry_the_status_is_not_checked_never_not_revoked() -> None:
    document = node_credential(status=False)
    result = judged(document, StatusCheck())
    assert (result.outcome, result.status) == (Outcome.VALID, Status.NOT_CHECKED)
    assert "Its status was not checked: it carries no status list entry" in result.summary
    assert "not been revoked" not in result.summary


def test_a_status_list_that_cannot_be_read_makes_the_status_unknown_never_not_revoked() -> None:
    problem = "the revocation list could not be read: GET https://node.example/status-lists/x took longer than 5 s"
    status = StatusCheck(revoked=None, suspended=False, unchecked=("revocation",), problems=[problem])
    result = judged(node_credential(), status)
    assert (result.outcome, result.valid, result.status, result.tone) == (
        Outcome.STATUS_UNKNOWN, False, Status.NOT_CHECKED, "unconfirmed"
    )
    assert result.heading == "Not confirmed: its status could not be checked"
    assert result.summary.startswith(
        "STATUS NOT CONFIRMED — Universität des Saarlandes issued this credential to Ada Lovelace for “Ethics of AI” on "
        "2025-07-01; the signature is genuine and the credential is unchanged, but whether it was revoked could not be "
        f"checked ({problem})."
    )
    assert "not been revoked" not in result.summary and "VALID —" not in result.summary
    # Revoked is revoked, whatever else could not be read.
    revoked = StatusCheck(revoked=True, suspended=None, unchecked=("suspension",), problems=["unreadable"])
    assert judged(node_credential(), revoked).outcome is Outcome.REVOKED


def test_a_member_of_the_alliance_is_named_with_its_alliance() -> None:
    member = Institution(NODE.did("uni-saarland"), "uni-saarland", "Universität des Saarlandes", "DE",
                         NODE.public_url, NODE.document("uni-saarland"), alliance="Transform4Europe")
    result = judged(node_credential(), directory=IssuerDirectory([member]))
    assert (result.outcome, result.issuer.alliance) == (Outcome.VALID, "Transform4Europe")
    assert result.summary.startswith(
        "VALID — Universität des Saarlandes, a member of Transform4Europe, issued this credential to Ada Lovelace"
    )
    revoked = judged(node_credential(), StatusCheck(revoked=True, suspended=False), IssuerDirectory([member]))
    assert revoked.summary.startswith("REVOKED — Universität des Saarlandes, a member of Transform4Europe, issued")


def test_revoked_and_suspended_say_so_with_the_directorys_name() -> None:
    revoked = judged(node_credential(), StatusCheck(revoked=True, suspended=True))
    assert (revoked.outcome, revoked.valid, revoked.status, revoked.tone) == (
        Outcome.REVOKED, False, Status.REVOKED, "invalid"
    )
    assert revoked.summary == (
        "REVOKED — Universität des Saarlandes issued this credential to Ada Lovelace for “Ethics of AI” on "
        "2025-07-01, but has revoked it. It is no longer valid."
    )
    suspended = judged(node_credential(), StatusCheck(revoked=False, suspended=True))
    assert (suspended.outcome, suspended.valid, suspended.status) == (Outcome.SUSPENDED, False, Status.SUSPENDED)
    assert "not valid until it is reinstated" in suspended.summary


def test_a_changed_credential_is_tampered_and_nothing_of_it_is_shown_as_a_fact() -> None:
    document = node_credential()
    document["issuer"]["name"] = "Harvard University"
    result = judged(document)
    assert (result.outcome, result.valid, result.tone) == (Outcome.TAMPERED, False, "invalid")
    assert result.summary.startswith("NOT VALID — this credential was changed after it was signed")
    assert "It claims to come from “Harvard University” (not confirmed) and to have been issued to Ada" in result.summary
    assert "Universität des Saarlandes" not in result.summary and result.endorsed_by == []
    assert any("signature does not match" in detail for detail in result.details)


def test_a_document_without_a_proof_is_not_a_signed_credential() -> None:
    unsigned = {key: value for key, value in node_credential().items() if key != "proof"}
    result = judged(unsigned)
    assert (result.outcome, result.valid) == (Outcome.UNSIGNED, False)
    assert result.summary.startswith("NOT VALID — this is not a signed credential")


def test_a_did_web_this_node_cannot_resolve_cannot_be_checked_here() -> None:
    result = judged(node_credential(), directory=IssuerDirectory())
    assert (result.outcome, result.tone) == (Outcome.NOT_VERIFIABLE, "unconfirmed")
    assert result.summary.startswith("CANNOT BE CHECKED HERE")


def test_an_expired_credential_is_not_valid_now_and_an_unknown_issuers_stays_unconfirmed() -> None:
    expired = node_credential(valid_until=datetime(2025, 8, 1, tzinfo=UTC))
    result = judged(expired)
    assert result.outcome is Outcome.NOT_VALID_NOW
    assert result.summary.startswith("NOT VALID NOW — Universität des Saarlandes issued this credential")
    did = keys.did_key(MALLORY_KEY.public_key())
    unsigned = json.loads(open_badge_credential_json(
        sample_record(), CREDENTIAL_ID, IssuerProfile(id=did, name="Saarland University"), ISSUED_AT,
        salt="c0ffee", valid_until=datetime(2025, 8, 1, tzinfo=UTC),
    ))
    forged = sign(unsigned, MALLORY_KEY, keys.did_key_verification_method(MALLORY_KEY.public_key()), created=ISSUED_AT)
    result = judged(forged)
    assert result.outcome is Outcome.UNKNOWN_ISSUER and "outside its period of validity" in result.summary


def test_an_endorsement_counts_only_by_an_issuer_the_node_knows() -> None:
    result = judged(node_credential(endorsements=[endorsement("uni-sofia"), endorsement(None)]))
    assert (result.outcome, result.valid) == (Outcome.VALID, True)
    assert result.endorsed_by == ["Sofia University St. Kliment Ohridski"]
    assert [(e.name, e.claimed_name, e.confirmed) for e in result.endorsements] == [
        ("Sofia University St. Kliment Ohridski", "uni-sofia", True),
        (None, "Harvard University", False),
    ]
    assert result.summary.endswith(
        "Endorsed by Sofia University St. Kliment Ohridski. It also carries an endorsement by an issuer this node does "
        "not know, claiming to be “Harvard University” (not confirmed): not counted."
    )


def test_a_universitys_endorsement_copied_into_a_forged_credential_counts_for_nothing() -> None:
    did = keys.did_key(MALLORY_KEY.public_key())
    unsigned = json.loads(open_badge_credential_json(
        sample_record(), CREDENTIAL_ID, IssuerProfile(id=did, name="Saarland University"), ISSUED_AT, salt="c0ffee"
    ))
    forged = sign(
        with_endorsements(unsigned, [endorsement("uni-sofia")]),  # Sofia's, of the genuine credential with this id
        MALLORY_KEY, keys.did_key_verification_method(MALLORY_KEY.public_key()), created=ISSUED_AT,
    )
    result = judged(forged)
    assert result.outcome is Outcome.UNKNOWN_ISSUER
    assert result.endorsed_by == [] and [e.confirmed for e in result.endorsements] == [False]
    assert "Sofia" not in result.summary


def test_a_tampered_endorsement_makes_the_whole_credential_tampered() -> None:
    document = copy.deepcopy(node_credential(endorsements=[endorsement("uni-sofia")]))
    document["endorsement"][0]["credentialSubject"]["endorsementComment"] = "changed"
    assert judged(document).outcome is Outcome.TAMPERED


async def test_the_status_is_read_from_the_nodes_own_lists_and_only_for_issuers_it_knows() -> None:
    url = status_lists.list_url(NODE.public_url, "uni-saarland", StatusPurpose.REVOCATION)
    revocation = status_lists.status_list_credential(
        url, NODE.did("uni-saarland"), StatusPurpose.REVOCATION, status_lists.bitstring(131072, [42]), "2025-07-02T00:00:00Z"
    )
    asked = []

    async def lists(list_url: str) -> dict[str, Any]:
        asked.append(list_url)
        if list_url != url:
            raise StatusListUnavailable(f"{list_url} is nowhere")
        return revocation

    status = await check_status(node_credential(), lists)
    assert (status.revoked, status.suspended, status.unchecked) == (True, None, ("suspension",))
    assert status.problems == [
        "the suspension list could not be read: https://node.example/status-lists/uni-saarland/suspension is nowhere"
    ]

    async def status_of(document):
        return await check_status(document, lists)

    asked.clear()
    assert (await check(node_credential(), DIRECTORY, no_did_documents, proofs_of, status_of)).outcome is Outcome.REVOKED
    assert asked, "the node's own credential: its lists are read"
    asked.clear()
    forged = await check(forged_credential(), DIRECTORY, no_did_documents, proofs_of, status_of)
    assert forged.outcome is Outcome.UNKNOWN_ISSUER
    assert asked == [], "an unknown issuer's status is not looked up"


async def proofs_of(document, did_documents):
    return ProofCheck(json.dumps(document), json.dumps(list(did_documents))).run()


async def no_did_documents(dids):
    raise AssertionError(f"nothing to look up, but asked for {dids}")


async def test_only_did_web_documents_the_node_does_not_hold_are_looked_up_and_what_failed_is_said() -> None:
    asked = []

    async def did_documents(dids):
        asked.extend(dids)
        return [], [f"the DID document of {did} is on elsewhere.example, which is not a node of T4EU: not fetched"
                    for did in dids]

    async def status_of(document):
        return CLEAR

    # Held: the node's own DID; did:key needs no document.
    assert (await check(node_credential(), DIRECTORY, did_documents, proofs_of, status_of)).outcome is Outcome.VALID
    forged = await check(forged_credential(), DIRECTORY, did_documents, proofs_of, status_of)
    assert forged.outcome is Outcome.UNKNOWN_ISSUER
    assert asked == []

    elsewhere = IssuerDirectory()  # a node that holds none of these keys
    result = await check(node_credential(), elsewhere, did_documents, proofs_of, status_of)
    assert asked == [NODE.did("uni-saarland")]
    assert result.outcome is Outcome.NOT_VERIFIABLE
    assert result.summary.startswith(
        "CANNOT BE CHECKED HERE — it was signed with a key this node does not know (the DID document of "
        f"{NODE.did('uni-saarland')} is on elsewhere.example, which is not a node of T4EU: not fetched)."
    )
    assert result.details[0].endswith("not fetched")


async def test_at_most_eight_did_documents_are_looked_up_for_one_credential() -> None:
    asked = []

    async def did_documents(dids):
        asked.extend(dids)
        return [], []

    many = node_credential()
    many["endorsement"] = [
        {"issuer": f"did:web:e{n}.example", "proof": {"verificationMethod": f"did:web:e{n}.example#key-1"}}
        for n in range(12)
    ]
    result = await check(many, IssuerDirectory(), did_documents, proofs_of, lambda d: None)
    assert asked == [NODE.did("uni-saarland"), *(f"did:web:e{n}.example" for n in range(7))]
    assert "it names 13 DIDs; the DID documents of the 5 after the first 8 were not looked up" in result.details
