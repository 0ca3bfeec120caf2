"""Who may read and do what: ONE table with an entry for every route of every service, checked against the services
(the five and the alliance gateway) running in this process on the real Kafka and PostgreSQL.

The callers: anonymous; the learner the record is about (`learner`) and another learner (`other-learner`); each staff
role at institution A, whose course, offering, grade or credential each request is about (`registrar`), and at
institution B (`registrar@B`). The data set, made through the services' own APIs: a course, offering, enrolment,
grade and credential at A for the learner, and the same at B for the other learner.

Each entry says who is let through and what they get; everyone else gets 401 (anonymous) or 403 with a detail that
says what was needed and what their token holds. A write lets its callers through to a refusal of the rules (409,
422) where a success would change the data the other entries read. Lists also say what each caller sees of the data
set: a learner their own, staff their institution's, the node administrator everything. A route the apps have and
the table lacks fails the test, so a new route cannot arrive without a decision on who may use it.
"""

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.alliance.app import create_service as create_gateway
from services.alliance.settings import AllianceSettings
from services.assessment.app import create_service as create_assessment
from services.assessment.settings import AssessmentSettings
from services.catalogue.app import create_service as create_catalogue
from services.catalogue.settings import CatalogueSettings
from services.catalogue.tests.samples import description
from services.certification.app import create_service as create_certification
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import create_key
from services.enrolment.app import create_service as create_enrolment
from services.enrolment.settings import EnrolmentSettings
from services.notifications.app import create_service as create_notifications
from services.notifications.preferences import unsubscribe_token
from services.notifications.settings import NotificationsSettings
from shared.auth import Affiliation, Principal, Role
from shared.migrations import upgrade
from shared.service import Service, create_app
from tests.integration.conftest import eventually
from tests.stack import Stack, with_kafka_principals

pytestmark = pytest.mark.integration

A, B = "uni-saarland", "uni-sofia"
UNSUBSCRIBE_SECRET = "authorization-table"
PUBLIC_URL = "http://certification.test"
STAFF_ROLES = (Role.COURSE_DESIGNER, Role.QA_OFFICER, Role.REGISTRAR, Role.ASSESSOR, Role.NODE_ADMIN)
SHORT = {Role.COURSE_DESIGNER: "designer", Role.QA_OFFICER: "qa", Role.REGISTRAR: "registrar",
         Role.ASSESSOR: "assessor", Role.NODE_ADMIN: "admin"}
CALLERS = ("anonymous", "learner", "other-learner", *(f"{SHORT[r]}{side}" for r in STAFF_ROLES for side in ("", "@B")))
EVERYONE = " ".join(CALLERS)
# What each caller sees of a list that is scoped to its readers: the data set's A side or B side, or both.
SCOPED = {"learner": {"A"}, "other-learner": {"B"}, "admin": {"A", "B"}, "admin@B": {"A", "B"}} | {
    f"{SHORT[role]}{side}": {"A" if side == "" else "B"} for role in STAFF_ROLES[:-1] for side in ("", "@B")
}
GERMAN = {"kind": "numeric", "name": "German 1.0-5.0", "minimum": 1.0, "maximum": 5.0, "pass_mark": 4.0,
          "lower_is_better": True}
TODAY = date.today().isoformat()
# How long the data set waits for the services to pass its facts on to each other: generous, for a busy machine.
WAIT = 120.0


# --- the table ---


@dataclass(frozen=True)
class Entry:
    """A route, who is let through (caller names, space-separated), what they get, and why."""

    service: str
    method: str
    path: str
    allowed: str
    status: int
    why: str
    # Path values taken from the data set other than the defaults (`DEFAULT_AT`), e.g. {"course_id": "retired_course"}.
    at: dict[str, str] = field(default_factory=dict)
    # The request's query, body and headers, from the data set.
    request: Callable[[dict[str, Any]], dict[str, Any]] = lambda seeds: {}
    # For lists: the sides of the data set an answer shows (`SCOPED` says which each caller should see).
    shows: Callable[[Any, dict[str, Any]], set[str]] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.service, self.method, self.path

    def expected(self, caller: str) -> int:
        if caller in self.allowed.split():
            return self.status
        return 401 if caller == "anonymous" else 403


def public(service: str, method: str, path: str, why: str, status: int = 200, **details: Any) -> Entry:
    return Entry(service, method, path, EVERYONE, status, why, **details)


def side(key: str) -> Callable[[Any, dict[str, Any]], set[str]]:
    """The sides of a list answer, from the value under `key` of each item: the data set's ids of either side."""

    def shows(answer: Any, seeds: dict[str, Any]) -> set[str]:
        return {seeds["side"][item[key]] for item in answer if item[key] in seeds["side"]}

    return shows


