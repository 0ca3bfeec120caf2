"""One learner's journey through a running node, driven only through HTTP and Kafka, as its users would drive it.

Used by the demo (`deploy/demo.sh`) and by the end-to-end tests. The LMS's grade goes onto Kafka with kcat,
a plain Kafka client, not with this project's code, authenticated as the LMS with its own SCRAM credentials.
"""

import json
import mailbox
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_binary_file, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx

from shared.auth import Affiliation, Principal, Role, issue_token
from shared.events.topics import lms_source, lms_topic

T = TypeVar("T")

DEFAULT_PORTS = {"catalogue": 8001, "enrolment": 8002, "assessment": 8003, "certification": 8004, "notifications": 8005}


@dataclass(frozen=True)
class Lms:
    """An LMS as the node's LMS registry knows it (`python -m deploy.kafka_security lms add`)."""

    id: str
    name: str
    institutions: tuple[str, ...]

    @property
    def topic(self) -> str:
        return lms_topic(self.id)


# The node's LMS, grading Saarland University's courses (deploy/node.sh registers it); and one that grades for
# another university, which may not grade Saarland's courses.
NODE_LMS = Lms("moodle-saarland", "Moodle of Saarland University", ("uni-saarland",))
LMS_OF_ANOTHER_INSTITUTION = Lms("canvas-sofia", "Canvas of Sofia University", ("uni-sofia",))


@dataclass(frozen=True)
class Person:
    """Someone using the node, with what their identity provider puts in their bearer token: the role, the home
    institution, and for learners their affiliation there (eduPersonAffiliation: student, staff, ...)."""

    subject: str
    name: str
    role: str
    institution: str | None = None
    email: str | None = None
    affiliation: tuple[str, ...] = ()

    @property
    def principal(self) -> Principal:
        return Principal(
            subject=self.subject,
            name=self.name,
            roles=frozenset({Role(self.role)}),
            institution=self.institution,
            email=self.email,
            affiliation=frozenset(Affiliation(value) for value in self.affiliation),
        )


# The `iss` of the tokens the journey makes with a node's key (a node of an alliance names its own issuer).
JOURNEY_TOKEN_ISSUER = "urn:microcredentials:journey"


def bearer_header(private_key: bytes, principal: Principal, issuer: str = JOURNEY_TOKEN_ISSUER) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(private_key, principal, issuer=issuer)}"}


DESIGNER = Person("julia.becker@uni-saarland.de", "Dr. Julia Becker", "course-designer", "uni-saarland")
QA_OFFICER = Person("thomas.wagner@uni-saarland.de", "Prof. Thomas Wagner", "qa-officer", "uni-saarland")
REGISTRAR = Person("registrar@uni-saarland.de", "Registrar's Office", "registrar", "uni-saarland")
ASSESSOR = Person("maria.schmidt@uni-saarland.de", "Prof. Dr. Maria Schmidt", "assessor", "uni-saarland")
# Learners' home institutions: the University of Primorska is in the alliance (ALLIANCE_INSTITUTIONS), the other not.
ALLIANCE_UNIVERSITY = "upr"
OUTSIDE_UNIVERSITY = "uni-elsewhere"

# Assessment decides passes from the course's scheme: Germany's 1.0 (best) to 5.0, passing up to 4.0.
def open_offering(course_id: str) -> dict[str, Any]:
    """The body of an offering of the course open for registration from an hour ago for two weeks (blended, paced)."""
    now = datetime.now(UTC)
    return {
        "course_id": course_id,
        "delivery_mode": "blended",
        "pace": "time-bound",
        "starts_on": (now + timedelta(days=30)).date().isoformat(),
        "ends_on": (now + timedelta(days=90)).date().isoformat(),
        "registration_opens_at": (now - timedelta(hours=1)).isoformat(),
        "registration_closes_at": (now + timedelta(days=14)).isoformat(),
    }


GERMAN_SCHEME = {
    "kind": "numeric", "name": "German 1.0-5.0", "minimum": 1.0, "maximum": 5.0, "pass_mark": 4.0, "lower_is_better": True
}


