"""One learner's journey through a running node, driven only through HTTP and Kafka, as its users would drive it.

Used by the demo (`deploy/demo.sh`) and by the end-to-end tests. The LMS's grade goes onto Kafka with kcat,
a plain Kafka client, not with this project's code.
"""

import json
import mailbox
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email import message_from_binary_file, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

DEFAULT_PORTS = {"catalogue": 8001, "enrolment": 8002, "assessment": 8003, "certification": 8004, "notifications": 8005}
GRADE_SUBMISSIONS_TOPIC = "mc.lms.grade-submissions"


@dataclass
class Node:
    """Where a node's services, its Kafka and its mailbox are."""

    urls: dict[str, str]
    kafka: str
    maildir: Path
    topic_prefix: str = ""
    timeout: float = 60.0
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @classmethod
    def from_environment(cls) -> "Node":
        return cls(
            urls={
                name: os.environ.get(f"{name.upper()}_URL", f"http://127.0.0.1:{port}")
                for name, port in DEFAULT_PORTS.items()
            },
            kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            maildir=Path(os.environ.get("MAILDIR", ".run/mail")),
            topic_prefix=os.environ.get("TOPIC_PREFIX", ""),
        )

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.urls[service]}{path}", **kwargs)

    def ok(self, method: str, service: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, service, path, **kwargs)
        if response.is_error:
            raise AssertionError(f"{method} {service}{path} -> {response.status_code}: {response.text}")
        return response.json()

    def wait_for(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll until probe returns something: the node is eventually consistent across services."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if (found := probe()) is not None:
                return found
            time.sleep(0.2)
        raise TimeoutError(f"waited {self.timeout:.0f}s for {what}")

    # --- catalogue: a designer creates and submits, a QA officer approves ---

    def approved_course(self, description: dict[str, Any], designer: str, qa_officer: str) -> dict[str, Any]:
        course = self.ok("POST", "catalogue", "/courses", json={"designed_by": designer, "description": description})
        self.ok("POST", "catalogue", f"/courses/{course['id']}/submit")
        return self.ok("POST", "catalogue", f"/courses/{course['id']}/approve", json={"reviewed_by": qa_officer})

    # --- enrolment: a learner registers and enrols once the course is open to them ---

    def registered_learner(self, name: str, email: str, home_institution: str | None = None) -> dict[str, Any]:
        body = {"name": name, "email": email, "home_institution": home_institution, "category": "alliance-student"}
        return self.ok("POST", "enrolment", "/learners", json=body)

    def enrolment(self, learner_id: str, course_id: str) -> dict[str, Any]:
        self.wait_for(
            "the course to be open for enrolment",
            lambda: True if any(c["course_id"] == course_id for c in self.ok("GET", "enrolment", "/courses")) else None,
        )
        return self.ok("POST", "enrolment", "/enrolments", json={"learner_id": learner_id, "course_id": course_id})

    def wait_until_gradable(self, learner_id: str, course_id: str) -> None:
        self.wait_for(
            "assessment to know the enrolment",
            lambda: self.ok("GET", "assessment", "/enrolments", params={"learner_id": learner_id, "course_id": course_id})
            or None,
        )

    # --- the LMS: a grade submission as a CloudEvent, produced with kcat ---

    def submit_grade_with_kcat(self, course_id: str, learner_id: str, grade: str, passed: bool) -> str:
        document = grade_submission(course_id, learner_id, grade, passed)
        self.produce_with_kcat(GRADE_SUBMISSIONS_TOPIC, learner_id, json.dumps(document))
        return document["id"]

    def produce_with_kcat(self, topic: str, key: str, value: str) -> None:
        subprocess.run(
            ["kcat", "-P", "-b", self.kafka, "-t", f"{self.topic_prefix}{topic}", "-k", key, "-H",
             "content-type=application/cloudevents+json"],
            input=value.encode(),
            check=True,
            timeout=30,
        )

    # --- certification and notifications: what the learner ends up with ---

    def credentials(self, learner_id: str) -> list[dict[str, Any]]:
        return self.ok("GET", "certification", "/credentials", params={"learner_id": learner_id})

    def wait_for_credential(self, learner_id: str) -> dict[str, Any]:
        return self.wait_for("the credential", lambda: next(iter(self.credentials(learner_id)), None))

    def emails_to(self, address: str) -> list[EmailMessage]:
        if not self.maildir.exists():
            return []
        messages = mailbox.Maildir(self.maildir, factory=_parse_email, create=False)
        return [message for message in messages if address in (message["To"] or "")]

    def wait_for_email(self, address: str) -> EmailMessage:
        return self.wait_for(f"an email to {address}", lambda: next(iter(self.emails_to(address)), None))

    def rejections(self, learner_id: str) -> list[dict[str, Any]]:
        return self.ok("GET", "assessment", "/grade-rejections", params={"learner_id": learner_id})


def _parse_email(file: Any) -> EmailMessage:
    return message_from_binary_file(file, policy=policy.default)


def grade_submission(course_id: str, learner_id: str, grade: str, passed: bool) -> dict[str, Any]:
    """A grade submission as an LMS plugin writes it: a structured CloudEvent (see docs/lms-grade-submission.md)."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "https://moodle.example-university.eu",
        "type": "eu.microcredentials.lms.grade.submitted.v1",
        "time": datetime.now(UTC).isoformat(),
        "subject": learner_id,
        "datacontenttype": "application/json",
        "data": {
            "course_id": course_id,
            "learner_id": learner_id,
            "grade": grade,
            "passed": passed,
            "assessed_on": date.today().isoformat(),
            "assessor": "Prof. Dr. Maria Schmidt",
            "lms": "moodle.example-university.eu",
        },
    }


def sample_course(title: str = "Entrepreneurial Thinking for Sustainable Regions") -> dict[str, Any]:
    """A description with every Annex I mandatory element, as a T4EU designer would fill it in."""
    return {
        "title": title,
        "short_description": "Turning research into ventures that serve a region's sustainability goals.",
        "awarding_bodies": [{"name": "Saarland University", "country": "DE", "url": "https://www.uni-saarland.de"}],
        "learning_outcomes": [
            "Analyse a region's sustainability challenges with stakeholder mapping",
            "Design and pitch a venture concept grounded in research results",
        ],
        "languages": ["en"],
        "ects": 3,
        "workload_hours": 75,
        "eqf_level": 6,
        "type_of_assessment": "Project with a final presentation",
        "form_of_participation": "blended",
        "type_of_quality_assurance": "Internal quality assurance of Saarland University (system-accredited)",
        "identity_verification": "onsite-with-identity-verification",
        "stackability": "stackable",
        "prerequisites": "None",
        "contact": "microcredentials@uni-saarland.de",
    }
