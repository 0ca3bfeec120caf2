"""The status lists this node publishes: signed when a status changes, stored, and served as stored.

A revocation, suspension or reinstatement marks its institution's list of that purpose in the unit of work; just
before the transaction commits, the list is derived from the credentials' states (status_lists.py), signed with the
institution's key and stored. GET /status-lists/... serves the stored credential; a list nobody changed yet is signed
the first time it is asked for.

Two status changes at once must neither lose a bit nor leave the older list published: the list is re-derived and
stored under a transaction-scoped advisory lock per list, taken after every credential lock of the transaction (at
commit, so never in the opposite order). Under READ COMMITTED the second transaction reads the credentials' states
after the first has committed, so its list holds both changes, and it is the one stored last.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select

from services.certification import status_lists
from services.certification.models import Credential, PublishedStatusList
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import identity_of
from services.certification.status_lists import StatusPurpose
from services.certification.vc.proof import sign
from shared.db import UnitOfWork, utcnow

_CHANGED = "status lists changed"


def publish_on_commit(uow: UnitOfWork, settings: CertificationSettings, institution: str, purpose: StatusPurpose) -> None:
    """A status of this purpose changed in the unit of work: sign the institution's list again before it commits."""
    changed: set[tuple[str, StatusPurpose]] | None = uow.cache.get(_CHANGED)
    if changed is None:
        changed = uow.cache[_CHANGED] = set()

        async def publish_changed_lists() -> None:
            await uow.session.flush()  # the states are read back by a query, after every change of the transaction
            for institution, purpose in sorted(changed):  # one lock order for every transaction
                await _sign_and_store(uow, settings, institution, purpose)

        uow.before_commit(publish_changed_lists)
    changed.add((institution, purpose))


async def published(
    uow: UnitOfWork, settings: CertificationSettings, institution: str, purpose: StatusPurpose
) -> dict[str, Any] | None:
    """The signed status list as stored (signed now, and stored, the first time it is needed); None when this node
    does not sign for the institution. The caller commits."""
    if not identity_of(settings).holds(institution):
        return None
    stored = await uow.session.get(PublishedStatusList, (institution, str(purpose)))
    if stored is None or not _current(settings, stored.credential, institution, purpose):
        await _lock(uow, institution, purpose)
        # Another request may have signed it while this one waited for the lock: then that one is served.
        stored = await uow.session.get(PublishedStatusList, (institution, str(purpose)), populate_existing=True)
        if stored is None or not _current(settings, stored.credential, institution, purpose):
            return await _sign_and_store(uow, settings, institution, purpose)
    return stored.credential


async def own_status_list(uow: UnitOfWork, settings: CertificationSettings, url: str) -> dict[str, Any] | None:
    """The status list behind a URL, when the URL is one of this node's lists (no network: read from the database)."""
    prefix = f"{settings.public_url.rstrip('/')}/status-lists/"
    institution, _, purpose = url.removeprefix(prefix).partition("/")
    if not url.startswith(prefix) or purpose not in set(StatusPurpose):
        return None
    return await published(uow, settings, institution, StatusPurpose(purpose))


def _current(settings: CertificationSettings, stored: dict[str, Any], institution: str, purpose: StatusPurpose) -> bool:
    """Whether a stored list still is the one to publish: signed for the node's present URL (a node that moved
    publishes its lists again, under its new URL and DID)."""
    url = status_lists.list_url(settings.public_url, institution, purpose)
    return stored.get("id") == url and stored.get("issuer") == identity_of(settings).did(institution)


async def _lock(uow: UnitOfWork, institution: str, purpose: StatusPurpose) -> None:
    key = f"status-list:{institution}:{purpose}"
    await uow.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def _sign_and_store(
    uow: UnitOfWork, settings: CertificationSettings, institution: str, purpose: StatusPurpose
) -> dict[str, Any]:
    await _lock(uow, institution, purpose)
    now = utcnow()
    document = signed_status_list(settings, institution, purpose, await set_indexes(uow, institution, purpose), now)
    row = {"institution": institution, "purpose": str(purpose), "credential": document, "signed_at": now}
    upsert = insert(PublishedStatusList).values(row)
    upsert = upsert.on_conflict_do_update(
        index_elements=["institution", "purpose"], set_={"credential": document, "signed_at": now}
    )
    await uow.session.execute(upsert)
    return document


async def set_indexes(uow: UnitOfWork, institution: str, purpose: StatusPurpose) -> list[int]:
    """The indexes whose bit is set in the institution's list for this purpose, from the credentials' states."""
    column = Credential.revoked_at if purpose is StatusPurpose.REVOCATION else Credential.suspended_at
    query = select(Credential.status_index).where(Credential.issuer_institution == institution, column.is_not(None))
    return list((await uow.session.exec(query)).all())


def signed_status_list(
    settings: CertificationSettings, institution: str, purpose: StatusPurpose, indexes: list[int], now: datetime
) -> dict[str, Any]:
    """The institution's BitstringStatusListCredential for the purpose, signed with its key (a few milliseconds: the
    list is one short string, so it is signed in the service's process)."""
    identity = identity_of(settings)
    url = status_lists.list_url(settings.public_url, institution, purpose)
    unsigned = status_lists.status_list_credential(
        url,
        identity.did(institution),
        purpose,
        status_lists.bitstring(settings.status_list_length, indexes),
        status_lists.xsd_datetime(now),
    )
    return sign(unsigned, identity.private_key(institution), identity.verification_method(institution), created=now)