LEARNERS = "learner other-learner"
ADMINS = "admin admin@B"
STAFF = " ".join(caller for caller in CALLERS if caller not in ("anonymous", "learner", "other-learner"))


def infrastructure(service: str) -> list[Entry]:
    """What every service serves the same way: documentation, probes and metrics, none of it about anyone."""
    return [
        public(service, "GET", "/openapi.json", "the API's description; no data"),
        public(service, "GET", "/docs", "the API's documentation page; no data"),
        public(service, "GET", "/docs/oauth2-redirect", "part of the documentation page"),
        public(service, "GET", "/redoc", "the API's documentation page; no data"),
        public(service, "GET", "/asyncapi.json", "the events' description (AsyncAPI); no data"),
        public(service, "GET", "/health/live", "the orchestrator's probe: up or not"),
        public(service, "GET", "/health/ready", "the orchestrator's probe: database, Kafka, outbox backlog"),
        public(service, "GET", "/metrics", "Prometheus scrapes it; counts by route template and topic, no ids or names "
               "(keep it on the node's network)"),
    ]


BAD_HOURS = {"workload_hours": 10}  # 3 ECTS in 10 hours: against the policy, refused (422) once the designer may act.

TABLE: list[Entry] = [
    *(entry for service in ("catalogue", "enrolment", "assessment", "certification", "notifications", "alliance")
      for entry in infrastructure(service)),
    # --- the alliance gateway ---
    public("alliance", "GET", "/bus", "the gateway's state on the alliance bus (connected, waiting for what); no data"),
    # --- catalogue: descriptions, QA, offerings, programmes ---
    public("catalogue", "GET", "/courses", "the alliance's catalogue is open: descriptions and their QA state"),
    public("catalogue", "GET", "/courses/{course_id}", "the catalogue is open"),
    public("catalogue", "GET", "/courses/{course_id}/versions", "the catalogue is open, every version of it"),
    public("catalogue", "GET", "/courses/{course_id}/versions/{version}", "the catalogue is open"),
    public("catalogue", "GET", "/programmes", "the catalogue is open"),
    public("catalogue", "GET", "/programmes/{programme_id}", "the catalogue is open"),
    public("catalogue", "GET", "/offerings", "learners search what is on offer"),
    public("catalogue", "GET", "/offerings/{offering_id}", "learners read an offering before applying"),
    public("catalogue", "GET", "/catalogue", "the public catalogue page"),
    public("catalogue", "GET", "/catalogue/offerings/{offering_id}", "an offering's page, where learners register"),
    public("catalogue", "GET", "/alliance/courses", "the alliance's catalogue is open: every member's approved courses"),
    public("catalogue", "GET", "/alliance/programmes", "the alliance's catalogue is open: every member's programmes"),
    Entry("catalogue", "POST", "/courses", "designer", 422,
          "a designer of an awarding institution drafts; the description is then checked against the policy",
          request=lambda s: {"json": {"description": s["description_a"] | BAD_HOURS}}),
    Entry("catalogue", "POST", "/courses/{course_id}/revisions", "designer", 422,
          "designers of the awarding institutions of the version that governs (the approved one) revise",
          request=lambda s: {"json": {"description": s["description_a"] | BAD_HOURS}}),
    Entry("catalogue", "PUT", "/courses/{course_id}", "designer", 409,
          "designers of the governing version's awarding institutions change a draft (this one is approved already)",
          request=lambda s: {"json": {"description": s["description_a"] | BAD_HOURS}}),
    Entry("catalogue", "POST", "/courses/{course_id}/submit", "designer", 409,
          "designers of the governing version's awarding institutions submit (this one is approved already)"),
    Entry("catalogue", "POST", "/courses/{course_id}/approve", "qa", 409,
          "QA of the governing version's lead only (this one is approved already)"),
    Entry("catalogue", "POST", "/courses/{course_id}/reject", "qa", 409, "QA of the governing version's lead only",
          request=lambda s: {"json": {"reasons": ["not assessable"]}}),
    Entry("catalogue", "POST", "/courses/{course_id}/retire", "qa admin", 409,
          "QA or the node administrator of the governing version's lead (this course is retired already)",
          at={"course_id": "retired_course"}),
    public("catalogue", "GET", "/courses/{course_id}/consents", "the catalogue is open: which partners consented"),
    # A partner's node: other members' requests to consent to their joint courses. This node follows no registry, so
    # no request ever came: the people who may act are told there is no such case (404), the others 403.
    public("catalogue", "GET", "/consents", "the catalogue is open: joint courses this node was asked to co-award"),
    public("catalogue", "GET", "/consents/{case_id}", "the catalogue is open (no such case here)", status=404),
    Entry("catalogue", "POST", "/consents/{case_id}/recommend", "designer designer@B qa qa@B", 404,
          "a designer or QA officer of the institution asked recommends (its institution is checked on the case)"),
    Entry("catalogue", "POST", "/consents/{case_id}/consent", "qa qa@B", 404,
          "a QA officer of the institution asked consents, not who recommended it (checked on the case)"),
    Entry("catalogue", "POST", "/consents/{case_id}/decline", "qa qa@B", 404,
          "a QA officer of the institution asked declines, with a reason",
          request=lambda s: {"json": {"reason": "no staff for it"}}),
    Entry("catalogue", "POST", "/consents/{case_id}/withdraw", "qa qa@B", 404,
          "a QA officer of the institution asked withdraws, with a reason",
          request=lambda s: {"json": {"reason": "the agreement ended"}}),
    Entry("catalogue", "POST", "/programmes", "designer", 422,
          "a designer of an awarding institution; then the stacking rule is checked (an unknown course here)",
          request=lambda s: {"json": {"title": "Green Skills Certificate", "awarding_bodies": [s["body_a"]],
                                      "rule": {"kind": "all-of", "course_ids": ["no-such-course"]}}}),
    Entry("catalogue", "POST", "/programmes/{programme_id}/submit", "designer", 409,
          "designers of the awarding institutions (approved already)"),
    Entry("catalogue", "POST", "/programmes/{programme_id}/approve", "qa", 409, "QA of the lead (approved already)"),
    Entry("catalogue", "POST", "/programmes/{programme_id}/reject", "qa", 409, "QA of the lead",
          request=lambda s: {"json": {"reasons": ["not coherent"]}}),
    Entry("catalogue", "POST", "/offerings", "registrar designer", 422,
          "the lead's registrars and designers open offerings; then the dates are checked (impossible here)",
          request=lambda s: {"json": {"course_id": s["course"], "delivery_mode": "online", "pace": "self-paced",
                                      "registration_opens_at": "2030-01-02T00:00:00Z",
                                      "registration_closes_at": "2030-01-01T00:00:00Z"}}),
    # --- enrolment: learners, applications ---
    Entry("enrolment", "POST", "/learners", LEARNERS, 409,
          "a learner registers themself, once (both are registered); who they are comes from their token",
          request=lambda s: {"json": {"preferred_language": "de"}}),
    Entry("enrolment", "GET", "/learners/{learner_id}", f"learner registrar {ADMINS}", 200,
          "the learner, registrars of institutions whose offerings they applied to, the node administrator"),
    Entry("enrolment", "POST", "/applications", LEARNERS, 409,
          "learners apply for themselves (registration of this offering is closed)",
          request=lambda s: {"json": {"offering_id": s["closed_offering"]}}),
    Entry("enrolment", "GET", "/applications", f"{LEARNERS} registrar registrar@B {ADMINS}", 200,
          "a learner their own; a registrar those to their institution's offerings; the node administrator all",
          shows=side("id")),
    Entry("enrolment", "GET", "/applications/{application_id}", f"learner registrar {ADMINS}", 200,
          "the learner, registrars of the offering's institution, the node administrator"),
    Entry("enrolment", "POST", "/applications/{application_id}/withdraw", "learner registrar", 409,
          "the learner or a registrar of the offering's institution (this one is withdrawn already)",
          at={"application_id": "withdrawn_application"}),
    Entry("enrolment", "POST", "/applications/{application_id}/fee", "registrar", 409,
          "registrars of the offering's institution record fees (this one was waived: it cannot become paid)",
          request=lambda s: {"json": {"status": "paid"}}),
    public("enrolment", "GET", "/offerings", "what learners may apply to, with the places left"),
    public("enrolment", "GET", "/offerings/{offering_id}", "an offering's places left, before applying"),
    # --- assessment: schemes, grades, rejections, enrolments ---
    public("assessment", "GET", "/courses/{course_id}", "who awards a course and how it is assessed: public in "
           "the catalogue already"),
    public("assessment", "GET", "/courses/{course_id}/grading-scheme", "how a course is graded is part of what "
           "learners read before applying"),
    Entry("assessment", "PUT", "/courses/{course_id}/grading-scheme", "assessor registrar", 200,
          "the lead awarding institution's assessors and registrars (setting the same scheme again)",
          request=lambda s: {"json": {"scheme": GERMAN}}),
    Entry("assessment", "GET", "/grades", f"{LEARNERS} assessor assessor@B registrar registrar@B {ADMINS}", 200,
          "the learner graded; assessors and registrars of the course's awarding institutions; the node administrator",
          shows=side("id")),
    Entry("assessment", "POST", "/grades", "assessor", 409,
          "assessors of an awarding institution grade (this enrolment is graded already)",
          request=lambda s: {"json": {"course_id": s["course"], "learner_id": s["learner"], "grade": "1.3",
                                      "assessed_on": TODAY}}),
    Entry("assessment", "POST", "/grades/bulk", "assessor", 200,
          "assessors of an awarding institution grade a cohort (its one row is rejected: graded already)",
          request=lambda s: {"params": {"course_id": s["course"]}, "headers": {"content-type": "text/csv"},
                             "content": f"learner_id,grade,assessed_on\n{s['learner']},1.3,{TODAY}\n"}),
    Entry("assessment", "GET", "/grades/{grade_id}", f"learner assessor registrar {ADMINS}", 200,
          "the learner graded, the course's assessors and registrars, the node administrator"),
    Entry("assessment", "POST", "/grades/{grade_id}/amendments", "assessor", 422,
          "assessors of an awarding institution amend (9.9 is off the course's scale)",
          request=lambda s: {"json": {"grade": "9.9", "reason": "recounted"}}),
    Entry("assessment", "GET", "/grade-rejections", f"{LEARNERS} assessor assessor@B registrar registrar@B {ADMINS}",
          200, "read as grades are: the learner named, the course's assessors and registrars, the node administrator",
          shows=lambda answer, s: {s["side"][(row["learner_id"], row["course_id"])] for row in answer
                                   if (row["learner_id"], row["course_id"]) in s["side"]}),
    Entry("assessment", "GET", "/enrolments", f"{LEARNERS} assessor assessor@B registrar registrar@B {ADMINS}", 200,
          "read as grades are (who may be graded in a course)",
          shows=lambda answer, s: {s["side"][row["enrolment_id"]] for row in answer if row["enrolment_id"] in s["side"]}),
    # --- certification: credentials, status, DIDs, verification, the wallet ---
    Entry("certification", "GET", "/credentials", f"{LEARNERS} registrar registrar@B {ADMINS}", 200,
          "a learner their own; a registrar those their institution issued; the node administrator all",
          shows=side("id")),
    public("certification", "GET", "/credentials/{credential_id}", "public by its unguessable id, which only the "
           "holder and those they share it with know"),
    public("certification", "GET", "/credentials/{credential_id}/credential.json", "the signed credential, by its "
           "unguessable id"),
    public("certification", "GET", "/credentials/{credential_id}/certificate.pdf", "the certificate, by its "
           "unguessable id (its QR code leads a reader to it)"),
    Entry("certification", "POST", "/credentials/{credential_id}/revoke", "registrar", 409,
          "registrars of the issuing institution (revoked already)", request=lambda s: {"json": {"reason": "fraud"}}),
    Entry("certification", "POST", "/credentials/{credential_id}/suspend", "registrar", 409,
          "registrars of the issuing institution (a revoked credential cannot be suspended)",
          request=lambda s: {"json": {"reason": "under review"}}),
    Entry("certification", "POST", "/credentials/{credential_id}/unsuspend", "registrar", 409,
          "registrars of the issuing institution (it is not suspended)",
          request=lambda s: {"json": {"reason": "review done"}}),
    public("certification", "GET", "/status-lists/{institution}/{purpose}", "verifiers fetch it; a bitstring says "
           "nothing without a credential's index"),
    public("certification", "GET", "/institutions/{institution}/did.json", "the institution's public keys"),
    public("certification", "GET", "/.well-known/did.json", "the node's public keys"),
    public("certification", "POST", "/verify", "employers check a credential without an account",
           request=lambda s: {"json": s["verifiable_credential"]}),
    public("certification", "GET", "/verify", "the verify page, for employers"),
    Entry("certification", "GET", "/wallet", LEARNERS, 200, "a learner's own credentials", shows=side("id")),
    Entry("certification", "POST", "/credentials/{credential_id}/share", "learner", 201,
          "only the holder shares their credential", request=lambda s: {"json": {"expires_in_days": 7}}),
    Entry("certification", "GET", "/credentials/{credential_id}/shares", "learner", 200,
          "only the holder sees the links they made"),
    Entry("certification", "POST", "/credentials/{credential_id}/shares/{token}/revoke", "learner", 409,
          "only the holder takes a link back (revoked already)", at={"token": "revoked_share_token"}),
    public("certification", "GET", "/shared/{token}", "the share link is the permission, until it expires"),
    Entry("certification", "POST", "/programmes/{programme_id}/presentations", LEARNERS, 422,
          "a learner presents parts they hold (each must be theirs: checked against its subject; none presented here)",
          request=lambda s: {"json": []}),
    Entry("certification", "GET", "/programmes/{programme_id}/presentations/mine", LEARNERS, 200,
          "a learner's own presented parts"),
    Entry("certification", "POST", "/presentations", LEARNERS, 422,
          "a learner presents credentials they hold (none presented here)", request=lambda s: {"json": []}),
    # --- notifications: deliveries, preferences, dashboards ---
    Entry("notifications", "GET", "/deliveries", f"{LEARNERS} registrar registrar@B {ADMINS}", 200,
          "a learner their own emails; a registrar those about their institution; the node administrator all",
          shows=side("recipient")),
    Entry("notifications", "GET", "/deliveries/{delivery_id}", f"learner registrar {ADMINS}", 200,
          "the learner written to, registrars of the institution it was about, the node administrator"),
    Entry("notifications", "GET", "/preferences", LEARNERS, 200, "a learner's own choice about optional emails"),
    Entry("notifications", "POST", "/preferences", LEARNERS, 200, "a learner's own choice about optional emails",
          request=lambda s: {"json": {"optional_emails": True}}),
    public("notifications", "GET", "/unsubscribe", "the signed link in the learner's email is the permission",
           request=lambda s: {"params": {"token": s["unsubscribe_token"]}}),
    public("notifications", "POST", "/unsubscribe", "one-click unsubscribe (RFC 8058): the signed link is the "
           "permission", request=lambda s: {"params": {"token": s["unsubscribe_token"]}}),
    Entry("notifications", "GET", "/dashboard/events", STAFF, 200, "staff, each their institution's events (the node administrator all); learners' identities only "
          "for registrars and the node administrator"),
    Entry("notifications", "GET", "/dashboard/figures", STAFF, 200, "staff, their institution's figures (the node administrator the node's)",
          shows=lambda answer, s: {s["side"][row["offering_id"]] for row in answer["offerings"]
                                   if row["offering_id"] in s["side"]}),
    public("notifications", "GET", "/dashboard", "the live page holds no data; it asks for a token"),
]

