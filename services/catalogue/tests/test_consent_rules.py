"""The rules of joint courses with consent at each partner's node (services/catalogue/domain.py): whose consent is
asked where, four eyes at the partner's node, and which requests a partner's node takes in."""

import pytest

from services.catalogue import domain
from services.catalogue.models import Answer, CaseState, ConsentCase, Course, PartnerConsent, Status
from shared.alliance import AllianceRegistry
from tests.alliance import registry_data

# The test registry: node saarland hosts uni-saarland and htw-saar, node silesia hosts uni-silesia.


@pytest.fixture
def registry() -> AllianceRegistry:
    return AllianceRegistry.model_validate(registry_data())


def test_only_co_awarding_members_another_node_hosts_are_asked_at_their_node(registry) -> None:
    institutions = ["uni-saarland", "htw-saar", "uni-silesia", "uni-elsewhere"]
    assert domain.partners_elsewhere(institutions, registry, "saarland") == {"uni-silesia": "silesia"}
    # The lead is never asked; without a registry (or outside it) the node's own rules apply.
    assert domain.partners_elsewhere(["uni-silesia", "uni-saarland"], registry, "silesia") == {"uni-saarland": "saarland"}
    assert domain.partners_elsewhere(institutions, None, None) == {}


def course(status: Status = Status.SUBMITTED) -> Course:
    return Course(id="c-1", version=1, status=status, institutions=["uni-saarland", "uni-silesia"], designed_by="d",
                  submitted_by="d", description={"title": "Just Transition"})


def test_a_joint_course_the_lead_approves_waits_for_every_partner_then_is_approved() -> None:
    joint = course()
    domain.await_consent(joint, "qa")
    assert joint.status == Status.AWAITING_CONSENT
    asked = [PartnerConsent(course_id="c-1", version=1, institution="uni-silesia", node="silesia"),
             PartnerConsent(course_id="c-1", version=1, institution="upr", node="primorska", answer=Answer.GIVEN)]
    assert not domain.consented_by_all(joint, asked)
    asked[0].answer = Answer.GIVEN
    assert domain.consented_by_all(joint, asked)
    domain.approve_with_consent(joint)
    assert joint.status == Status.APPROVED
    # The lead's four eyes hold as before: the designer cannot approve it into waiting either.
    with pytest.raises(domain.FourEyesViolation):
        domain.await_consent(course(), "d")


def test_a_partners_decline_sends_the_version_back_with_its_reason() -> None:
    joint = course(Status.AWAITING_CONSENT)
    domain.declined_by_partner(joint, "uni-silesia", "no lab staff")
    assert (joint.status, joint.rejection_reasons) == (Status.REJECTED, ["uni-silesia does not co-award this version: no lab staff"])


def case() -> ConsentCase:
    return ConsentCase(id="k", node="silesia", lead_node="saarland", lead_institution="uni-saarland", course_id="c-1",
                       version=1, institution="uni-silesia", institutions=["uni-saarland", "uni-silesia"],
                       description={"title": "Just Transition"}, state=CaseState.RECEIVED)


def test_two_people_of_the_partner_consent_one_recommends_another_consents() -> None:
    asked = case()
    with pytest.raises(domain.TransitionRefused, match="only one that is recommended can become consented"):
        domain.consent(asked, "jan")
    domain.recommend(asked, "ewa")
    with pytest.raises(domain.FourEyesViolation, match="ewa recommended .* cannot also give it"):
        domain.consent(asked, "ewa")
    domain.consent(asked, "jan")
    assert (asked.state, asked.recommended_by, asked.decided_by) == (CaseState.CONSENTED, "ewa", "jan")
    with pytest.raises(domain.TransitionRefused):
        domain.decline(asked, "jan", "too late")
    domain.withdraw(asked, "jan", "the agreement ended")
    assert (asked.state, asked.reason) == (CaseState.WITHDRAWN, "the agreement ended")


@pytest.mark.parametrize(("sender", "lead", "institution", "institutions", "reason"), [
    ("saarland", "uni-saarland", "uni-silesia", ["uni-saarland", "uni-silesia"], None),
    ("silesia", "uni-saarland", "uni-silesia", ["uni-saarland", "uni-silesia"],
     "the lead institution uni-saarland is hosted by node saarland, not by node silesia, which asked"),
    ("saarland", "uni-saarland", "htw-saar", ["uni-saarland", "htw-saar"], "htw-saar is hosted by node saarland, not by this node"),
    ("saarland", "uni-mars", "uni-silesia", ["uni-mars", "uni-silesia"], "'uni-mars' is not a member"),
    ("saarland", "uni-saarland", "uni-silesia", ["uni-saarland"], "not by uni-saarland with uni-silesia"),
])
def test_a_partners_node_takes_in_only_requests_from_the_leads_node_for_its_own_institutions(
    registry, sender: str, lead: str, institution: str, institutions: list[str], reason: str | None
) -> None:
    refusal = domain.request_refusal(registry, "silesia", sender, lead, institution, institutions)
    assert refusal is None if reason is None else reason in (refusal or "")
    assert "not a node of the alliance registry" in (domain.request_refusal(None, None, sender, lead, institution, institutions) or "")
