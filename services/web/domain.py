"""The front end's rules, as plain functions (no I/O): sessions and when they end, CSRF tokens, where a sign-in may
return to, which language a page is in, and what a learner is told about an application."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError

from shared.auth import Role

# Every page is written in these; the first is the fallback.
LANGUAGES = ("en", "de", "fr", "bg", "it", "lt")
DEFAULT_LANGUAGE = LANGUAGES[0]
# A refresh is due this long before the access token expires, so that a call never leaves with a dying token.
REFRESH_MARGIN = timedelta(seconds=30)
# Writing last_seen_at on every request would cost a write per page; once a minute is precise enough for idling.
TOUCH_INTERVAL = timedelta(seconds=60)


def random_token() -> str:
    """A browser's cookie, a sign-in's state, a nonce: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def session_id(cookie: str) -> str:
    """What the sessions table keys a browser's cookie by: its SHA-256, so the table alone opens no session."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def _mac(secret: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def csrf_token(secret: bytes, browser: str) -> str:
    """The token every form of this browser carries (tied to its cookie, which a new sign-in or sign-out replaces)."""
    return _mac(secret, "csrf", browser)


def csrf_valid(secret: bytes, browser: str | None, given: str | None) -> bool:
    return bool(browser and given) and hmac.compare_digest(csrf_token(secret, browser), given)  # type: ignore[arg-type]


def signed(secret: bytes, value: str) -> str:
    """A value a cookie carries, with its signature (a notice shown on the next page)."""
    return f"{_mac(secret, 'notice', value)}.{value}"


def unsigned(secret: bytes, value: str | None) -> str | None:
    if not value or "." not in value:
        return None
    signature, _, text = value.partition(".")
    return text if hmac.compare_digest(signature, _mac(secret, "notice", text)) else None


@dataclass(frozen=True)
class Lifetimes:
    idle: timedelta
    maximum: timedelta


def ended(created_at: datetime, last_seen_at: datetime, now: datetime, lifetimes: Lifetimes) -> bool:
    """Whether a session is over: idle too long, or signed in too long ago."""
    return now - last_seen_at > lifetimes.idle or now - created_at > lifetimes.maximum


def refresh_due(access_expires_at: datetime, now: datetime) -> bool:
    return access_expires_at - now <= REFRESH_MARGIN


def touch_due(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_INTERVAL


def safe_return_to(target: str | None, fallback: str = "/") -> str:
    """Where to go after signing in: a path of this site only, never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def _accepted(header: str | None) -> list[str]:
    """Accept-Language's languages, most wanted first (RFC 9110 12.5.4), as lower-case primary tags."""
    ranked = []
    for position, item in enumerate((header or "").split(",")):
        tag, _, parameters = item.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def page_language(chosen: Iterable[str | None], accept_language: str | None) -> str:
    """The page's language: the first choice the reader made that the site speaks (their setting on the site, their
    preference as a learner), else the first language of their browser's Accept-Language that it speaks, else
    English."""
    for language in [*chosen, *_accepted(accept_language)]:
        if language and language.split("-")[0].lower() in LANGUAGES:
            return language.split("-")[0].lower()
    return DEFAULT_LANGUAGE


def language_name(code: str) -> str:
    """A language in its own words, for the language switcher: Deutsch, français, български, ..."""
    try:
        return Locale.parse(code).get_display_name(code) or code
    except (UnknownLocaleError, ValueError):
        return code


@dataclass(frozen=True)
class Person:
    """Who is signed in, as the identity provider's claims say (shared/auth.py names the claims)."""

    subject: str
    name: str
    email: str | None
    roles: frozenset[Role]
    institution: str | None
    affiliation: tuple[str, ...]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> "Person":
        def values(claim: object) -> list[str]:
            if isinstance(claim, str):
                return [claim]
            return [value for value in claim if isinstance(value, str)] if isinstance(claim, list) else []

        known = {role.value for role in Role}
        return cls(
            subject=str(claims["sub"]),
            name=str(claims.get("name") or claims.get("preferred_username") or claims["sub"]),
            email=claims.get("email"),
            roles=frozenset(Role(role) for role in values(claims.get("roles")) if role in known),
            institution=claims.get("institution") or None,
            affiliation=tuple(values(claims.get("affiliation"))),
        )

    def has(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


def share_page_url(public_url: str, share_url: str) -> str:
    """The front end's page for a share link the certification service made (its token is the last path segment)."""
    token = urlsplit(share_url).path.rstrip("/").rsplit("/", 1)[-1]
    return f"{public_url.rstrip('/')}/shared/{token}"


def registration_elsewhere(offering: Mapping[str, Any]) -> str | None:
    """Where to register for an offering that another node of the alliance runs, when the catalogue says so (its
    listing of the alliance's offerings names the node's registration address); None for this node's own."""
    url = offering.get("registration_url")
    if not url:
        node = offering.get("node")
        url = node.get("registration_url") or node.get("base_url") if isinstance(node, Mapping) else None
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


# --- quality assurance: what a QA officer sees before approving or rejecting a course ---


def changed_fields(approved: Mapping[str, Any] | None, submitted: Mapping[str, Any]) -> list[str]:
    """The description's fields a submitted version changes from the approved one, in the description's order (none
    for a first version: there is nothing to compare it with)."""
    if approved is None:
        return []
    return [name for name in dict.fromkeys([*submitted, *approved]) if approved.get(name) != submitted.get(name)]


def last_approved(versions: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest approved version of a course, before its newest one (which is the one under review)."""
    earlier = list(versions)[:-1]
    return next((version for version in reversed(earlier) if version.get("status") == "approved"), None)


def own_part(subject: str, designed_by: str | None, submitted_by: str | None) -> str | None:
    """What the reader did to a course themselves ("designed", "submitted") that keeps them from reviewing it, the
    four-eyes rule the catalogue enforces (services/catalogue/domain.py) shown before anyone acts; None: nothing."""
    if subject == designed_by:
        return "designed"
    if subject == submitted_by:
        return "submitted"
    return None


SCHEME_KINDS = ("numeric", "letters", "pass-fail", "ects")


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]


def grading_scheme(form: Mapping[str, str]) -> dict[str, Any]:
    """The assessor's grading-scheme form as assessment's scheme: only the fields of the chosen kind, as typed.
    Assessment judges it (a pass mark off the scale, a passing letter that is not a grade) and names the field."""
    kind = form.get("kind", "")
    scheme: dict[str, Any] = {"kind": kind, "name": form.get("name", "").strip() or None}
    if kind == "numeric":
        scheme |= {key: form.get(key, "").strip() for key in ("minimum", "maximum", "pass_mark")}
        scheme["lower_is_better"] = form.get("lower_is_better") == "yes"
    elif kind == "letters":
        scheme |= {"grades": _listed(form.get("grades", "")), "passing": _listed(form.get("passing_grades", ""))}
    elif kind == "pass-fail":
        scheme |= {"passing": form.get("passing_word", "").strip(), "failing": form.get("failing_word", "").strip()}
    return scheme