# Where a path's values come from in the data set, unless an entry says otherwise.
DEFAULT_AT = {
    "course_id": "course", "version": "version", "programme_id": "programme", "offering_id": "offering",
    "learner_id": "learner", "application_id": "application", "grade_id": "grade", "credential_id": "credential",
    "institution": "institution", "purpose": "purpose", "token": "share_token", "delivery_id": "delivery",
    "case_id": "consent_case",
}


def app_routes(apps: dict[str, FastAPI]) -> set[tuple[str, str, str]]:
    """Every route of every service, as the apps declare them (HEAD is GET's twin)."""
    return {
        (service, method, route.path)
        for service, app in apps.items()
        for route in iter_route_contexts(app.routes)
        for method in (route.methods or set()) - {"HEAD"}
    }


# --- the services, in this process, and the data set ---

SERVICES: dict[str, tuple[Callable[[Any], Service], type]] = {
    "catalogue": (create_catalogue, CatalogueSettings),
    "enrolment": (create_enrolment, EnrolmentSettings),
    "assessment": (create_assessment, AssessmentSettings),
    "certification": (create_certification, CertificationSettings),
    "notifications": (create_notifications, NotificationsSettings),
    "alliance": (create_gateway, AllianceSettings),
}


def services(stack: Stack, **settings: dict[str, Any]) -> dict[str, Service]:
    """The services, each with `settings` of its own beyond the stack's (nothing runs until an app starts)."""
    return {
        service: create(stack.settings(settings_class, **settings.get(service, {})))
        for service, (create, settings_class) in SERVICES.items()
    }


