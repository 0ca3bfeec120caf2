"""Signing in at the identity provider and out again, and choosing the pages' language."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.web import domain, sessions
from services.web.api import NodeApi, ServiceRefused, ServiceUnavailable
from services.web.models import WebSession
from services.web.oidc import ProviderUnavailable, SignInFailed
from services.web.pages import BROWSER_COOKIE, LANGUAGE_COOKIE, PageView
from shared.auth import Role

router = APIRouter(tags=["signing in"])


def _provider(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.provider


@router.get("/sign-in")
async def sign_in(request: Request, view: PageView, next: str = "/") -> Response:
    """Off to the identity provider's login page (in the page's language); it sends the browser back to the
    callback."""
    provider = _provider(request)
    if provider is None:
        return view.render("error.html", 503, title=view._("Signing in is not set up"),
                           message=view._("This node has no identity provider configured (OIDC_ISSUER)."))
    try:
        async with request.app.state.sessionmaker() as db:
            url = await sessions.begin(db, provider, view.settings, view.browser, next, view.language)
            await db.commit()
    except ProviderUnavailable:
        return view.render("error.html", 503, title=view._("Signing in is not possible right now"),
                           message=view._("The university's sign-in service does not answer. Please try again later."))
    return RedirectResponse(url, status_code=303)


@router.get("/auth/callback")
async def callback(
    request: Request, view: PageView, state: str = "", code: str = "", error: str = "", error_description: str = ""
) -> Response:
    """Where the identity provider sends the browser back: with a code to exchange, or an error."""
    provider = _provider(request)
    if provider is None or error or not (state and code):
        message = error_description or error or view._("The sign-in did not finish.")
        return view.render("error.html", 400, title=view._("You are not signed in"), message=message)
    try:
        async with request.app.state.sessionmaker() as db:
            signed_in = await sessions.finish(
                db, provider, view.settings, request.cookies.get(BROWSER_COOKIE), state, code,
                request.cookies.get(LANGUAGE_COOKIE),
            )
            await db.commit()
    except SignInFailed as failure:
        return view.render("error.html", 400, title=view._("You are not signed in"), message=str(failure))
    except ProviderUnavailable:
        return view.render("error.html", 503, title=view._("Signing in is not possible right now"),
                           message=view._("The university's sign-in service does not answer. Please try again later."))
    # A new cookie for the new session: one seen before signing in never names it.
    view.set_cookies[BROWSER_COOKIE] = signed_in.cookie
    async with request.app.state.sessionmaker() as db:
        session = await db.get(WebSession, domain.session_id(signed_in.cookie))
        assert session is not None
        person = domain.Person.from_claims(session.claims)
        if session.language is None and person.has(Role.LEARNER):
            session.language = await _learners_language(request, session)
            await db.commit()
    return view.redirect(signed_in.return_to, view._("Welcome, %(name)s. You are signed in.", name=person.name))


async def _learners_language(request: Request, session: WebSession) -> str | None:
    """A registered learner's preferred language (enrolment keeps it: their emails come in it too)."""
    api = NodeApi(request.app.state.http, request.app.state.settings, request.app.state.service_token(session))
    try:
        learner = await api.get("enrolment", f"/learners/{session.subject}")
    except (ServiceRefused, ServiceUnavailable):
        return None  # Not registered yet, or enrolment is away: the browser's languages decide.
    language = learner.get("preferred_language")
    return language if language in domain.LANGUAGES else None


@router.post("/sign-out")
async def sign_out(request: Request, view: PageView) -> Response:
    """Ends the session here and, through RP-initiated logout, at the identity provider."""
    id_token = None
    if view.session is not None:
        async with request.app.state.sessionmaker() as db:
            session = await db.get(WebSession, view.session.id)
            if session is not None:
                id_token = await sessions.end(db, session)
                await db.commit()
    view.set_cookies[BROWSER_COOKIE] = domain.random_token()
    after = f"{view.settings.public_url.rstrip('/')}/signed-out"
    provider = _provider(request)
    if provider is not None:
        try:
            if url := await provider.logout_url(id_token, after):
                return RedirectResponse(url, status_code=303)
        except ProviderUnavailable:
            pass  # Signed out here; the provider's own session ends when it expires.
    return RedirectResponse("/signed-out", status_code=303)


@router.get("/signed-out")
async def signed_out(view: PageView) -> Response:
    return view.render("auth/signed_out.html", title=view._("You have signed out"))


@router.get("/language/{code}")
async def choose_language(request: Request, view: PageView, code: str, next: str = "/") -> Response:
    """The reader's choice of language: kept in a cookie, and in their session while signed in."""
    if code not in domain.LANGUAGES:
        code = domain.DEFAULT_LANGUAGE
    view.set_cookies[LANGUAGE_COOKIE] = code
    if view.session is not None:
        async with request.app.state.sessionmaker() as db:
            session = await db.get(WebSession, view.session.id)
            if session is not None:
                session.language = code
                await db.commit()
    return RedirectResponse(domain.safe_return_to(next), status_code=303)
