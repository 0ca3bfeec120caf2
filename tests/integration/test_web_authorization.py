"""Who may open which page of the front end, for every page and form it has: the table below says which roles each
one is for, and a page added without a line in it fails here.

The front end runs on its real database with signed-in sessions as its sign-in leaves them (a random cookie, the
identity provider's claims); the services behind it are not running, so a page that let someone through tries to call
one and says it is unavailable. What is checked is what a person sees: sent to sign in when nobody is signed in, "Not
for your role" when signed in without a role the page is for, and let through otherwise. (The services check the
person's token again: tests/integration/test_authorization.py.) Last, that a page's request is traced, and a probe's
or a static file's not."""

import asyncio
import datetime as dt
import re
import types
import typing
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi.routing import APIRoute
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.web import domain
from services.web.app import HERE, create_app
from services.web.models import WebSession
from services.web.pages import BROWSER_COOKIE
from services.web.routes import ROUTERS
from services.web.settings import WebSettings
from shared.auth import Role
from shared.db import create_engine, create_sessionmaker, utcnow
from shared.migrations import upgrade
from tests.stack import free_port

pytestmark = pytest.mark.integration

PUBLIC = frozenset[Role]()
QA, DESIGNER, REGISTRAR, ASSESSOR, LEARNER = (
    Role.QA_OFFICER, Role.COURSE_DESIGNER, Role.REGISTRAR, Role.ASSESSOR, Role.LEARNER
)

# (method, path) -> the roles the page is for; PUBLIC: anyone, signed in or not.
PAGES: dict[tuple[str, str], frozenset[Role]] = {
    **{("GET", path): PUBLIC for path in (
        "/sign-in", "/auth/callback", "/signed-out", "/language/{code}", "/", "/catalogue", "/catalogue/{offering_id}",
        "/shared/{token}", "/verify", "/.well-known/did.json", "/institutions/{institution}/did.json",
        "/status-lists/{institution}/{purpose}", "/credentials/{credential_id}",
        "/credentials/{credential_id}/credential.json", "/credentials/{credential_id}/certificate.pdf",
    )},
    ("POST", "/sign-out"): PUBLIC,
    ("POST", "/verify"): PUBLIC,
    **{(method, path): frozenset({LEARNER}) for method, path in (
        ("POST", "/catalogue/{offering_id}/apply"), ("GET", "/learner/applications"),
        ("POST", "/learner/applications/{application_id}/withdraw"), ("GET", "/learner/wallet"),
        ("POST", "/learner/wallet/{credential_id}/share"), ("POST", "/learner/wallet/{credential_id}/shares/{token}/revoke"),
        ("GET", "/learner/preferences"), ("POST", "/learner/preferences"),
    )},
    **{(method, path): frozenset({QA}) for method, path in (
        ("GET", "/qa/courses"), ("GET", "/qa/courses/{course_id}"), ("POST", "/qa/courses/{course_id}/approve"),
        ("POST", "/qa/courses/{course_id}/reject"),
        # Consenting, declining and withdrawing are a QA officer's; recommending may be a designer's too (four eyes).
        ("POST", "/qa/consents/{case_id}/consent"), ("POST", "/qa/consents/{case_id}/decline"),
        ("POST", "/qa/consents/{case_id}/withdraw"),
    )},
    **{(method, path): frozenset({QA, DESIGNER}) for method, path in (
        ("GET", "/qa/consents"), ("GET", "/qa/consents/{case_id}"), ("POST", "/qa/consents/{case_id}/recommend"),
    )},
    **{(method, path): frozenset({DESIGNER}) for method, path in (
        ("GET", "/designer/courses"), ("GET", "/designer/courses/new"), ("POST", "/designer/courses/new"),
        ("GET", "/designer/courses/{course_id}"), ("POST", "/designer/courses/{course_id}"),
        ("POST", "/designer/courses/{course_id}/submit"), ("GET", "/designer/courses/{course_id}/revise"),
        ("POST", "/designer/courses/{course_id}/revise"),
    )},
    **{(method, path): frozenset({REGISTRAR}) for method, path in (
        ("GET", "/registrar/offerings"), ("GET", "/registrar/offerings/new"), ("POST", "/registrar/offerings"),
        ("GET", "/registrar/offerings/{offering_id}"),
        ("POST", "/registrar/offerings/{offering_id}/applications/{application_id}/fee"),
        ("GET", "/registrar/credentials"), ("POST", "/registrar/credentials/{credential_id}/{action}"),
        ("GET", "/registrar/emails"),
    )},
    **{(method, path): frozenset({ASSESSOR}) for method, path in (
        ("GET", "/assessor/courses"), ("GET", "/assessor/courses/{course_id}"),
        ("POST", "/assessor/courses/{course_id}/grades"), ("POST", "/assessor/courses/{course_id}/grading-scheme"),
        ("POST", "/assessor/courses/{course_id}/uploads"), ("GET", "/assessor/uploads/{upload_id}"),
    )},
}


