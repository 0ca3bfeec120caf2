"""Offerings of approved courses, the learners' search over them, and the public catalogue page."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.catalogue.app import create_service
from services.catalogue.settings import CatalogueSettings
from services.catalogue.tests.samples import approved_course, description, designer, university
from shared.auth import Role
from shared.events import Topic
from tests.integration.conftest import running
from tests.stack import cloud_event, read_topic

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
OPEN = {
    "registration_opens_at": (NOW - timedelta(days=1)).isoformat(),
    "registration_closes_at": (NOW + timedelta(days=14)).isoformat(),
}
CLOSED = {
    "registration_opens_at": (NOW - timedelta(days=30)).isoformat(),
    "registration_closes_at": (NOW - timedelta(days=1)).isoformat(),
}


@pytest.fixture(scope="module")
async def client(stack):
    async with running(create_service(stack.settings(CatalogueSettings))) as client:
        yield client


def registrar(stack, institution: str) -> dict[str, str]:
    return stack.bearer(f"registrar@{institution}", Role.REGISTRAR, institution=institution)


def run(course_id: str, window: dict[str, str] = OPEN, **changes: Any) -> dict[str, Any]:
    return (
        {
            "course_id": course_id,
            "delivery_mode": "blended",
            "pace": "time-bound",
            "starts_on": (NOW + timedelta(days=30)).date().isoformat(),
            "ends_on": (NOW + timedelta(days=90)).date().isoformat(),
            "capacity": 25,
            "fee": {"amount": 250, "currency": "EUR"},
        }
        | window
        | changes
    )


async def offered(
    client, stack, course: dict[str, Any], window: dict[str, str] = OPEN, **changes: Any
) -> dict[str, Any]:
    """An approved course with an offering opened by its lead institution's registrar."""
    approved = await approved_course(client, stack, course)
    lead = course["awarding_bodies"][0]["id"]
    response = await client.post(
        "/offerings", json=run(approved["id"], window, **changes), headers=registrar(stack, lead)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_offering_opens_only_for_an_approved_course_and_reaches_kafka(client, stack):
    saarland, vilnius = university("Saarland University"), university("Vytautas Magnus University", "LT")
    course = description(saarland, vilnius)
    draft = (
        await client.post("/courses", json={"description": course}, headers=designer(stack, saarland["id"]))
    ).json()
    refused = await client.post("/offerings", json=run(draft["id"]), headers=registrar(stack, saarland["id"]))
    assert refused.status_code == 409 and "no approved version" in refused.json()["detail"]

    approved = await approved_course(client, stack, course)
    partner = await client.post("/offerings", json=run(approved["id"]), headers=registrar(stack, vilnius["id"]))
    assert partner.status_code == 403 and saarland["id"] in partner.json()["detail"]
    missing = await client.post(
        "/offerings", json=run(approved["id"], course_version=2), headers=registrar(stack, saarland["id"])
    )
    assert missing.status_code == 404

    opened = await client.post("/offerings", json=run(approved["id"]), headers=registrar(stack, saarland["id"]))
    assert opened.status_code == 201, opened.text
    offering = opened.json()
    assert (offering["course_version"], offering["institution"], offering["open_for_registration"]) == (
        1,
        saarland["id"],
        True,
    )
    assert offering["title"] == offering["description"]["title"] == course["title"]
    assert (await client.get(f"/offerings/{offering['id']}")).json() == offering

    records = await read_topic(
        stack, Topic.OFFERINGS, until=lambda rs: any(r.key == offering["id"].encode() for r in rs)
    )
    [event] = [cloud_event(r) for r in records if r.key == offering["id"].encode()]
    assert event["type"] == "eu.microcredentials.catalogue.offering.opened.v1"
    assert {
        key: event["data"][key] for key in ("course_id", "course_version", "title", "institution", "capacity", "fee")
    } == {
        "course_id": approved["id"],
        "course_version": 1,
        "title": course["title"],
        "institution": saarland["id"],
        "capacity": 25,
        "fee": {"amount": 250.0, "currency": "EUR"},
    }
    assert event["data"]["open_to"] == ["alliance-student", "alliance-staff", "external"]

    # Once retired, a course is no longer offered, and learners no longer find its offering.
    admin = stack.bearer("admin@saarland", Role.NODE_ADMIN, institution=saarland["id"])
    await client.post(f"/courses/{approved['id']}/retire", headers=admin)
    after = await client.post("/offerings", json=run(approved["id"]), headers=registrar(stack, saarland["id"]))
    assert after.status_code == 409
    assert (await client.get("/offerings", params={"university": saarland["id"]})).json()["total"] == 0


async def test_an_offering_with_impossible_dates_is_refused_naming_the_fields(client, stack):
    saarland = university("Saarland University")
    approved = await approved_course(client, stack, description(saarland))
    backwards = run(
        approved["id"],
        {
            "registration_opens_at": OPEN["registration_closes_at"],
            "registration_closes_at": OPEN["registration_opens_at"],
        },
        starts_on="2026-06-01",
        ends_on="2026-05-01",
    )
    response = await client.post("/offerings", json=backwards, headers=registrar(stack, saarland["id"]))
    assert response.status_code == 422
    assert {e["loc"][-1] for e in response.json()["detail"]} == {"registration_closes_at", "ends_on"}


async def test_learners_search_offerings_by_language_ects_university_and_registration(client, stack):
    uni, elsewhere = university("University of Silesia", "PL"), university("Jean Monnet University", "FR")
    english_3 = await offered(client, stack, description(uni, title=f"Data Literacy {uuid.uuid4().hex[:6]}"))
    german_6 = await offered(
        client,
        stack,
        description(uni, languages=["de"], ects=6, workload_hours=150, eqf_level=7, target_groups=["Professionals"]),
        delivery_mode="on-campus",
    )
    english_10 = await offered(
        client, stack, description(uni, ects=10, workload_hours=250), pace="self-paced", starts_on=None, ends_on=None
    )
    english_closed = await offered(client, stack, description(uni), CLOSED)
    await offered(client, stack, description(elsewhere))

    async def found(**filters: Any) -> list[str]:
        page = (await client.get("/offerings", params={"university": uni["id"]} | filters)).json()
        return sorted(item["id"] for item in page["items"])

    def ids(*offerings: dict[str, Any]) -> list[str]:
        return sorted(offering["id"] for offering in offerings)

    assert await found() == ids(english_3, german_6, english_10, english_closed)
    assert await found(language="en") == ids(english_3, english_10, english_closed)
    assert await found(ects_min=5, ects_max=8) == ids(german_6)
    assert await found(ects_min=5) == ids(german_6, english_10)
    assert await found(open_for_registration="true") == ids(english_3, german_6, english_10)
    assert await found(open_for_registration="false") == ids(english_closed)
    assert await found(eqf_level=7, delivery_mode="on-campus") == ids(german_6)
    assert await found(pace="self-paced") == ids(english_10)
    assert await found(target_group="MASTER") == ids(english_3, english_10, english_closed)
    assert await found(q=english_3["description"]["title"][-10:].lower()) == ids(english_3)
    assert await found(skill=description(uni)["skills"][0], language="de") == ids(german_6)

    first = (await client.get("/offerings", params={"university": uni["id"], "page_size": 3})).json()
    second = (await client.get("/offerings", params={"university": uni["id"], "page_size": 3, "page": 2})).json()
    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (4, 1, 3, 3)
    assert (second["total"], second["page"], len(second["items"])) == (4, 2, 1)
    assert sorted(item["id"] for item in first["items"] + second["items"]) == await found()
    # Those whose registration closes soonest first (then by id), across pages.
    listed = [
        (datetime.fromisoformat(item["registration_closes_at"]), item["id"])
        for item in first["items"] + second["items"]
    ]
    assert listed == sorted(listed)
    beyond = (await client.get("/offerings", params={"university": uni["id"], "page_size": 3, "page": 3})).json()
    assert (beyond["total"], beyond["items"]) == (4, [])  # A page past the last still tells how many match.
    too_big = await client.get("/offerings", params={"page_size": 101})
    assert too_big.status_code == 422 and too_big.json()["detail"][0]["loc"] == ["query", "page_size"]


async def test_the_catalogue_page_shows_open_offerings_with_every_element_and_escapes_what_designers_wrote(
    client, stack
):
    uni = university("Saarland University")
    script_title = f"Hacking <script>alert('{uuid.uuid4().hex[:6]}')</script> for Good"
    open_run = await offered(
        client,
        stack,
        description(
            uni,
            title=script_title,
            learning_outcomes=["Write a threat model for a web application"],
            languages=["en", "fr"],
            type_of_assessment="Oral exam on a threat model",
        ),
    )
    closed_title = f"Closed Course {uuid.uuid4().hex[:6]}"
    closed_run = await offered(client, stack, description(uni, title=closed_title), CLOSED)

    response = await client.get("/catalogue", params={"university": uni["id"]})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f'data-offering-id="{open_run["id"]}"' in page and f'data-offering-id="{closed_run["id"]}"' not in page
    assert "<h2>Hacking &lt;script&gt;alert(" in page and "<script>" not in page and closed_title not in page
    article = page[page.index(f'data-offering-id="{open_run["id"]}"') :]
    article = article[: article.index("</article>")]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(article)))
    for element in (
        "Awarding bodies",
        "Saarland University",
        "Countries of the issuer",
        "Germany",
        "Learning outcomes",
        "Write a threat model for a web application",
        "Languages",
        "English, French",
        "Workload",
        "3 ECTS (75 hours)",
        "Level",
        "EQF 6",
        "Type of assessment",
        "Oral exam on a threat model",
        "Form of participation",
        "Blended",
        "Type of quality assurance",
        "Internal quality assurance of the lead university",
        "Prerequisites",
        "Supervision and identity verification",
        "Onsite with identity verification",
        "Integration / stackability",
        "Stackable",
        "Contact",
        "microcredentials@example.eu",
        "Target groups",
        "Master students",
        "Course leaders",
        "Prof. Dr. Maria Schmidt",
        "Lecturers",
        "Dr. Jan Novak",
        "Max number of participants",
        "25",
        "Fee",
        "250.00 EUR",
        "Mode of delivery",
        "Pace",
        "Time bound",
        "Registration",
        "Time of delivery",
    ):
        assert element in text, f"the page shows {element!r}"

    # The page's filters are the API's; an empty form field means "any".
    german = (await client.get("/catalogue", params={"university": uni["id"], "language": "de", "q": ""})).text
    assert "data-offering-id" not in german and "0 micro-credential offerings open" in german
