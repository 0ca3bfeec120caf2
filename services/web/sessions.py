"""Signing in and out, and the session in between (use cases; the routes in routes/auth.py are thin).

A sign-in starts in one browser (its cookie is tied to the `state` sent to the provider) and must come back to the
same one: a callback carried to another browser (login CSRF) is refused. The session gets a new cookie when it
starts and when it ends, so a cookie seen before signing in never names a session. Tokens stay on the server.
"""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from services.web import domain
from services.web.models import SignIn, WebSession
from services.web.oidc import Provider, SignInFailed, Tokens
from services.web.settings import WebSettings
from shared.db import utcnow

# A sign-in not finished within this long is forgotten (the person starts again).
SIGN_IN_LIFETIME = timedelta(minutes=15)


def lifetimes(settings: WebSettings) -> domain.Lifetimes:
    return domain.Lifetimes(
        idle=timedelta(minutes=settings.session_idle_minutes), maximum=timedelta(hours=settings.session_max_hours)
    )


def redirect_uri(settings: WebSettings) -> str:
    return f"{settings.public_url.rstrip('/')}/auth/callback"


async def begin(
    db: AsyncSession, provider: Provider, settings: WebSettings, browser: str, return_to: str, language: str
) -> str:
    """Remember what the callback must match, and the address of the provider's login page to send the browser to."""
    sign_in = SignIn(
        state=domain.random_token(),
        browser=domain.session_id(browser),
        code_verifier=domain.random_token() + domain.random_token(),
        nonce=domain.random_token(),
        return_to=domain.safe_return_to(return_to),
        created_at=utcnow(),
    )
    db.add(sign_in)
    return await provider.authorization_url(
        redirect_uri(settings), sign_in.state, sign_in.nonce, sign_in.code_verifier, language
    )


@dataclass(frozen=True)
class SignedIn:
    cookie: str  # the browser's new cookie
    return_to: str


async def finish(
    db: AsyncSession, provider: Provider, settings: WebSettings, browser: str | None, state: str, code: str,
    language: str | None,
) -> SignedIn:
    """The provider's answer turned into a session: the state must be one this browser started, the code is
    exchanged with its PKCE verifier, and the ID token must carry the nonce sent with it."""
    now = utcnow()
    sign_in = await db.get(SignIn, state, with_for_update=True)
    if sign_in is None or now - sign_in.created_at > SIGN_IN_LIFETIME:
        raise SignInFailed("this sign-in is unknown or too old; please sign in again")
    await db.delete(sign_in)  # One use only, whatever happens next.
    if browser is None or domain.session_id(browser) != sign_in.browser:
        raise SignInFailed("this sign-in was started in another browser")
    tokens = await provider.exchange(code, redirect_uri(settings), sign_in.code_verifier)
    assert tokens.id_token is not None  # exchange() refuses an answer without one.
    claims = await provider.id_claims(tokens.id_token, sign_in.nonce)
    cookie = domain.random_token()
    db.add(
        WebSession(
            id=domain.session_id(cookie),
            subject=str(claims["sub"]),
            claims=claims,
            access_token=tokens.access_token,
            access_expires_at=now + timedelta(seconds=tokens.expires_in),
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            language=language,
            created_at=now,
            last_seen_at=now,
        )
    )
    await forget_ended(db, settings)
    return SignedIn(cookie=cookie, return_to=sign_in.return_to)


async def forget_ended(db: AsyncSession, settings: WebSettings) -> None:
    """Sessions that ended and sign-ins never finished (pruned on each sign-in: no background job needed)."""
    now, limits = utcnow(), lifetimes(settings)
    await db.execute(
        delete(WebSession).where(
            or_(WebSession.last_seen_at < now - limits.idle, WebSession.created_at < now - limits.maximum)
        )
    )
    await db.execute(delete(SignIn).where(SignIn.created_at < now - SIGN_IN_LIFETIME))


@dataclass(frozen=True)
class Found:
    session: WebSession | None
    # True when the browser named a session that has ended (idle, too old, or the provider ended it).
    expired: bool = False


async def current(db: AsyncSession, provider: Provider | None, settings: WebSettings, cookie: str | None) -> Found:
    """The browser's session, if it names one that has not ended; its access token refreshed when it is about to
    expire (a refused refresh ends the session: the provider's own session is over)."""
    if not cookie:
        return Found(None)
    session = await db.get(WebSession, domain.session_id(cookie))
    if session is None:
        return Found(None)
    now = utcnow()
    if domain.ended(session.created_at, session.last_seen_at, now, lifetimes(settings)):
        await db.delete(session)
        return Found(None, expired=True)
    if domain.refresh_due(session.access_expires_at, now):
        # Locked: two pages loading at once refresh once.
        session = await db.get(WebSession, session.id, with_for_update=True, populate_existing=True)
        if session is None:
            return Found(None, expired=True)
        if domain.refresh_due(session.access_expires_at, now):
            if not (provider and session.refresh_token):
                await db.delete(session)
                return Found(None, expired=True)
            try:
                tokens = await provider.refresh(session.refresh_token)
            except SignInFailed:
                await db.delete(session)
                return Found(None, expired=True)
            await renewed(provider, session, tokens)
    if domain.touch_due(session.last_seen_at, now):
        session.last_seen_at = now
    return Found(session)


async def renewed(provider: Provider, session: WebSession, tokens: Tokens) -> None:
    session.access_token = tokens.access_token
    session.access_expires_at = utcnow() + timedelta(seconds=tokens.expires_in)
    if tokens.refresh_token:
        session.refresh_token = tokens.refresh_token
    if tokens.id_token:
        # What the provider says now (a new name, a new role); a refreshed ID token carries no nonce to check.
        session.claims = await provider.id_claims(tokens.id_token, None)
        session.id_token = tokens.id_token


async def end(db: AsyncSession, session: WebSession) -> str:
    """Sign out here; returns the ID token, for the provider's logout."""
    await db.delete(session)
    return session.id_token
