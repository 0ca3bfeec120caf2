"""What the alliance's dashboards see: a resumable event stream, the figures staff ask for, and a live page."""

import json
import subprocess
import uuid

import httpx
import pytest

from deploy.journey import REGISTRAR, Node, Person, bearer_header, sample_course
from tests.stack import ROOT

pytestmark = pytest.mark.e2e

ENROLLED = "eu.microcredentials.enrolment.learner.enrolled.v1"


def read_stream(
    node: Node, params: dict, until, last_event_id: int | None = None, viewer: Person = REGISTRAR
) -> list[tuple[int, dict]]:
    """The events the stream shows a viewer, with their ids, until `until(events)` holds."""
    headers = bearer_header(node.auth_key.read_bytes(), viewer.principal)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[tuple[int, dict]] = []
    url = f"{node.urls['notifications']}/dashboard/events"
    with httpx.stream("GET", url, params=params, headers=headers, timeout=httpx.Timeout(5, read=60)) as response:
        frame: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(("id:", "data:")):
                key, _, value = line.partition(":")
                frame[key] = value.strip()
            elif not line and "data" in frame:
                events.append((int(frame["id"]), json.loads(frame["data"])))
                frame = {}
                if until(events):
                    break
    return events


def test_the_event_stream_resumes_after_a_disconnect_without_gaps_or_repeats(node: Node):
    course = node.approved_course(sample_course(f"Stream Course {uuid.uuid4().hex[:4]}"))
    offering = node.opened_offering(course)
    learners = [node.registered_learner(name) for name in ("Ana Horvat", "Jonas Berg", "Lucia Rossi")]
    for learner in learners[:2]:
        node.enrolled(learner, offering)
    mine = {"type": ENROLLED, "university": "uni-saarland"}

    def enrolled_here(events: list[tuple[int, dict]]) -> list[str]:
        return [e["data"]["learner"]["learner_id"] for _, e in events if e["data"].get("offering_id") == offering["id"]]

    first = read_stream(node, mine, until=lambda events: len(enrolled_here(events)) == 2)
    assert all(event["type"] == ENROLLED and event["university"] == "uni-saarland" for _, event in first)
    last_seen = first[-1][0]

    node.enrolled(learners[2], offering)
    resumed = read_stream(node, mine, until=lambda events: len(events) == 1, last_event_id=last_seen)

    assert resumed[0][0] > last_seen
    assert enrolled_here(resumed) == [learners[2].subject], "the next event after the last seen, once"
    assert enrolled_here(first) == [learner.subject for learner in learners[:2]]

    # follow=false: what is there, then the stream closes by itself (for scripts and fuzzers).
    there = read_stream(node, mine | {"follow": "false"}, until=lambda events: False, last_event_id=last_seen)
    assert enrolled_here(there) == [learners[2].subject]


def test_the_figures_count_an_offerings_places_and_the_page_updates_live(node: Node):
    course = node.approved_course(sample_course(f"Dashboard Course {uuid.uuid4().hex[:4]}"))
    offering = node.opened_offering(course, capacity=2)
    learners = [node.registered_learner(name) for name in ("Petra Svoboda", "Mateo García", "Inès Martin")]
    node.enrolled(learners[0], offering)

    figures = node.ok("GET", "notifications", "/dashboard/figures", by=REGISTRAR)
    before = _tiles(figures)
    # The registrar's token reaches the page in the address's fragment, which the browser never sends to a server.
    token = bearer_header(node.auth_key.read_bytes(), REGISTRAR.principal)["Authorization"].removeprefix("Bearer ")
    watcher = subprocess.Popen(
        ["node", str(ROOT / "tools" / "browser" / "watch-dashboard.mjs"),
         f"{node.urls['notifications']}/dashboard#token={token}",
         f"enrolled={before['enrolled'] + 1}", f"waitlisted={before['waitlisted'] + 1}",
         f"credentials={before['credentials'] + 1}", "--screenshot", str(ROOT / ".run" / "screenshots" / "dashboard.png")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert json.loads(watcher.stdout.readline())["connected"], "the page's event stream is live"
        # The journey goes on while the page is open: one more place taken, one waitlisted, one credential.
        assert node.apply(learners[1], offering).status_code == 201
        assert node.apply(learners[2], offering).status_code == 202
        node.wait_until_gradable(learners[0].subject, offering["course_id"])
        node.submit_grade_with_kcat(offering["course_id"], learners[0].subject, grade="1.7", passed=True)
        output, _ = watcher.communicate(timeout=90)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, f"the page did not show the new enrolment, waitlisting and credential: {output}"

    figures = node.ok("GET", "notifications", "/dashboard/figures", by=REGISTRAR)
    [row] = [o for o in figures["offerings"] if o["offering_id"] == offering["id"]]
    assert (row["applications"], row["enrolled"], row["waitlisted"], row["capacity"]) == (3, 2, 1, 2)
    assert float(row["fill_rate"]) == 1.0
    assert figures["grade_to_credential"]["credentials"] >= 1


def _tiles(figures: dict) -> dict[str, int]:
    return {
        "enrolled": sum(row["enrolled"] for row in figures["offerings"]),
        "waitlisted": sum(row["waitlisted"] for row in figures["offerings"]),
        "credentials": sum(row["issued"] for row in figures["credentials_per_month"]),
    }
