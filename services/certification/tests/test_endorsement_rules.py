"""The rules of joint credentials across nodes: a node signs only for the institutions it hosts (no university's key
at another's node), what a co-awarding node endorses, and which endorsements the lead attaches."""

from datetime import UTC, datetime
from typing import Any

import pytest

from services.certification import domain
from shared.alliance import AllianceRegistry
from tests.alliance import did_of, registry_data

SAARLAND_URL, SILESIA_URL = "https://mc.uni-saarland.de", "https://mc.us.edu.pl"
SAARLAND_DID, SILESIA_DID = did_of(SAARLAND_URL, "uni-saarland"), did_of(SILESIA_URL, "uni-silesia")


@pytest.fixture
def registry() -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data())


def test_a_node_holding_only_the_keys_of_the_institutions_it_hosts_is_fine(registry) -> None:
    held = {"uni-saarland": SAARLAND_DID, "htw-saar": did_of(SAARLAND_URL, "htw-saar"), "not-a-member": "did:web:x"}
    assert domain.foreign_keys(held, registry) == []


def test_a_node_holding_another_members_key_is_told_whose_and_where_it_lives(registry) -> None:
    held = {"uni-saarland": SAARLAND_DID, "uni-silesia": did_of(SAARLAND_URL, "uni-silesia")}
    [problem] = domain.foreign_keys(held, registry)
    assert problem == (
        f"uni-silesia (University of Silesia in Katowice) is a member of Transform4Europe hosted by node silesia, "
        f"which signs for it with {SILESIA_DID}; this node holds its private key and would sign as "
        f"{did_of(SAARLAND_URL, 'uni-silesia')}"
    )


def test_the_lead_asks_the_node_that_hosts_the_co_awarding_institution(registry) -> None:
    assert domain.endorsement_node(registry, "uni-silesia", "saarland") == "silesia"
    with pytest.raises(ValueError, match="follows no alliance registry"):
        domain.endorsement_node(None, "uni-silesia", "saarland")
    with pytest.raises(LookupError, match="'uni-mars' is not a member"):
        domain.endorsement_node(registry, "uni-mars", "saarland")
    with pytest.raises(ValueError, match="hosted by this node, which holds no key"):
        domain.endorsement_node(registry, "htw-saar", "saarland")


def credential(issuer: str = SAARLAND_DID, achievement: str = "urn:microcredentials:course:c-1:v2") -> dict[str, Any]:
    return {"id": "https://mc.uni-saarland.de/credentials/1", "issuer": {"id": issuer},
            "validFrom": "2026-05-04T10:00:00+00:00", "credentialSubject": {"achievement": {"id": achievement}}}


def refusal(registry: AllianceRegistry, **changes: Any) -> str | None:
    request: dict[str, Any] = dict(
        registry=registry, own_node="silesia", sender="saarland", institution="uni-silesia", own_did=SILESIA_DID,
        lead_institution="uni-saarland", credential=credential(), course_id="c-1", course_version=2,
        consented_institutions=["uni-saarland", "uni-silesia"],
    )
    return domain.endorsement_refusal(**(request | changes))


def test_a_co_awarding_node_endorses_a_joint_course_of_the_lead_it_consented_to(registry) -> None:
    assert refusal(registry) is None
    # Withdrawn after the credential was issued: what was issued before keeps its endorsement.
    assert refusal(registry, withdrawn_at=datetime(2026, 5, 5, tzinfo=UTC)) is None


@pytest.mark.parametrize(("changes", "reason"), [
    ({"institution": "htw-saar"}, "htw-saar is not an institution this node (silesia) signs for"),
    ({"own_did": None}, "uni-silesia is not an institution this node (silesia) signs for"),
    ({"own_did": did_of("https://elsewhere.example", "uni-silesia")}, "not an institution this node (silesia) signs for"),
    ({"sender": "primorska"}, "the lead institution uni-saarland is hosted by node saarland, not by node primorska"),
    ({"lead_institution": "uni-mars"}, "'uni-mars' is not a member of"),
    ({"credential": credential(issuer="did:key:z6Mkmallory")}, "issuer 'did:key:z6Mkmallory' is not a DID of uni-saarland"),
    ({"credential": credential(achievement="urn:microcredentials:course:c-9:v1")}, "awards 'urn:microcredentials:course:c-9:v1', not course c-1 version 2"),
    ({"consented_institutions": None}, "uni-silesia has not consented, at this node, to co-award course c-1 version 2"),
    ({"consented_institutions": ["uni-saarland"]}, "awarded by uni-saarland: not by uni-saarland with uni-silesia"),
    ({"consented_institutions": ["uni-silesia", "uni-saarland"]}, "not by uni-saarland with uni-silesia"),
    ({"withdrawn_at": datetime(2026, 5, 3, tzinfo=UTC)}, "uni-silesia withdrew from course c-1 version 2 on 2026-05-03"),
])
def test_a_co_awarding_node_declines_with_the_reason(registry, changes: dict[str, Any], reason: str) -> None:
    assert reason in (refusal(registry, **changes) or "")


def test_a_credential_issued_in_the_second_of_the_withdrawal_is_declined(registry) -> None:
    """validFrom has whole seconds: a credential issued 0.4 s after a withdrawal at 10:00:00.6 reads 10:00:00 (cut
    down), and used to pass for one issued before it (endorsed after the partner withdrew)."""
    withdrawn_at = datetime(2026, 5, 4, 10, 0, 0, 600_000, tzinfo=UTC)
    assert "withdrew from course c-1 version 2" in (refusal(registry, withdrawn_at=withdrawn_at) or "")
    assert refusal(registry, withdrawn_at=datetime(2026, 5, 4, 10, 0, 1, tzinfo=UTC)) is None


def test_the_lead_attaches_only_an_endorsement_of_this_credential_by_the_co_awarding_institution() -> None:
    endorsement = {"type": ["VerifiableCredential", "EndorsementCredential"], "issuer": {"id": SILESIA_DID},
                   "credentialSubject": {"id": "urn:c:1"}}
    assert domain.received_endorsement_refusal(endorsement, "urn:c:1", [SILESIA_DID]) is None
    assert domain.received_endorsement_refusal(endorsement | {"type": ["VerifiableCredential"]}, "urn:c:1", [SILESIA_DID]) == (
        "it is not an EndorsementCredential"
    )
    assert domain.received_endorsement_refusal(endorsement, "urn:c:2", [SILESIA_DID]) == (
        "it endorses 'urn:c:1', not this credential 'urn:c:2'"
    )
    assert "is not a DID the registry gives" in domain.received_endorsement_refusal(endorsement, "urn:c:1", [SAARLAND_DID])