def principal(caller: str, seeds: dict[str, Any]) -> Principal | None:
    if caller == "anonymous":
        return None
    if caller in ("learner", "other-learner"):
        learner_id = seeds["learner"] if caller == "learner" else seeds["other_learner"]
        return Principal(
            subject=learner_id, name=f"Learner {learner_id[-4:]}", email=f"{learner_id}@learners.example.eu",
            roles=frozenset({Role.LEARNER}), institution="upr", affiliation=frozenset({Affiliation.STUDENT}),
        )
    short, _, at = caller.partition("@")
    role = next(role for role, name in SHORT.items() if name == short)
    institution = B if at == "B" else A
    return Principal(subject=f"{short}@{institution}", name=f"{short} of {institution}", roles=frozenset({role}),
                     institution=institution)


@dataclass
class World:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    seeds: dict[str, Any]
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
async def world(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    # Its own topics and databases: the lists below hold this data set only.
    stack = await asyncio.to_thread(
        with_kafka_principals,
        dataclasses.replace(stack, topic_prefix=f"{stack.topic_prefix}authz.", database_prefix=f"{stack.database_prefix}_authz")
    )
    keys = tmp_path_factory.mktemp("issuer-keys")
    for institution in (A, B):
        create_key(keys, institution)
    configured = services(
        stack,
        certification={"issuer_keys_dir": str(keys), "public_url": PUBLIC_URL, "proof_processes": 0},
        notifications={"unsubscribe_secret": UNSUBSCRIBE_SECRET, "smtp_host": stack.smtp_host,
                       "smtp_port": stack.smtp_port},
        # In no alliance here: the gateway keeps what it would list, and waits for a registry.
        alliance={"alliance_node_id": "authz"},
    )
    async with contextlib.AsyncExitStack() as running:
        apps, clients = {}, {}
        for service, built in configured.items():
            # Alembic drives its own event loop, so migrations run in a worker thread.
            await asyncio.to_thread(upgrade, built.settings, built.migrations)
            app = apps[service] = create_app(built)
            await running.enter_async_context(app.router.lifespan_context(app))
            clients[service] = await running.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{service}")
            )
        seeds: dict[str, Any] = {"learner": f"learner-{uuid.uuid4().hex[:8]}",
                                 "other_learner": f"learner-{uuid.uuid4().hex[:8]}",
                                 "consent_case": f"case-{uuid.uuid4().hex[:8]}"}
        headers = {caller: token_header(stack, principal(caller, seeds)) for caller in CALLERS}
        world = World(apps, clients, seeds, headers)
        await make_data_set(world)
        yield world


