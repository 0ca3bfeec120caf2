"""The alliance's journey (deploy/alliance.sh), driven only through HTTP and Kafka: a course approved at the first
node (A), with an offering open for registration, appears in every other node's catalogue with its university's name
and a link to A's page of the offering; a learner of the second node (B) applies at A with B's token and pays nothing
as an alliance student; A's LMS grades her (kcat); A issues; every other node's /verify says valid, naming A's
university as a member. Then where each node's pages are.

    python -m deploy.alliance_journey saarland=8100=<auth-private.pem>=<token issuer> silesia=8200=... primorska=...

Each argument is a node: its id, the base of its ports (the front end, its public origin, on base, services on
base+1..base+6, as deploy/node.sh numbers them), the key its users' tokens are signed with and their `iss`. Kafka, the
mailbox and the node's Kafka credentials are the environment's (`source .run/env`).
"""

import dataclasses
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from deploy.journey import Node, Person, sample_course

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications", "alliance")
# What A charges learners from outside the alliance; alliance students and staff pay nothing.
FEE = {"amount": 150.0, "currency": "EUR"}


def node(argument: str, run: str | None = None) -> tuple[str, Node]:
    """`run`: the alliance's MC_ALLIANCE_PREFIX (deploy/alliance.sh), by default the environment's."""
    name, base, key, issuer = argument.split("=", 3)
    run = os.environ.get("MC_ALLIANCE_PREFIX", "") if run is None else run
    urls = {service: f"http://127.0.0.1:{int(base) + number}" for number, service in enumerate(SERVICES, start=1)}
    state = Path(os.environ.get("MC_STATE_DIR", ".run"))
    return name, Node(
        urls=urls | {"web": f"http://127.0.0.1:{int(base)}"},
        kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        maildir=Path(os.environ.get("MAILDIR", state / "mail")), auth_key=Path(key),
        topic_prefix=f"{run}.{name}." if run else f"{name}.",
        # deploy/node.sh keeps every node's Kafka credentials (its LMS's too) in one folder, by prefixed principal.
        kafka_credentials=Path(os.environ.get("MC_KAFKA_CREDENTIALS", state / "keys" / "kafka")),
        token_issuer=issuer, timeout=120.0,
    )


def visiting(host: Node, home: Node) -> Node:
    """The host node's services, called with tokens of the home node's identity provider (a learner of home)."""
    return dataclasses.replace(host, auth_key=home.auth_key, token_issuer=home.token_issuer)


def consent_at(partner: Node, course_id: str) -> None:
    """Two people of each partner institution the lead asked consent, at the partner's node, to the newest version of a
    joint course (through HTTP): a course designer recommends taking part, a QA officer (another person) consents.
    Waits for the lead's request to reach the partner's catalogue (through both gateways)."""

    def open_cases() -> list[dict[str, Any]] | None:
        found = partner.ok("GET", "catalogue", "/consents", params={"course_id": course_id})
        waiting = [case for case in found if case["state"] in ("received", "recommended")]
        return waiting or None

    for case in partner.wait_for(f"the request to consent to course {course_id}", open_cases):
        institution = case["institution"]
        designer = Person(f"designer@{institution}", f"Course designer of {institution}", "course-designer", institution)
        qa_officer = Person(f"qa@{institution}", f"QA officer of {institution}", "qa-officer", institution)
        if case["state"] == "received":
            partner.ok("POST", "catalogue", f"/consents/{case['id']}/recommend", by=designer)
        partner.ok("POST", "catalogue", f"/consents/{case['id']}/consent", by=qa_officer)


