"""`bash deploy/alliance.sh`, as someone trying the alliance runs it: three nodes for three universities on this
machine, each its own processes, the secretariat's signed registry and the bus with its principals; then the issue's
"Done when", driven only through HTTP and Kafka (kcat for the LMS and for the bus): a course approved at Saarland (A)
appears in Silesia's (B) and Primorska's (C) catalogue pages; a learner of B applies at A with B's token and pays
nothing as an alliance student; A's LMS grades her; A issues; B's and C's verify pages and API say valid and name A's
university as a member; A revokes; B and C say revoked; B's bus credentials cannot write A's topic; a credential
signed by a key outside the registry is not valid at any node; a fourth university joins with the secretariat's
commands (`alliance.sh add-node`) and its node, started empty, shows the whole catalogue."""

import json
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from deploy.alliance_journey import FEE, credential_for_a_visitor, listed_at, settled_verdict, verdict
from deploy.journey import REGISTRAR, Node, Person, sample_course
from services.certification.tests.test_verification import forged_credential
from tests.e2e.test_alliance_bus import REFUSED
from tests.e2e.test_verification import shown_on_the_verify_page
from tests.e2e.conftest import ALLIANCE_SH, BASES, BUS, TOKEN_ISSUER, Alliance, a_node
from tests.stack import Stack

pytestmark = pytest.mark.e2e

A_MEMBER = "Universität des Saarlandes, a member of Transform4Europe"
# The fourth university, joining once the three run.
JOINER = ("tartu", "uni-tartu", "Tartu Ülikool", "EE", "8400")
# Silesia's staff, for a course of Silesia's own.
SILESIA = {"id": "uni-silesia", "name": "University of Silesia in Katowice", "country": "PL", "url": "https://us.edu.pl"}
SILESIAN_STAFF = {
    role: Person(f"{role}@us.edu.pl", name, role, "uni-silesia")
    for role, name in (("course-designer", "Dr Anna Nowak"), ("qa-officer", "Prof. Piotr Zieliński"),
                       ("assessor", "Dr hab. Ewa Lis"))
}


def test_one_command_starts_an_alliance_of_three_nodes_whose_catalogues_show_each_others_courses(alliance: Alliance):
    title = re.search(r"course '([^']+)' approved", alliance.started)
    assert title, alliance.started
    for name, base in (("silesia", 8200), ("primorska", 8300)):
        assert f"At {name}: listed, by Universität des Saarlandes (DE, node saarland)" in alliance.started
        # The registration link is Saarland's front end's page of the offering, on its one public origin.
        assert re.search(rf"At {name}: listed, .*; registration at http://127\.0\.0\.1:8100/catalogue/[0-9a-f-]+\n",
                         alliance.started), alliance.started
        assert f"{name:<10} catalogue http://127.0.0.1:{base}/catalogue" in alliance.started
        page = httpx.get(f"http://127.0.0.1:{base + 1}/catalogue", params={"q": title.group(1)}, timeout=30)
        assert page.status_code == 200 and title.group(1) in page.text, page.text[:2000]
        assert "Universität des Saarlandes" in page.text
        assert f"At {name}: /verify says VALID — {A_MEMBER}" in alliance.started, alliance.started[-2500:]
    assert "a student of silesia, applied with silesia's token and pays nothing" in alliance.started
    # The bus is the secretariat's: each node on it as its own principal, made from the signed registry.
    credentials = sorted(path.name for path in (alliance.folder / "secretariat" / "kafka").glob("*.properties"))
    assert credentials == [f"{BUS}primorska.properties", f"{BUS}saarland.properties", f"{BUS}silesia.properties"]
    bus = httpx.get("http://127.0.0.1:8206/bus", timeout=30).json()
    assert (bus["node"], bus["connected"], bus["members"]) == ("silesia", True, ["primorska", "saarland"])


def test_each_node_has_one_public_origin_where_its_dids_and_status_lists_are(alliance: Alliance):
    document = httpx.get("http://127.0.0.1:8100/institutions/uni-saarland/did.json", timeout=30)
    assert document.status_code == 200 and document.json()["id"] == "did:web:127.0.0.1%3A8100:institutions:uni-saarland"
    registry = json.loads((alliance.folder / "secretariat" / "alliance-registry.json").read_text())
    assert {n["id"]: n["base_url"] for n in registry["nodes"]} == {
        name: f"http://127.0.0.1:{base}" for name, base in BASES.items()
    }
    assert {m["institution"]: [i["issuer"] for i in m["token_issuers"]] for m in registry["members"]} == {
        "uni-saarland": [TOKEN_ISSUER.format("saarland")], "uni-silesia": [TOKEN_ISSUER.format("silesia")],
        "upr": [TOKEN_ISSUER.format("primorska")],
    }