def token_header(stack: Stack, who: Principal | None) -> dict[str, str]:
    if who is None:
        return {}
    return stack.bearer(who.subject, *who.roles, institution=who.institution, name=who.name, email=who.email,
                        affiliation=who.affiliation)


async def call(world: World, service: str, method: str, path: str, by: str, **request: Any) -> Any:
    """A step of the data set, which must succeed."""
    response = await world.clients[service].request(method, path, headers=world.headers[by], **request)
    assert response.is_success, f"{method} {service}{path} by {by}: {response.status_code} {response.text}"
    return response.json()


async def approved(world: World, side_: str, title: str) -> dict:
    """A course of institution A (or B), designed, submitted and approved there."""
    at = "" if side_ == "A" else "@B"
    body = {"id": A, "name": "Saarland University", "country": "DE"} if side_ == "A" else {
        "id": B, "name": "Sofia University", "country": "BG"}
    course = await call(world, "catalogue", "POST", "/courses", f"designer{at}",
                        json={"description": description(body, title=title)})
    await call(world, "catalogue", "POST", f"/courses/{course['id']}/submit", f"designer{at}")
    return await call(world, "catalogue", "POST", f"/courses/{course['id']}/approve", f"qa{at}")


async def offering(world: World, course: dict, by: str, **terms: Any) -> str:
    now = datetime.now(UTC)
    body = {"course_id": course["id"], "delivery_mode": "online", "pace": "self-paced",
            "registration_opens_at": (now - timedelta(hours=1)).isoformat(),
            "registration_closes_at": (now + timedelta(days=7)).isoformat()} | terms
    opened = await call(world, "catalogue", "POST", "/offerings", by, json=body)

    async def known() -> bool:
        answer = await world.clients["enrolment"].get(f"/offerings/{opened['id']}")
        return answer.status_code == 200 and answer.json()["course_known"]

    await eventually(known, timeout=WAIT)
    return opened["id"]


