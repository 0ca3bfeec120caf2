"""The learner's wallet: their own credentials, and links that show one credential to someone until they expire."""

import secrets
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, status
from sqlmodel import col, select

from services.certification import issuing
from services.certification.models import (
    Credential,
    CredentialPublic,
    MicroCredentialRecord,
    Share,
    ShareLink,
    ShareLinkPublic,
    ShareRequest,
    SharedCredential,
)
from services.certification.routes import SettingsDep, find, public
from services.certification.settings import CertificationSettings
from shared.auth import CurrentPrincipal, Principal, Role, require_learner_or_staff, require_role
from shared.db import UnitOfWork, utcnow
from shared.http import UnitOfWorkDep

router = APIRouter(tags=["wallet"])


@router.get("/wallet")
async def wallet(principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep) -> list[CredentialPublic]:
    """The calling learner's credentials (their token's subject is their learner id), revoked ones included."""
    require_role(principal, Role.LEARNER)
    query = select(Credential).where(Credential.learner_id == principal.subject).order_by(Credential.issued_at)
    async with uow:
        return [public(credential, settings) for credential in (await uow.session.exec(query)).all()]


@router.post("/credentials/{credential_id}/share", status_code=status.HTTP_201_CREATED)
async def share(
    credential_id: str, body: ShareRequest, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> ShareLink:
    """A link to this credential that works for `expires_in_days` days; only the learner who holds it makes one."""
    async with uow:
        # Only the holder: no staff role shares a learner's credential for them.
        await held_credential(uow, principal, credential_id, "sharing")
        now = utcnow()
        link = Share(
            token=secrets.token_urlsafe(32),
            credential_id=credential_id,
            created_at=now,
            expires_at=now + timedelta(days=body.expires_in_days),
        )
        uow.session.add(link)
        await uow.commit()
    return ShareLink(url=share_url(settings, link.token), expires_at=link.expires_at)


def share_url(settings: CertificationSettings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/shared/{token}"


async def held_credential(uow: UnitOfWork, principal: Principal, credential_id: str, what: str) -> Credential:
    """The credential, when the caller is the learner who holds it (no staff role acts on a learner's links)."""
    require_role(principal, Role.LEARNER)
    credential = await find(uow, credential_id)
    require_learner_or_staff(principal, credential.learner_id, (), (), f"{what} of credential {credential_id}")
    return credential


def share_public(link: Share, settings: CertificationSettings, now: datetime) -> ShareLinkPublic:
    return ShareLinkPublic(
        url=share_url(settings, link.token),
        token=link.token,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        active=link.revoked_at is None and link.expires_at > now,
    )


@router.get("/credentials/{credential_id}/shares")
async def shares(
    credential_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> list[ShareLinkPublic]:
    """The share links the holder made for this credential, newest first, with whether each still works."""
    async with uow:
        await held_credential(uow, principal, credential_id, "the share links")
        query = select(Share).where(Share.credential_id == credential_id).order_by(col(Share.created_at).desc())
        links = (await uow.session.exec(query)).all()
    now = utcnow()
    return [share_public(link, settings, now) for link in links]


@router.post("/credentials/{credential_id}/shares/{token}/revoke")
async def revoke_share(
    credential_id: str, token: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> ShareLinkPublic:
    """The holder takes a share link back: from now on it shows nothing (410). 409 when it was revoked already."""
    async with uow:
        await held_credential(uow, principal, credential_id, "a share link")
        link = await uow.session.get(Share, token, with_for_update=True)
        if link is None or link.credential_id != credential_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"credential {credential_id} has no such share link")
        if link.revoked_at is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"this share link was revoked already, at {link.revoked_at.isoformat()}"
            )
        link.revoked_at = utcnow()
        await uow.commit()
    return share_public(link, settings, utcnow())


@router.get("/shared/{token}")
async def shared(token: str, uow: UnitOfWorkDep, settings: SettingsDep) -> SharedCredential:
    """What a share link shows, until it expires (then 410 Gone)."""
    async with uow:
        link = await uow.session.get(Share, token)
        if link is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such share link")
        if link.revoked_at is not None:
            raise HTTPException(status.HTTP_410_GONE, "the learner revoked this share link")
        if link.expires_at <= utcnow():
            raise HTTPException(status.HTTP_410_GONE, f"this share link expired at {link.expires_at.isoformat()}")
        credential = await find(uow, link.credential_id)
    urls = issuing.links(settings, credential.id)
    return SharedCredential(
        credential=credential.verifiable_credential,
        record=MicroCredentialRecord.model_validate(credential.record),
        status=issuing.status_of(credential),
        expires_at=link.expires_at,
        download_url=urls.download_url,
        certificate_url=urls.certificate_url,
        verify_url=urls.verify_url,
    )
