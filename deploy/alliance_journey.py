"""The alliance's journey (deploy/alliance.sh): a course approved at the first node, with an offering open for
registration, appears in every other node's catalogue with its university's name and a link to where one registers;
then where each node's pages are.

    python -m deploy.alliance_journey saarland=8100=<auth-private.pem> silesia=8200=<...> primorska=8300=<...>

Each argument is a node: its id, the base of its ports (services on base+1..base+6, as deploy/node.sh numbers them)
and the key its users' tokens are signed with. Kafka and the mailbox are the environment's (`source .run/env`).
"""

import os
import sys
import uuid
from pathlib import Path

from deploy.journey import Node, sample_course

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications", "alliance")


def node(argument: str) -> tuple[str, Node]:
    name, base, key = argument.split("=", 2)
    urls = {service: f"http://127.0.0.1:{int(base) + number}" for number, service in enumerate(SERVICES, start=1)}
    return name, Node(
        urls=urls, kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        maildir=Path(os.environ.get("MAILDIR", ".run/mail")), auth_key=Path(key), topic_prefix=f"{name}.",
        timeout=120.0,
    )


def main(arguments: list[str]) -> None:
    nodes = dict(node(argument) for argument in arguments)
    (home, a), others = next(iter(nodes.items())), list(nodes.items())[1:]
    title = f"Circular Economy in Border Regions ({uuid.uuid4().hex[:4]})"
    course = a.approved_course(sample_course(title))
    offering = a.opened_offering(course)
    print(f"At {home}: course '{title}' approved ({course['id']}), an offering open for registration ({offering['id']})")
    for name, other in others:
        listed = other.wait_for(
            f"{name}'s catalogue to list the course",
            lambda other=other: next(
                (item for item in other.ok("GET", "catalogue", "/alliance/courses", params={"q": title})["items"]
                 if item["course_id"] == course["id"]),
                None,
            ),
        )
        seen = other.wait_for(
            f"{name}'s catalogue to show the offering",
            lambda other=other: found.json()
            if (found := other.call("GET", "catalogue", f"/offerings/{offering['id']}")).status_code == 200
            else None,
        )
        print(f"At {name}: listed, by {listed['university']} ({listed['country']}, node {listed['node']}); "
              f"registration at {seen.get('registration_url')}")
    print("\nEach node's pages:")
    for name, each in nodes.items():
        catalogue = each.urls["catalogue"]
        print(f"  {name:<10} catalogue {catalogue}/catalogue   API {catalogue}/docs   "
              f"alliance bus {each.urls['alliance']}/bus")


if __name__ == "__main__":
    main(sys.argv[1:])