async def make_data_set(world: World) -> None:
    """Through the services' own APIs: A's course, offering, enrolment, grade and credential for the learner; B's for
    the other learner; the odd ones some entries need (a retired course, a closed offering, a withdrawn application)."""
    seeds, side_of = world.seeds, {}
    course_a = await approved(world, "A", "Data Literacy")
    course_b = await approved(world, "B", "Digital Humanities")
    retired = await approved(world, "A", "Old Statistics")
    seeds |= {"course": course_a["id"], "retired_course": retired["id"], "version": "1", "institution": A,
              "purpose": "revocation", "description_a": course_a["description"],
              "body_a": course_a["description"]["awarding_bodies"][0]}
    programme = await call(world, "catalogue", "POST", "/programmes", "designer", json={
        "title": "Data Certificate", "awarding_bodies": [seeds["body_a"]],
        "rule": {"kind": "all-of", "course_ids": [course_a["id"]]}})
    await call(world, "catalogue", "POST", f"/programmes/{programme['id']}/submit", "designer")
    await call(world, "catalogue", "POST", f"/programmes/{programme['id']}/approve", "qa")
    seeds["programme"] = programme["id"]

    offering_a = await offering(world, course_a, "registrar", fee={"amount": 100, "currency": "EUR"})
    offering_b = await offering(world, course_b, "registrar@B")
    of_retired = await offering(world, retired, "registrar")
    past = datetime.now(UTC) - timedelta(days=1)
    seeds["closed_offering"] = await offering(world, course_a, "registrar", registration_opens_at=(
        past - timedelta(days=9)).isoformat(), registration_closes_at=past.isoformat())
    seeds["offering"] = offering_a
    side_of |= {offering_a: "A", offering_b: "B"}

    for caller in ("learner", "other-learner"):
        await call(world, "enrolment", "POST", "/learners", caller, json={})
    application_a = await call(world, "enrolment", "POST", "/applications", "learner", json={"offering_id": offering_a})
    application_b = await call(world, "enrolment", "POST", "/applications", "other-learner",
                               json={"offering_id": offering_b})
    withdrawn = await call(world, "enrolment", "POST", "/applications", "learner", json={"offering_id": of_retired})
    await call(world, "enrolment", "POST", f"/applications/{withdrawn['id']}/withdraw", "learner")
    await call(world, "catalogue", "POST", f"/courses/{retired['id']}/retire", "qa")
    seeds |= {"application": application_a["id"], "withdrawn_application": withdrawn["id"]}
    side_of |= {application_a["id"]: "A", withdrawn["id"]: "A", application_b["id"]: "B"}

    grades = {}
    for caller, course, learner, application in (
        ("assessor", course_a, seeds["learner"], application_a), ("assessor@B", course_b, seeds["other_learner"], application_b)
    ):
        side_ = "A" if caller == "assessor" else "B"

        async def gradable() -> bool:
            answer = await world.clients["assessment"].get("/enrolments", headers=world.headers["admin"],
                                                           params={"learner_id": learner, "course_id": course["id"]})  # noqa: B023
            return answer.json() != []

        await eventually(gradable, timeout=WAIT)
        await call(world, "assessment", "PUT", f"/courses/{course['id']}/grading-scheme", caller, json={"scheme": GERMAN})
        grade = {"course_id": course["id"], "learner_id": learner, "grade": "1.3", "assessed_on": TODAY}
        grades[side_] = await call(world, "assessment", "POST", "/grades", caller, json=grade)
        again = await world.clients["assessment"].post("/grades", json=grade, headers=world.headers[caller])
        assert again.status_code == 409, "a second grade becomes a rejection"
        side_of |= {grades[side_]["id"]: side_, (learner, course["id"]): side_}
    seeds["grade"] = grades["A"]["id"]

    async def credentials() -> list | None:
        # Each learner's course credential, and the learner's programme credential (the programme stacks course A).
        found = (await world.clients["certification"].get("/credentials", headers=world.headers["admin"])).json()
        return found if len(found) == 3 else None

    for credential in await eventually(credentials, timeout=WAIT):
        side_of[credential["id"]] = "A" if credential["learner_id"] == seeds["learner"] else "B"
        if credential["learner_id"] == seeds["learner"] and not credential["programme"]:
            seeds |= {"credential": credential["id"], "verifiable_credential": credential["credential"]}
    share = await call(world, "certification", "POST", f"/credentials/{seeds['credential']}/share", "learner",
                       json={"expires_in_days": 7})
    seeds["share_token"] = share["url"].rsplit("/", 1)[1]
    taken_back = await call(world, "certification", "POST", f"/credentials/{seeds['credential']}/share", "learner",
                            json={"expires_in_days": 7})
    seeds["revoked_share_token"] = taken_back["url"].rsplit("/", 1)[1]
    await call(world, "certification", "POST",
               f"/credentials/{seeds['credential']}/shares/{seeds['revoked_share_token']}/revoke", "learner")
    await call(world, "certification", "POST", f"/credentials/{seeds['credential']}/revoke", "registrar",
               json={"reason": "issued in error"})

    emails = {f"{seeds['learner']}@learners.example.eu": "A", f"{seeds['other_learner']}@learners.example.eu": "B"}

    async def deliveries() -> list | None:
        found = (await world.clients["notifications"].get("/deliveries", headers=world.headers["admin"])).json()
        return found if {row["recipient"] for row in found} >= set(emails) else None

    delivered = await eventually(deliveries, timeout=WAIT)
    seeds["delivery"] = next(row["id"] for row in delivered if emails.get(row["recipient"]) == "A")
    side_of |= emails
    seeds["unsubscribe_token"] = unsubscribe_token(seeds["learner"], UNSUBSCRIBE_SECRET.encode())
    # Last: an offering at each institution, whose events mark the end of the data set on the dashboards' stream.
    seeds["last_a"] = await offering(world, course_a, "registrar")
    seeds["last_b"] = await offering(world, course_b, "registrar@B")
    side_of |= {seeds["last_a"]: "A", seeds["last_b"]: "B"}
    seeds["side"] = side_of


