"""Descriptions, people and steps the catalogue's integration tests share. Each test makes its own universities, so
that tests sharing one database and one Kafka topic never see each other's courses."""

import uuid
from typing import Any

import httpx

from shared.auth import Role


def university(name: str, country: str = "DE") -> dict[str, Any]:
    """An awarding body with an id no other test uses."""
    code = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
    return {"id": code, "name": name, "country": country, "url": f"https://www.{code}.eu"}


def description(*awarding_bodies: dict[str, Any], title: str | None = None, **changes: Any) -> dict[str, Any]:
    """A description with every Annex I element and the T4EU template's fields, as a T4EU designer fills it in."""
    return {
        "title": title or f"Circular Economy in Practice {uuid.uuid4().hex[:6]}",
        "short_description": "How regional firms close material loops, with a case from a partner region.",
        "awarding_bodies": list(awarding_bodies),
        "learning_outcomes": [
            "Map the material flows of a regional value chain",
            "Propose a circular business model and assess its environmental effect",
        ],
        "languages": ["en"],
        "ects": 3,
        "workload_hours": 75,
        "eqf_level": 6,
        "type_of_assessment": "Case study report and oral defence",
        "form_of_participation": "blended",
        "type_of_quality_assurance": "Internal quality assurance of the lead university (system-accredited)",
        "identity_verification": "onsite-with-identity-verification",
        "stackability": "stackable",
        "prerequisites": "None",
        "contact": "microcredentials@example.eu",
        "faculty": "Faculty of Economics",
        "target_groups": ["Master students", "Professionals"],
        "participants_obligations": "Attend four workshops and deliver a team project",
        "literature": ["Osterwalder, Business Model Generation (2010)"],
        "competences": ["Entrepreneurship"],
        "skills": ["http://data.europa.eu/esco/skill/5c0d0a4c-e3a8-4d36-9d9a-a5e2d7e6a9f1"],
        "course_leaders": ["Prof. Dr. Maria Schmidt"],
        "lecturers": ["Dr. Jan Novak"],
        # The T4EU course table's activity description.
        "pace": "time-bound",
        "access": "limited",
        "max_participants": 30,
        "funding": "alliance-funded",
        "funding_note": "Free for the alliance's students; a fee for external learners",
        "curriculum_inclusion": ["elective", "extracurricular"],
        "application_and_selection": "Apply on the alliance's catalogue; first come, first served",
        "recognition_of_results": "3 ECTS recognised at every member university",
        "sustainability": "Run every winter semester from the faculty's budget",
        "student_support": "A tutor answers questions in weekly online office hours",
        "teacher_support": "Didactics training by the university's teaching centre",
        "infrastructure": "A laptop with a webcam; the partner region's lab for the site visit",
        "qa_data_collected": "Course evaluation by learners and by partner firms after each run",
    } | changes


def designer(stack: Any, institution: str, subject: str | None = None) -> dict[str, str]:
    return stack.bearer(subject or f"designer@{institution}", Role.COURSE_DESIGNER, institution=institution)


def qa_officer(stack: Any, institution: str, subject: str | None = None) -> dict[str, str]:
    return stack.bearer(subject or f"qa@{institution}", Role.QA_OFFICER, institution=institution)


async def approved_course(client: httpx.AsyncClient, stack: Any, course: dict[str, Any]) -> dict[str, Any]:
    """A course created and submitted by a designer of its lead institution and approved by that institution's QA."""
    lead = course["awarding_bodies"][0]["id"]
    created = await client.post("/courses", json={"description": course}, headers=designer(stack, lead))
    assert created.status_code == 201, created.text
    course_id = created.json()["id"]
    assert (await client.post(f"/courses/{course_id}/submit", headers=designer(stack, lead))).status_code == 200
    approval = await client.post(f"/courses/{course_id}/approve", headers=qa_officer(stack, lead))
    assert approval.status_code == 200, approval.text
    return approval.json()
