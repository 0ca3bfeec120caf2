"""The skeleton every page is built on: who is reading (`View`), the one layout, the menu, notices, and the errors a
page can end in.

Adding a page: a route in a module of `routes/` that takes `view: PageView`, asks `view.person_with(Role...)` when it
is not public, calls the services through `view.api`, and returns `view.render("<folder>/<page>.html", ...)`; the
template extends "layout.html" and writes its forms with the `form` macro of "_forms.html", which adds the CSRF
token (every POST without a valid one is refused, app.py). A menu entry is one `MenuItem` in `MENU`. Strings go
through `{% trans %}` / `_()` and get translated in `translations/` (see i18n.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.web import domain
from services.web.api import NodeApi
from services.web.domain import Person
from services.web.i18n import LazyText, _l, gettext_for
from services.web.models import WebSession
from services.web.settings import WebSettings
from shared.auth import Role

BROWSER_COOKIE = "mc_browser"
NOTICE_COOKIE = "mc_notice"
LANGUAGE_COOKIE = "mc_language"


@dataclass(frozen=True)
class MenuItem:
    label: LazyText
    path: str
    # Shown to people holding one of these roles; None: to everyone.
    roles: frozenset[Role] | None = None


MENU: list[MenuItem] = [
    MenuItem(_l("Catalogue"), "/catalogue"),
    MenuItem(_l("My applications"), "/learner/applications", frozenset({Role.LEARNER})),
    MenuItem(_l("My wallet"), "/learner/wallet", frozenset({Role.LEARNER})),
    MenuItem(_l("Email preferences"), "/learner/preferences", frozenset({Role.LEARNER})),
    MenuItem(_l("Courses to review"), "/qa/courses", frozenset({Role.QA_OFFICER})),
    MenuItem(_l("Joint courses to consent to"), "/qa/consents", frozenset({Role.QA_OFFICER, Role.COURSE_DESIGNER})),
    MenuItem(_l("My courses"), "/designer/courses", frozenset({Role.COURSE_DESIGNER})),
    MenuItem(_l("Offerings"), "/registrar/offerings", frozenset({Role.REGISTRAR})),
    MenuItem(_l("Credentials issued"), "/registrar/credentials", frozenset({Role.REGISTRAR})),
    MenuItem(_l("Failed emails"), "/registrar/emails", frozenset({Role.REGISTRAR})),
    MenuItem(_l("Grading"), "/assessor/courses", frozenset({Role.ASSESSOR})),
    MenuItem(_l("Verify a credential"), "/verify"),
]


class SignInRequired(Exception):
    """The page needs someone signed in: the browser is sent to sign in, and comes back here."""


class PageForbidden(Exception):
    """Signed in, but without a role the page needs."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles = sorted(roles)


@dataclass
class View:
    """A page being made: the request, its language, who reads it (if signed in), the services on their behalf."""

    request: Request
    settings: WebSettings
    language: str
    session: WebSession | None
    api: NodeApi
    # The browser's cookie value (CSRF tokens are tied to it).
    browser: str
    # A notice the previous page left (tone, text): success, info or error.
    notice: tuple[str, str] | None = None
    # Cookies to set (or, None, to delete) on the response; app.py's middleware sends them.
    set_cookies: dict[str, str | None] = field(default_factory=dict)

    @property
    def person(self) -> Person | None:
        return Person.from_claims(self.session.claims) if self.session else None

    def person_with(self, *roles: Role) -> Person:
        """The signed-in person, who must hold one of `roles` (any role when none are named)."""
        person = self.person
        if person is None:
            raise SignInRequired()
        if roles and not person.has(*roles):
            raise PageForbidden(roles)
        return person

    def _(self, message: str, **values: Any) -> str:
        return gettext_for(self.language)(message, **values)

    @property
    def csrf_token(self) -> str:
        return domain.csrf_token(self.request.app.state.secret, self.browser)

    def menu(self) -> list[tuple[str, str, bool]]:
        """(label, path, is this page) for each entry the reader may use."""
        person, here = self.person, self.request.url.path
        return [
            (self._(item.label), item.path, here == item.path or here.startswith(item.path + "/"))
            for item in MENU
            if item.roles is None or (person is not None and person.has(*item.roles))
        ]

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        environment = self.request.app.state.templates[self.language]
        html = environment.get_template(template).render(view=self, person=self.person, **values)
        return HTMLResponse(html, status_code=status_code)

    def redirect(self, path: str, notice: str | None = None, tone: str = "success") -> RedirectResponse:
        """After a form: go to `path` (303, so a reload does not send the form again), telling the notice there."""
        if notice:
            self.set_cookies[NOTICE_COOKIE] = domain.signed(self.request.app.state.secret, quote(f"{tone}|{notice}"))
        return RedirectResponse(path, status_code=303)

    def here(self) -> str:
        """This page's path and query, for coming back after signing in or switching the language."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def link(self, path: str, **params: Any) -> str:
        present = {name: value for name, value in params.items() if value not in (None, "")}
        return f"{path}?{urlencode(present)}" if present else path


def view_of(request: Request) -> View:
    """Made by the middleware in app.py before the route runs (the session is read there, once per request)."""
    return request.state.view


PageView = Annotated[View, Depends(view_of)]
