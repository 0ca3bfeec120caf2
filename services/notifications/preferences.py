"""Opting out of optional emails: the learner's preference, and the signed token of their unsubscribe link.

Optional: every email but those about a credential itself (issued, revoked, completed), which a learner must always get.
The token names the learner and is signed with HMAC-SHA256 under the node's unsubscribe secret (made by the
migration, or UNSUBSCRIBE_SECRET); it does not expire, as RFC 8058 expects of one-click unsubscribe links.
"""

import base64
import binascii
import hashlib
import hmac
from urllib.parse import urlencode

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notifications.models import Preference, SigningSecret
from services.notifications.settings import NotificationsSettings
from shared.db import utcnow

# Emails a learner cannot opt out of.
# A joint credential's completion too: the copy the learner holds lacks endorsements until they fetch the new one.
ESSENTIAL_TEMPLATES = frozenset(
    {"credential_issued", "programme_credential_issued", "credential_revoked", "credential_completed"}
)
SECRET_NAME = "unsubscribe"


def is_optional(template: str) -> bool:
    return template not in ESSENTIAL_TEMPLATES


async def signing_secret(session: AsyncSession, settings: NotificationsSettings) -> bytes:
    if settings.unsubscribe_secret:
        return settings.unsubscribe_secret.encode()
    row = await session.get(SigningSecret, SECRET_NAME)
    assert row is not None, "the migration makes the unsubscribe secret"
    return row.secret.encode()


def _signature(learner_id: str, secret: bytes) -> str:
    digest = hmac.new(secret, f"unsubscribe:{learner_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def unsubscribe_token(learner_id: str, secret: bytes) -> str:
    subject = base64.urlsafe_b64encode(learner_id.encode()).rstrip(b"=").decode()
    return f"{subject}.{_signature(learner_id, secret)}"


def learner_of(token: str, secret: bytes) -> str | None:
    """The learner a token was made for; None when it was not made with this secret (forged, altered, truncated)."""
    if not token.isascii():
        return None  # Tokens are base64url; anything else was not made here (and would not compare as text).
    subject, _, signature = token.partition(".")
    try:
        learner_id = base64.urlsafe_b64decode(subject + "=" * (-len(subject) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return learner_id if learner_id and hmac.compare_digest(signature, _signature(learner_id, secret)) else None


def unsubscribe_url(settings: NotificationsSettings, learner_id: str, secret: bytes) -> str:
    return f"{settings.unsubscribe_base_url.rstrip('/')}/unsubscribe?{urlencode({'token': unsubscribe_token(learner_id, secret)})}"


async def wants_optional_emails(session: AsyncSession, learner_id: str) -> bool:
    preference = await session.get(Preference, learner_id)
    return preference is None or preference.optional_emails


async def opted_out(session: AsyncSession, learner_ids: set[str]) -> set[str]:
    """Which of these learners want no optional emails (one query for a batch's learners)."""
    if not learner_ids:
        return set()
    query = select(Preference.learner_id).where(col(Preference.learner_id).in_(learner_ids), col(Preference.optional_emails).is_(False))
    return set((await session.exec(query)).all())


async def set_optional_emails(session: AsyncSession, learner_id: str, wanted: bool) -> None:
    await session.execute(
        insert(Preference)
        .values(learner_id=learner_id, optional_emails=wanted, updated_at=utcnow())
        .on_conflict_do_update(index_elements=["learner_id"], set_={"optional_emails": wanted, "updated_at": utcnow()})
    )