@dataclass
class Node:
    """Where a node's services, its Kafka and its mailbox are, and the key that signs its users' tokens."""

    urls: dict[str, str]
    kafka: str
    maildir: Path
    auth_key: Path
    topic_prefix: str = ""
    # The Kafka credentials files of the node's principals (`<principal>.properties`, librdkafka's format).
    kafka_credentials: Path | None = None
    lms: Lms = NODE_LMS
    # The `iss` of its users' tokens (an alliance's registry lists it as the node's institution's token issuer).
    token_issuer: str = JOURNEY_TOKEN_ISSUER
    timeout: float = 60.0
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    @classmethod
    def from_environment(cls) -> "Node":
        state = Path(os.environ.get("MC_STATE_DIR", ".run"))
        return cls(
            urls={
                name: os.environ.get(f"{name.upper()}_URL", f"http://127.0.0.1:{port}")
                for name, port in DEFAULT_PORTS.items()
            },
            kafka=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            maildir=Path(os.environ.get("MAILDIR", state / "mail")),
            auth_key=Path(os.environ.get("AUTH_PRIVATE_KEY_FILE", state / "keys" / "auth-private.pem")),
            topic_prefix=os.environ.get("TOPIC_PREFIX", ""),
            kafka_credentials=Path(os.environ.get("MC_KAFKA_CREDENTIALS", state / "keys" / "kafka")),
        )

    def call(
        self, method: str, service: str, path: str, *, by: Person | None = None, headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = (headers or {}) | (
            bearer_header(self.auth_key.read_bytes(), by.principal, self.token_issuer) if by else {}
        )
        return self.http.request(method, f"{self.urls[service]}{path}", headers=headers, **kwargs)

    def ok(self, method: str, service: str, path: str, *, by: Person | None = None, **kwargs: Any) -> Any:
        response = self.call(method, service, path, by=by, **kwargs)
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

    # --- catalogue: a designer describes and submits, a QA officer approves, a registrar opens an offering ---

    def approved_course(
        self, description: dict[str, Any], designer: Person = DESIGNER, qa_officer: Person = QA_OFFICER,
        assessor: Person = ASSESSOR,
    ) -> dict[str, Any]:
        course = self.ok("POST", "catalogue", "/courses", by=designer, json={"description": description})
        self.ok("POST", "catalogue", f"/courses/{course['id']}/submit", by=designer)
        approved = self.ok("POST", "catalogue", f"/courses/{course['id']}/approve", by=qa_officer, json={})
        self.grading_scheme(approved["id"], GERMAN_SCHEME, assessor)
        return approved

    def grading_scheme(self, course_id: str, scheme: dict[str, Any], assessor: Person = ASSESSOR) -> dict[str, Any]:
        """The awarding university's assessor sets how the course is graded (once assessment knows the course)."""
        self.wait_for(
            "assessment to know the course",
            lambda: True if self.call("GET", "assessment", f"/courses/{course_id}").status_code == 200 else None,
        )
        return self.ok("PUT", "assessment", f"/courses/{course_id}/grading-scheme", by=assessor, json={"scheme": scheme})

    def opened_offering(self, course: dict[str, Any], registrar: Person = REGISTRAR, **terms: Any) -> dict[str, Any]:
        """An offering open for registration now; `terms` override capacity, fee, open_to, dates, mode, pace."""
        body = open_offering(course["id"]) | terms
        offering = self.ok("POST", "catalogue", "/offerings", by=registrar, json=body)
        # Offerings and course approvals travel on different topics: wait until enrolment has both.
        self.wait_for(
            "enrolment to know the offering and its course",
            lambda: True
            if any(o["id"] == offering["id"] and o["course_known"] for o in self.ok("GET", "enrolment", "/offerings"))
            else None,
        )
        return offering

    # --- enrolment: a learner registers, applies, maybe withdraws ---

    def registered_learner(
        self,
        name: str,
        affiliation: tuple[str, ...] = ("student",),
        institution: str | None = ALLIANCE_UNIVERSITY,
        language: str | None = None,
    ) -> Person:
        """A learner who registered: who they are comes from their token (a student of an alliance university by
        default; the learner chooses only their language)."""
        learner_id = str(uuid.uuid4())
        email = f"{name.lower().replace(' ', '.')}.{learner_id[:6]}@learners.example.eu"
        learner = Person(learner_id, name, "learner", institution=institution, email=email, affiliation=affiliation)
        self.ok("POST", "enrolment", "/learners", by=learner, json={"preferred_language": language})
        return learner

    def apply(self, learner: Person, offering: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.call("POST", "enrolment", "/applications", by=learner, json={"offering_id": offering["id"]} | extra)

    def enrolled(self, learner: Person, offering: dict[str, Any]) -> dict[str, Any]:
        """Apply and get a place; then wait until assessment knows the learner can be graded."""
        response = self.apply(learner, offering)
        if response.status_code != 201:
            raise AssertionError(f"expected a place for {learner.name}: {response.status_code} {response.text}")
        self.wait_until_gradable(learner.subject, offering["course_id"])
        return response.json()

    def withdraw(self, person: Person, application_id: str) -> dict[str, Any]:
        return self.ok("POST", "enrolment", f"/applications/{application_id}/withdraw", by=person)

    def wait_until_gradable(self, learner_id: str, course_id: str, assessor: Person = ASSESSOR) -> None:
        self.wait_for(
            "assessment to know the enrolment",
            lambda: self.ok(
                "GET", "assessment", "/enrolments", by=assessor, params={"learner_id": learner_id, "course_id": course_id}
            )
            or None,
        )

    # --- the LMS: a grade submission as a CloudEvent, produced with kcat ---

    def submit_grade_with_kcat(
        self, course_id: str, learner_id: str, grade: str, passed: bool, lms: Lms | None = None
    ) -> str:
        """The LMS (by default the node's) sends a grade onto its own topic, as its own Kafka principal."""
        lms = lms or self.lms
        document = grade_submission(course_id, learner_id, grade, passed, lms)
        self.produce_with_kcat(lms.topic, learner_id, json.dumps(document), principal=self.lms_principal(lms))
        return document["id"]

    def lms_principal(self, lms: Lms | None = None) -> str:
        return f"{self.topic_prefix}lms-{(lms or self.lms).id}"

    def kcat_config(self, principal: str) -> Path:
        """A principal's credentials file, which kcat takes with -F."""
        assert self.kafka_credentials is not None, "the node's Kafka credentials directory is not known"
        return self.kafka_credentials / f"{principal}.properties"

    def produce_with_kcat(
        self, topic: str, key: str, value: str, *, principal: str | None = "lms", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Produce one message with kcat onto a topic of the node (named without the prefix).

        `principal`: whose SCRAM credentials kcat uses: "lms" for the node's LMS, another principal's name, or None
        for none at all. With `check`, a message the broker refused raises with what kcat printed; else the result.
        """
        principal = self.lms_principal() if principal == "lms" else principal
        credentials = ["-F", str(self.kcat_config(principal))] if principal else []
        result = subprocess.run(
            # A refused message fails within message.timeout.ms, not librdkafka's default of five minutes.
            ["kcat", *credentials, "-b", self.kafka, "-X", "message.timeout.ms=15000", "-P",
             "-t", f"{self.topic_prefix}{topic}", "-k", key, "-H", "content-type=application/cloudevents+json"],
            input=value,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kcat as {principal or 'nobody'} could not produce to {topic}: {result.stderr.strip()}")
        return result

    # --- certification and notifications: what the learner ends up with ---

    def credentials(self, learner_id: str) -> list[dict[str, Any]]:
        return self.ok("GET", "certification", "/credentials", by=REGISTRAR, params={"learner_id": learner_id})

    def wait_for_credential(self, learner_id: str) -> dict[str, Any]:
        return self.wait_for("the credential", lambda: next(iter(self.credentials(learner_id)), None))

    def emails_to(self, address: str, about: str = "") -> list[EmailMessage]:
        """The emails sent to an address; with `about`, those whose subject contains it."""
        if not (self.maildir / "cur").exists():  # The sink makes the Maildir's folders with its first message.
            return []
        messages = mailbox.Maildir(self.maildir, factory=_parse_email, create=False)
        return [m for m in messages if address in (m["To"] or "") and about in (m["Subject"] or "")]

    def wait_for_email(self, address: str, about: str = "") -> EmailMessage:
        return self.wait_for(
            f"an email to {address} about {about!r}", lambda: next(iter(self.emails_to(address, about)), None)
        )

    def rejections(self, learner_id: str, assessor: Person = ASSESSOR) -> list[dict[str, Any]]:
        """Grade submissions for the learner rejected at the assessor's institution's courses."""
        return self.ok("GET", "assessment", "/grade-rejections", by=assessor, params={"learner_id": learner_id})


def _parse_email(file: Any) -> EmailMessage:
    return message_from_binary_file(file, policy=policy.default)


def grade_submission(course_id: str, learner_id: str, grade: str, passed: bool, lms: Lms = NODE_LMS) -> dict[str, Any]:
    """A grade submission as an LMS plugin writes it: a structured CloudEvent (see docs/lms-grade-submission.md)."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": lms_source(lms.id),
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
            "lms": lms.id,
        },
    }


def sample_course(title: str = "Entrepreneurial Thinking for Sustainable Regions") -> dict[str, Any]:
    """A description with every Annex I mandatory element, as a T4EU designer would fill it in."""
    return {
        "title": title,
        "short_description": "Turning research into ventures that serve a region's sustainability goals.",
        "awarding_bodies": [
            {"id": "uni-saarland", "name": "Saarland University", "country": "DE", "url": "https://www.uni-saarland.de"}
        ],
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
