"""Many learners apply to one offering at the same moment: its capacity is never exceeded, the waitlist has no gaps."""

import asyncio
import time
from collections import Counter

import pytest
from sqlalchemy import text

from services.enrolment.settings import EnrolmentSettings
from shared.db import create_engine
from shared.events.common import LearnerCategory
from tests.integration.test_enrolment_applications import (  # noqa: F401 - `client` is a fixture
    apply,
    client,
    kind,
    learner_token,
    open_offering,
    published_for,
    registrar,
    unique,
)

pytestmark = pytest.mark.integration

LEARNERS, CAPACITY = 200, 30


async def test_200_learners_applying_at_once_to_30_places_get_30_places_and_170_places_in_line(stack, client):
    offering = await open_offering(stack, client, capacity=CAPACITY)
    learners = {unique("learner"): None for _ in range(LEARNERS)}
    for learner_id in learners:
        learners[learner_id] = learner_token(stack, learner_id, LearnerCategory.EXTERNAL, name="Lucia Rossi")
    registrations = await asyncio.gather(
        *(client.post("/learners", headers=headers, json={}) for headers in learners.values())
    )
    assert {r.status_code for r in registrations} == {201}

    started = time.monotonic()
    answers = await asyncio.gather(*(apply(client, headers, offering["id"]) for headers in learners.values()))
    elapsed = time.monotonic() - started
    print(f"\n{LEARNERS} concurrent applications to {CAPACITY} places answered in {elapsed:.2f}s")

    assert Counter(a.status_code for a in answers) == {201: CAPACITY, 202: LEARNERS - CAPACITY}
    positions = sorted(a.json()["position"] for a in answers if a.status_code == 202)
    assert positions == list(range(1, LEARNERS - CAPACITY + 1))
    assert all(a.json()["fee_status"] == "waived" for a in answers if a.status_code == 201), "a free offering"

    # The database agrees, through the API and underneath it.
    rows = (await client.get("/applications", params={"offering_id": offering["id"]}, headers=registrar(stack))).json()
    assert {r["id"] for r in rows} == {a.json()["id"] for a in answers}
    assert Counter(r["status"] for r in rows) == {"enrolled": CAPACITY, "waitlisted": LEARNERS - CAPACITY}
    assert sorted(r["position"] for r in rows if r["status"] == "waitlisted") == positions
    counts = (await client.get(f"/offerings/{offering['id']}")).json()
    assert (counts["enrolled"], counts["waitlisted"], counts["places_left"]) == (CAPACITY, LEARNERS - CAPACITY, 0)
    engine = create_engine(stack.settings(EnrolmentSettings))
    try:
        async with engine.connect() as connection:
            seats = (
                await connection.execute(
                    text(
                        "SELECT count(*), count(DISTINCT seat), min(seat), max(seat) FROM applications "
                        "WHERE offering_id = :offering AND status = 'enrolled'"
                    ),
                    {"offering": offering["id"]},
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(seats) == (CAPACITY, CAPACITY, 1, CAPACITY)

    events = await published_for(stack, offering["id"], count=LEARNERS, timeout=60)
    assert Counter(kind(e) for e in events) == {"enrolled": CAPACITY, "waitlisted": LEARNERS - CAPACITY}
    assert {e["data"]["enrolment_id"] for e in events} == {a.json()["id"] for a in answers}
    assert sorted(e["data"]["position"] for e in events if kind(e) == "waitlisted") == positions
