"""The web front end's app: one process serving the pages, reading sessions from its own database, calling the node's
services over HTTP. It has no Kafka part (it publishes and consumes no events), so it does not use shared.service's
factory; it shares its pieces: settings, database, migrations, body limits, tracing, metrics, logging.
"""

import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web import domain, sessions
from services.web.api import NodeApi, ServiceRefused, ServiceUnavailable
from services.web.i18n import Environments, gettext_for
from services.web.models import SigningSecret, WebSession
from services.web.oidc import Provider
from services.web.pages import (
    BROWSER_COOKIE,
    LANGUAGE_COOKIE,
    NOTICE_COOKIE,
    PageForbidden,
    SignInRequired,
    View,
)
from services.web.routes import ROUTERS, VERIFY_UPLOAD_LIMIT
from services.web.routes.documents import PREFIXES as DOCUMENT_PREFIXES
from services.web.settings import WebSettings
from shared.db import create_engine, create_sessionmaker
from shared.limits import BodyLimit, Limit
from shared.logging import configure_logging
from shared.metrics import ServiceMetrics
from shared.migrations import upgrade
from shared.tracing import request_spans, setup_tracing

HERE = Path(__file__).parent
STATIC = HERE / "static"
# Parts of the site that are not pages: no session is read for them.
NOT_PAGES = ("/static/", "/health/", "/metrics", *DOCUMENT_PREFIXES)

# What the services are called with on a person's behalf: their access token from the identity provider.
ServiceToken = Callable[[WebSession], str]


def access_token(session: WebSession) -> str:
    return session.access_token


class CsrfRefused(Exception):
    """A form sent without this browser's CSRF token (from another site, or a page older than the browser's cookie)."""


def static_version() -> str:
    """Changes when a static file changes, so browsers never keep an old stylesheet (the files are cached a year)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


async def csrf_protected(request: Request) -> None:
    """Every form (every POST, PUT, PATCH, DELETE) must carry the CSRF token of the browser that sends it: in the form's
    `csrf_token` field, or the X-CSRF-Token header (scripts). SameSite cookies alone leave older browsers open."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        given = value if isinstance(value, str) else None
    if not domain.csrf_valid(request.app.state.secret, request.cookies.get(BROWSER_COOKIE), given):
        raise CsrfRefused()