# --- calling a route, including the never-ending stream ---


async def first_answer(app: FastAPI, path: str, headers: dict[str, str], until: Callable[[str], bool]) -> tuple[int, str]:
    """Status and body of a streaming answer, read until `until(body)`; then the client goes away, as a browser
    does (httpx's in-process transport would wait for the end of a stream that has none)."""
    done, received = asyncio.Event(), {"status": 0, "body": b""}
    request_sent = False

    async def receive() -> dict:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            received["status"] = message["status"]
        elif message["type"] == "http.response.body":
            received["body"] += message.get("body", b"")
            text = received["body"].decode(errors="replace")
            if received["status"] != 200 or until(text) or not message.get("more_body"):
                done.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 1), "server": ("dashboard", 80), "state": {},
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        done.set()
        try:
            async with asyncio.timeout(10):
                await task
        except TimeoutError:
            task.cancel()
    return received["status"], received["body"].decode()


def stream_events(body: str) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in body.splitlines() if line.startswith("data: ")]


async def answer(world: World, entry: Entry, caller: str) -> tuple[int, Any]:
    seeds = world.seeds
    path = entry.path.format(**{name: seeds[entry.at.get(name, default)] for name, default in DEFAULT_AT.items()
                                if f"{{{name}}}" in entry.path})
    headers = dict(world.headers[caller])
    if entry.path == "/dashboard/events":
        # Read until the last offering the data set opened at each institution the caller should see.
        marks = [seeds[f"last_{side_.lower()}"] for side_ in SCOPED.get(caller, ())]
        status, body = await first_answer(world.apps[entry.service], path, headers,
                                          until=lambda text: all(mark in text for mark in marks))
        return status, (stream_events(body) if status == 200 else json.loads(body or "{}"))
    request = entry.request(seeds)
    headers |= request.pop("headers", {})
    response = await world.clients[entry.service].request(entry.method, path, headers=headers, **request)
    content_type = response.headers.get("content-type", "")
    return response.status_code, response.json() if content_type.startswith("application/json") else response.text