def routes() -> list[APIRoute]:
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]


def url_of(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda name: f"some-{name.group(0)[1:-1].replace('_', '-')}", path)


def form_of(route: APIRoute) -> dict[str, str]:
    """A value of the right type for each field of the route's form: the page must not refuse the form itself before
    it has asked who sends it."""
    samples = {dt.date: "2026-12-01", int: "30", float: "30"}
    chosen = {"status": "paid"}  # fields that take one of a few words
    form = {}
    for field in route.dependant.body_params:
        kinds = typing.get_args(field.field_info.annotation) or (field.field_info.annotation,)
        if any(getattr(kind, "__name__", "") == "UploadFile" for kind in kinds):
            continue
        kind = next((kind for kind in kinds if kind is not type(None)), str)
        form[field.alias] = chosen.get(field.alias) or samples.get(kind, "yes")  # short, and what a yes/no field takes
    return form


def test_every_page_and_form_is_in_the_table() -> None:
    found = {(method, route.path) for route in routes() for method in route.methods}
    assert found - PAGES.keys() == set(), "a page without a line in PAGES: say whom it is for"
    assert PAGES.keys() - found == set(), "a line in PAGES for a page that is gone"


@pytest.fixture(scope="module")
async def front_end(stack):
    nowhere = f"http://127.0.0.1:{free_port()}"  # no service answers: a page that lets someone through says so
    settings = WebSettings(
        database_url=stack.database_url, database_prefix=stack.database_prefix, web_secret_key="not-a-secret" * 3,
        **{f"{service}_url": nowhere for service in
           ("catalogue", "enrolment", "assessment", "certification", "notifications")},
    )
    await asyncio.to_thread(upgrade, settings, HERE / "migrations")
    app = create_app(settings)
    engine = create_engine(settings)
    cookies: dict[str, str] = {}
    async with create_sessionmaker(engine)() as db:
        for name, roles in [("nobody", []), *((role.value, [role.value]) for role in Role)]:
            cookie, now = domain.random_token(), utcnow()
            db.add(WebSession(
                id=domain.session_id(cookie), subject=f"{name}-{uuid.uuid4().hex[:6]}",
                claims={"sub": name, "name": name.title(), "roles": roles, "institution": "uni-saarland"},
                access_token="a token", access_expires_at=now + timedelta(hours=1), id_token="an id token",
                created_at=now, last_seen_at=now,
            ))
            cookies[name] = cookie
        await db.commit()
    await engine.dispose()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client:
            yield types.SimpleNamespace(client=client, cookies=cookies, secret=app.state.secret)


async def opened(front_end, route: APIRoute, method: str, who: str | None) -> httpx.Response:
    # A fresh browser for each request: its cookie is its session (or none), its form carries the CSRF token.
    cookie = front_end.cookies[who] if who else domain.random_token()
    browser = httpx.Cookies({BROWSER_COOKIE: cookie})
    front_end.client.cookies = browser
    if method == "GET":
        return await front_end.client.get(url_of(route.path))
    form = form_of(route) | {"csrf_token": domain.csrf_token(front_end.secret, cookie)}
    return await front_end.client.post(url_of(route.path), data=form)


def sent_to_sign_in(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=")


def not_for_the_role(response: httpx.Response) -> bool:
    return response.status_code == 403 and "This page is for people with the role" in response.text


@pytest.mark.parametrize(("method", "path"), sorted(PAGES))
async def test_a_page_is_opened_only_by_the_people_it_is_for(front_end, method: str, path: str) -> None:
    [route] = [route for route in routes() if route.path == path and method in route.methods]
    allowed = PAGES[method, path]
    anonymous = await opened(front_end, route, method, None)
    if not allowed:
        assert not sent_to_sign_in(anonymous) and anonymous.status_code != 403, anonymous.text[:300]
        return
    assert sent_to_sign_in(anonymous), (anonymous.status_code, anonymous.text[:300])
    for who in ["nobody", *(role.value for role in Role)]:
        response = await opened(front_end, route, method, who)
        if who in {role.value for role in allowed}:
            assert not sent_to_sign_in(response) and not not_for_the_role(response), (who, response.status_code)
        else:
            assert not_for_the_role(response), (who, response.status_code, response.text[:300])


async def test_a_page_is_traced_under_its_route_while_probes_and_static_files_are_not(front_end) -> None:
    """The front end's requests are traced as the services' are (shared.tracing.request_spans)."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the app installs the process's tracer provider"
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        front_end.client.cookies = httpx.Cookies({BROWSER_COOKIE: domain.random_token()})
        for path in ("/verify", "/health/live", "/static/site.css"):
            assert (await front_end.client.get(path)).status_code == 200, path
    finally:
        spans.shutdown()
    server_spans = [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert [span.name for span in server_spans] == ["GET /verify"]