def test_a_learner_of_b_gets_as_credential_which_b_and_c_verify_until_a_revokes_it(alliance: Alliance):
    a, b, c = (alliance.nodes[name] for name in BASES)
    title = f"Cross-Border Energy Communities {uuid.uuid4().hex[:4]}"
    course = a.approved_course(sample_course(title))
    offering = a.opened_offering(course, fee=FEE)
    for other, base in ((b, 8200), (c, 8300)):
        listed, _ = listed_at(other, course, offering)
        assert (listed["university"], listed["country"], listed["node"]) == ("Universität des Saarlandes", "DE", "saarland")
        page = httpx.get(f"http://127.0.0.1:{base}/catalogue", params={"q": title, "registration": "any"}, timeout=30)
        assert page.status_code == 200 and title in page.text, page.text[:2000]

    learner, application, issued = credential_for_a_visitor(a, b, offering, "Zofia Kowalska", "uni-silesia")
    # The offering's fee stands; an alliance student owes none of it.
    assert (application["fee_status"], application["fee"]) == ("waived", FEE), application
    assert application["learner_id"] == f"uni-silesia:{learner.subject}"
    vc = issued["credential"]
    assert vc["issuer"]["id"] == "did:web:127.0.0.1%3A8100:institutions:uni-saarland"

    for name, other in (("silesia", b), ("primorska", c)):
        said = settled_verdict(other, vc)
        assert (said["outcome"], said["valid"]) == ("valid", True), said
        assert said["summary"].startswith(f"VALID — {A_MEMBER}, issued this credential to Zofia Kowalska"), said
        page = shown_on_the_verify_page(other, vc, f"alliance-verify-valid-at-{name}.png", paste=True)
        assert (page["outcome"], page["heading"]) == ("valid", "Valid") and A_MEMBER in page["text"], page

    a.ok("POST", "certification", f"/credentials/{issued['id']}/revoke", by=REGISTRAR,
         json={"reason": "the examination board annulled the exam"})
    for name, other in (("silesia", b), ("primorska", c)):
        said = other.wait_for(f"{name} to see the revocation", lambda other=other: (
            found if (found := verdict(other, vc))["outcome"] == "revoked" else None
        ))
        assert said["summary"].startswith(f"REVOKED — {A_MEMBER}"), said
        page = shown_on_the_verify_page(other, vc, f"alliance-verify-revoked-at-{name}.png")
        assert (page["outcome"], page["heading"]) == ("revoked", "Revoked"), page


def test_bs_bus_credentials_cannot_write_as_topic(alliance: Alliance, stack: Stack):
    bus = Node(urls={}, kafka=stack.kafka, maildir=stack.maildir, auth_key=Path("unused"), topic_prefix=BUS,
               kafka_credentials=alliance.folder / "secretariat" / "kafka")
    refused = bus.produce_with_kcat("alliance.saarland.catalogue", "forged", json.dumps({"forged": True}),
                                    principal=f"{BUS}silesia", check=False)
    assert refused.returncode != 0 and REFUSED in refused.stderr, refused.stderr


def test_a_credential_signed_by_a_key_outside_the_registry_is_not_valid_at_any_node(alliance: Alliance):
    forged = forged_credential("Universität des Saarlandes")
    for name, each in alliance.nodes.items():
        said = verdict(each, forged)
        assert (said["outcome"], said["valid"]) == ("unknown-issuer", False), (name, said)
        assert not said["summary"].startswith("VALID"), (name, said)


def test_a_fourth_university_joins_and_its_node_started_empty_shows_the_whole_catalogue(alliance: Alliance, stack: Stack):
    a, b = alliance.nodes["saarland"], alliance.nodes["silesia"]
    # Something of B's too, so that "the whole catalogue" is more than A's.
    theirs = b.approved_course(
        sample_course(f"Silesian Heritage Data {uuid.uuid4().hex[:4]}") | {"awarding_bodies": [SILESIA]},
        *SILESIAN_STAFF.values(),
    )
    joined = subprocess.run(ALLIANCE_SH + ["add-node", *JOINER], env=alliance.environment, capture_output=True,
                            text=True, timeout=600)
    assert joined.returncode == 0, joined.stdout[-3000:] + joined.stderr[-3000:]
    assert "the secretariat added uni-tartu (Tartu Ülikool, EE) on node tartu to the registry" in joined.stdout
    d = a_node(stack, alliance.folder, "tartu", 8400)

    # Everything A's and B's catalogues list of the alliance, and B's newest course (maybe not at A yet).
    everything = {theirs["id"]} | {
        item["course_id"] for other in (a, b)
        for item in other.ok("GET", "catalogue", "/alliance/courses", params={"page_size": 100})["items"]
    }
    assert len(everything) >= 3, everything  # the journey's and the test's courses at A, B's

    def shown_at_d() -> set[str] | None:
        shown = {item["course_id"] for item in d.ok("GET", "catalogue", "/alliance/courses", params={"page_size": 100})["items"]}
        return shown if everything <= shown else None

    d.wait_for("the new node to show the whole catalogue", shown_at_d)
    page = httpx.get("http://127.0.0.1:8400/catalogue", params={"university": "uni-silesia", "registration": "any"},
                     timeout=30)
    assert page.status_code == 200
    # The members already running take the new registry in: B's gateway counts D among the members.
    b.wait_for("silesia to know tartu", lambda: "tartu" in httpx.get("http://127.0.0.1:8206/bus").json()["members"] or None)