# --- the tests ---


def test_every_route_of_every_service_has_exactly_one_entry(stack: Stack):
    keys = [entry.key for entry in TABLE]
    assert len(keys) == len(set(keys)), "an entry twice"
    routes = app_routes({service: create_app(built) for service, built in services(stack).items()})
    assert sorted(routes - set(keys)) == [], "routes without an entry: decide who may use them and add them"
    assert sorted(set(keys) - routes) == [], "entries for routes the services do not have"
    print(f"\nthe table: {len(TABLE)} routes x {len(CALLERS)} callers = {len(TABLE) * len(CALLERS)} requests")


@pytest.mark.parametrize("entry", TABLE, ids=lambda entry: f"{entry.service} {entry.method} {entry.path}")
async def test_who_may_use_the_route(world: World, entry: Entry):
    wrong = []
    for caller in CALLERS:
        status, body = await answer(world, entry, caller)
        expected = entry.expected(caller)
        if status != expected:
            wrong.append(f"{caller}: {status} (expected {expected}) {str(body)[:300]}")
            continue
        who = principal(caller, world.seeds)
        if status == 403 and f"{who.subject} has the role" not in body.get("detail", ""):
            wrong.append(f"{caller}: the refusal does not say what the token holds: {body}")
        if status == 200 and entry.shows is not None and entry.shows(body, world.seeds) != SCOPED[caller]:
            wrong.append(f"{caller} sees {sorted(entry.shows(body, world.seeds))}, not {sorted(SCOPED[caller])}")
    assert wrong == [], f"{entry.method} {entry.service}{entry.path} ({entry.why}):\n" + "\n".join(wrong)


async def test_the_dashboards_stream_shows_each_viewer_their_institution_and_learners_only_to_those_who_may_see_them(
    world: World,
):
    seeds = world.seeds
    learners = [seeds["learner"], seeds["other_learner"]]
    entry = next(entry for entry in TABLE if entry.path == "/dashboard/events")
    for caller in CALLERS:
        if caller not in SCOPED or caller in LEARNERS.split():
            continue
        status, events = await answer(world, entry, caller)
        assert status == 200
        universities = {event["university"] for event in events} - {None}
        assert universities == {A if s == "A" else B for s in SCOPED[caller]}, caller
        identified = any(learner in json.dumps(event) for event in events for learner in learners)
        assert identified == (caller.startswith(("registrar", "admin"))), (
            f"{caller}: learners' identities {'missing' if not identified else 'shown'}"
        )