def create_app(settings: WebSettings | None = None, service_token: ServiceToken = access_token) -> FastAPI:
    settings = settings or WebSettings()
    version = static_version()
    # Only this site's own scripts and styles; forms post here (signing out ends at the identity provider).
    provider_origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.oidc_issuer)) if settings.oidc_issuer else ""
    policy = f"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self' {provider_origin}".strip()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_tracing(settings)
        engine = create_engine(settings)
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.settings = settings
        if settings.web_secret_key:
            app.state.secret = settings.web_secret_key.get_secret_value().encode()
        else:
            async with app.state.sessionmaker() as db:
                stored = await db.get(SigningSecret, "web")
                assert stored is not None, "the migration makes the front end's secret"
                app.state.secret = stored.secret.encode()
        http = httpx.AsyncClient(timeout=settings.service_timeout_seconds, follow_redirects=False)
        app.state.http = http
        app.state.provider = (
            Provider(
                http,
                settings.oidc_issuer,
                settings.oidc_client_id,
                settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
                settings.oidc_scopes,
            )
            if settings.oidc_issuer
            else None
        )
        app.state.templates = Environments(
            settings.web_timezone, {"static": lambda name: f"/static/{name}?v={version}", "settings": settings}
        )
        try:
            yield
        finally:
            await http.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Web front end",
        description="The pages of the node for learners and employers (and, later, staff).",
        lifespan=lifespan,
        dependencies=[Depends(csrf_protected)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=request_spans("/health", "/static"),
    )
    app.state.service_token = service_token

    @app.middleware("http")
    async def with_view(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Who reads the page and in which language, read once per request; the cookies a page sets are sent here."""
        if request.url.path.startswith(NOT_PAGES):
            return await call_next(request)
        state = request.app.state
        cookie = request.cookies.get(BROWSER_COOKIE)
        async with state.sessionmaker() as db:
            found = await sessions.current(db, state.provider, settings, cookie)
            await db.commit()
        session = found.session
        set_cookies: dict[str, str | None] = {}
        if not cookie or found.expired:
            cookie = set_cookies[BROWSER_COOKIE] = domain.random_token()
        language = domain.page_language(
            [request.cookies.get(LANGUAGE_COOKIE), session.language if session else None],
            request.headers.get("accept-language"),
        )
        notice = None
        if stored := domain.unsigned(state.secret, request.cookies.get(NOTICE_COOKIE)):
            tone, _, text_ = unquote(stored).partition("|")
            notice = (tone, text_)
            set_cookies[NOTICE_COOKIE] = None
        if found.expired:
            _ = gettext_for(language)
            notice = ("info", _("Your session has ended. Please sign in again."))
        request.state.view = view = View(
            request=request,
            settings=settings,
            language=language,
            session=session,
            api=NodeApi(state.http, settings, state.service_token(session) if session else None),
            browser=cookie,
            notice=notice,
            set_cookies=set_cookies,
        )
        response = await call_next(request)
        secure = settings.public_url.startswith("https://")
        for name, value in view.set_cookies.items():
            if value is None:
                response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
            else:
                response.set_cookie(name, value, path="/", secure=secure, httponly=True, samesite="lax")
        response.headers.setdefault("Content-Language", language)
        # Pages are about one reader: never kept by shared caches; no framing by other sites (clickjacking).
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    # Outermost: a body over its limit is refused before anything reads it (uploads have their own limit).
    app.add_middleware(
        BodyLimit,
        default=Limit(settings.http_max_body_bytes, "HTTP_MAX_BODY_BYTES"),
        routes={"/verify": VERIFY_UPLOAD_LIMIT},
    )
    metrics = ServiceMetrics()

    async def no_outbox() -> int:
        return 0  # The front end publishes no events.

    metrics.install(app, outbox_backlog=no_outbox)

    def error_page(request: Request, status: int, title: str, message: str) -> Response:
        view: View | None = getattr(request.state, "view", None)
        if view is None:
            return JSONResponse({"detail": message}, status_code=status)
        return view.render("error.html", status_code=status, title=title, message=message)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        back = request.state.view.here() if request.method == "GET" else "/"
        return RedirectResponse(f"/sign-in?next={quote(back)}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def forbidden(request: Request, error: PageForbidden) -> Response:
        _ = gettext_for(request.state.view.language)
        return error_page(
            request, 403, _("Not for your role"),
            _("This page is for people with the role %(roles)s.", roles=", ".join(error.roles)),
        )

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _error: CsrfRefused) -> Response:
        view: View | None = getattr(request.state, "view", None)
        _ = gettext_for(view.language if view else domain.DEFAULT_LANGUAGE)
        return error_page(
            request, 403, _("This form was not accepted"),
            _("The form did not carry this browser's security token: it may be older than your sign-in, or come "
              "from another site. Nothing was changed. Go back, reload the page and send the form again."),
        )

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, error: ServiceUnavailable) -> Response:
        _ = gettext_for(request.state.view.language)
        return error_page(
            request, 503, _("Not available right now"),
            _("Part of the node (%(service)s) does not answer at the moment. Please try again in a few minutes.",
              service=error.service),
        )

    @app.exception_handler(ServiceRefused)
    async def refused(request: Request, error: ServiceRefused) -> Response:
        _ = gettext_for(request.state.view.language)
        title = _("Not found") if error.status == 404 else _("Not possible")
        return error_page(request, error.status, title, error.detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        view: View | None = getattr(request.state, "view", None)
        if view is None:
            return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
        _ = gettext_for(view.language)
        title = _("Page not found") if error.status_code == 404 else _("Not possible")
        message = _("There is no page at this address.") if error.status_code == 404 else str(error.detail)
        return error_page(request, error.status_code, title, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        view: View | None = getattr(request.state, "view", None)
        _ = gettext_for(view.language if view else domain.DEFAULT_LANGUAGE)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        return error_page(request, 422, _("Please check what you entered"), problems)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready(request: Request) -> JSONResponse:
        """Ready when its database answers; says whether the identity provider does (without it, only signing in
        fails: the public pages work)."""
        checks: dict[str, str] = {}
        try:
            async with request.app.state.sessionmaker() as db:
                await db.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # Any failure means not ready; say which.
            checks["database"] = f"unavailable: {error!r}"
        provider: Provider | None = request.app.state.provider
        if provider is None:
            checks["identity_provider"] = "not configured (OIDC_ISSUER): nobody can sign in"
        else:
            try:
                await provider.configuration()
                checks["identity_provider"] = "ok"
            except Exception as error:  # Reported, not fatal.
                checks["identity_provider"] = f"unavailable: {error}"
        healthy = checks["database"] == "ok"
        return JSONResponse({"status": "ready" if healthy else "not ready", **checks}, status_code=200 if healthy else 503)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app


def run(argv: list[str]) -> None:
    """`python -m services.web [migrate|serve]`: serve migrates first, then listens."""
    settings = WebSettings()
    configure_logging(settings.service_name, settings.log_format)
    command = argv[0] if argv else "serve"
    if command not in ("migrate", "serve"):
        raise SystemExit("usage: python -m services.web [migrate|serve]")
    upgrade(settings, HERE / "migrations")
    if command == "serve":
        uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
