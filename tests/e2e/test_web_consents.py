"""The consent pages of a partner's node ("Joint courses to consent to"), end to end in Debian's Chromium, signing in at
Keycloak: Saarland University's people decide on joint courses the University of Silesia leads and asks them to
co-award. A QA officer sees the cases, recommends one and is refused when she consents to it herself (the page says
so, and a consent sent anyway is refused with the catalogue's reason, four eyes); a decline without a reason is
refused; a course designer recommends another, and the QA officer consents to that one. axe-core finds nothing serious.

The smallest honest setup: one node (the front end's, following a signed alliance registry in which it hosts Saarland
University and a node "silesia" hosts the lead) whose catalogue receives the lead's ConsentRequested on its
`mc.alliance.incoming`, written there as the node's gateway writes what the lead's node addressed to it. The lead's
node and the gateways are not run: the exchange between nodes is tests/integration/test_joint_course_consent.py's and
tests/e2e/test_endorsements.py's; this test covers the pages and what the partner's catalogue decides behind them.
Screenshots: .run/screenshots/consent*.png."""

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.journey import Person
from deploy.keycloak_realm import demo_user
from services.certification.tests.test_domain import alliance_course
from shared.events import CloudEvent, Topic
from shared.events.alliance import ConsentRequested
from shared.events.catalogue import AwardingBody
from tests.alliance import alliance_key, publish, registry_data, write_public_key
from tests.e2e.front_end import (
    FrontEnd,
    browse,
    front_end_stack,
    keycloak_issuer,
    running_front_end,
    serious_violations,
    step,
)
from tests.stack import ROOT, Stack, produce

pytestmark = pytest.mark.e2e

THOMAS = demo_user("thomas.wagner")  # A QA officer of Saarland University.
JULIA = demo_user("julia.becker")  # A course designer of Saarland University.
# Thomas, as the test reads the catalogue behind the pages (a token of the node's own key).
READER = Person(THOMAS.id, THOMAS.name, "qa-officer", THOMAS.institution)
SAARLAND = AwardingBody(id="uni-saarland", name="Universität des Saarlandes", country="DE")
SILESIA = AwardingBody(id="uni-silesia", name="University of Silesia in Katowice", country="PL")
NAME = "webconsent"


def keys_without_saarland(folder: Path) -> Path:
    """The node's signing keys: none of Saarland University's, which the registry gives a DID of another address
    (certification would refuse to start holding it); no credential is issued here."""
    subprocess.run([sys.executable, "-m", "services.certification", "keys", "--institution", "uni-sofia", "--dir",
                    str(folder), "--name", "Sofia University", "--country", "BG"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return folder


@pytest.fixture(scope="module")
def front_end(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontEnd]:
    folder = tmp_path_factory.mktemp("web-consents")
    key = alliance_key()
    registry = registry_data(issued=datetime.now(UTC) - timedelta(minutes=5))
    # This node is "saarland" (it hosts Saarland University, whose people sign in at Keycloak); "silesia" leads.
    registry["nodes"][0]["event_source"] = stack.node_uri
    publish(folder / "alliance-registry.json", registry, key)
    follows = {"ALLIANCE_REGISTRY_URL": str(folder / "alliance-registry.json"),
               "ALLIANCE_PUBLIC_KEY_FILE": str(write_public_key(folder / "alliance-public.json", key)),
               "ALLIANCE_REGISTRY_POLL_SECONDS": "1"}
    with running_front_end(stack, keys_without_saarland(folder / "keys"), keycloak_issuer(), name=NAME, **follows) as started:
        yield started


def asked_by_silesia(stack: Stack, front_end: FrontEnd, title: str) -> dict[str, Any]:
    """Silesia's request that Saarland University co-award a course, as this node's gateway hands it to the node;
    the consent case once the catalogue keeps it."""
    description = alliance_course().model_copy(update={"awarding_bodies": [SILESIA, SAARLAND], "title": title})
    request = ConsentRequested(
        sender="silesia", recipient="saarland", course_id=f"course-{uuid.uuid4().hex[:8]}", course_version=1,
        institution="uni-saarland", lead_institution="uni-silesia", institutions=["uni-silesia", "uni-saarland"],
        description=description,
    )
    asyncio.run(produce(front_end_stack(stack, NAME), Topic.ALLIANCE_INCOMING,
                        CloudEvent.wrap(request, source=stack.node_uri).to_bytes(), request.key))
    node = front_end.node
    return node.wait_for(f"the consent case of {title}", lambda: next(iter(
        node.ok("GET", "catalogue", "/consents", by=READER, params={"course_id": request.course_id})), None))


def test_a_partners_qa_officer_recommends_and_a_second_person_consents(stack: Stack, front_end: FrontEnd) -> None:
    tag = uuid.uuid4().hex[:4]
    own = asked_by_silesia(stack, front_end, f"Coal Regions in Transition {tag}")
    shared = asked_by_silesia(stack, front_end, f"Energy Communities {tag}")

    steps = browse("partner-consents.mjs", front_end, qa={"username": THOMAS.username, "password": THOMAS.password},
                   designer={"username": JULIA.username, "password": JULIA.password},
                   own=own["description"]["title"], shared=shared["description"]["title"])

    listed = step(steps, "cases")
    assert listed["heading"] == "Joint courses to consent to"
    for case in (own, shared):
        [row] = [row for row in listed["rows"] if case["description"]["title"] in row]
        assert "University of Silesia in Katowice" in row and "received" in row
    seen = step(steps, "own case")
    assert seen["awarding"] == "University of Silesia in Katowice, Universität des Saarlandes"
    assert seen["lead"] == "University of Silesia in Katowice"
    assert "A new joint course" in seen["changes"]

    recommended = step(steps, "recommended")
    assert recommended["notice"].startswith(f"You recommend taking part in “{own['description']['title']}”, version 1")
    assert recommended["recommendedBy"].startswith("you")
    assert "You recommended it, so you may not also consent" in recommended["decision"]
    assert recommended["consentForms"] == 0
    assert step(steps, "no reason")["notice"] == "Not done: say why, for the lead university."
    refused = step(steps, "own consent")
    assert refused["notice"].startswith("Not done: ") and "four eyes" in refused["notice"], refused
    assert "recommended" in refused["notice"] and refused["state"].startswith("1 (")

    assert step(steps, "designer recommended")["notice"].startswith("You recommend taking part in")
    second = step(steps, "second pair of eyes")
    assert second["recommendedBy"].startswith(JULIA.name)
    consented = step(steps, "consented")
    assert consented["notice"] == (
        f"Your institution takes part in “{shared['description']['title']}”, version 1: the lead university is told."
    )
    assert consented["state"] != refused["state"] and consented["decidedBy"].startswith(THOMAS.name)
    assert serious_violations(steps) == {}

    # What the catalogue holds behind the pages: one case consented by Thomas after Julia's recommendation, the other
    # still waiting for a second person.
    node = front_end.node
    held = node.ok("GET", "catalogue", f"/consents/{shared['id']}", by=READER)
    assert (held["state"], held["recommended_by"], held["decided_by"]) == ("consented", JULIA.id, THOMAS.id)
    waiting = node.ok("GET", "catalogue", f"/consents/{own['id']}", by=READER)
    assert (waiting["state"], waiting["recommended_by"], waiting["decided_by"]) == ("recommended", THOMAS.id, None)