def listed_at(other: Node, course: dict[str, Any], offering: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The course as another node's catalogue lists it, and the offering as it shows it (waiting for the bus)."""
    title = course["description"]["title"]
    listed = other.wait_for(
        "the catalogue to list the course",
        lambda: next(
            (item for item in other.ok("GET", "catalogue", "/alliance/courses", params={"q": title})["items"]
             if item["course_id"] == course["id"]),
            None,
        ),
    )
    seen = other.wait_for(
        "the catalogue to show the offering",
        lambda: found.json()
        if (found := other.call("GET", "catalogue", f"/offerings/{offering['id']}")).status_code == 200
        else None,
    )
    return listed, seen


def credential_for_a_visitor(
    a: Node, home: Node, offering: dict[str, Any], learner_name: str, institution: str
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    """A learner of `home` registers and applies at A with her home token, A's LMS passes her (kcat), A issues.
    Returns her (as her home knows her), her application at A, and the credential record A issued."""
    at_a = visiting(a, home)
    learner = home.registered_learner(learner_name, institution=institution)
    registered = at_a.ok("POST", "enrolment", "/learners", by=learner, json={"preferred_language": "en"})
    response = at_a.apply(learner, offering)
    if response.status_code != 201:
        raise AssertionError(f"{learner_name} could not apply at A: {response.status_code} {response.text}")
    application = response.json()
    # A knows her under her home institution's name for her (`<institution>:<sub>`).
    a.wait_until_gradable(registered["id"], offering["course_id"])
    a.submit_grade_with_kcat(offering["course_id"], registered["id"], grade="1.7", passed=True)
    return learner, application, a.wait_for_credential(registered["id"])


def verdict(at: Node, credential: dict[str, Any]) -> dict[str, Any]:
    return at.ok("POST", "certification", "/verify", json=credential)


def settled_verdict(at: Node, credential: dict[str, Any]) -> dict[str, Any]:
    """The node's verdict once what it fetches from the issuer's node has arrived: a DID document or status list not
    fetched in time (a busy machine) gives a verdict that only says "cannot be checked now", so it is asked again."""
    last: dict[str, Any] = {}

    def settled() -> dict[str, Any] | None:
        nonlocal last
        last = verdict(at, credential)
        return last if last["outcome"] not in ("status-unknown", "not-verifiable") else None

    try:
        return at.wait_for("a verdict that does not wait on the issuer's node", settled)
    except TimeoutError:
        return last


def main(arguments: list[str]) -> None:
    nodes = dict(node(argument) for argument in arguments)
    (a_name, a), (b_name, b) = list(nodes.items())[:2]
    others = list(nodes.items())[1:]
    title = f"Circular Economy in Border Regions ({uuid.uuid4().hex[:4]})"
    course = a.approved_course(sample_course(title))
    offering = a.opened_offering(course, fee=FEE)
    print(f"At {a_name}: course '{title}' approved ({course['id']}), an offering open for registration ({offering['id']})")
    for name, other in others:
        listed, seen = listed_at(other, course, offering)
        print(f"At {name}: listed, by {listed['university']} ({listed['country']}, node {listed['node']}); "
              f"registration at {seen.get('registration_url')}")
    learner, application, issued = credential_for_a_visitor(a, b, offering, "Zofia Nowak", "uni-silesia")
    fee = "nothing" if application["fee_status"] == "waived" else f"{application['fee']} ({application['fee_status']})"
    print(f"At {a_name}: {learner.name}, a student of {b_name}, applied with {b_name}'s token and pays {fee}; "
          f"{a_name}'s LMS graded her; credential {issued['id']} issued")
    for name, other in others:
        print(f"At {name}: /verify says {settled_verdict(other, issued['credential'])['summary'].splitlines()[0]}")
    print(f"(A registrar of {a_name} revokes it with POST {a.urls['certification']}/credentials/{issued['id']}/revoke; "
          "the other nodes say revoked once their copy of the status list expires.)")
    print("\nEach node's pages:")
    for name, each in nodes.items():
        web = each.urls["web"]
        print(f"  {name:<10} catalogue {web}/catalogue   verify {web}/verify   API {each.urls['catalogue']}/docs   "
              f"alliance bus {each.urls['alliance']}/bus")


if __name__ == "__main__":
    main(sys.argv[1:])
