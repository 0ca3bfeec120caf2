"""The learner's wallet: their own credentials, and links that show one credential to someone until they expire."""

import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status
from sqlmodel import select

from services.certification import issuing
from services.certification.models import (
    Credential,
    CredentialPublic,
    MicroCredentialRecord,
    Share,
    ShareLink,
    ShareRequest,
    SharedCredential,
)
from services.certification.routes import SettingsDep, find, public
from shared.auth import CurrentPrincipal, Role, require_learner_or_staff, require_role
from shared.db import utcnow
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
    require_role(principal, Role.LEARNER)
    async with uow:
        credential = await find(uow, credential_id)
        # Only the holder: no staff role shares a learner's credential for them.
        require_learner_or_staff(principal, credential.learner_id, (), (), f"sharing credential {credential_id}")
        now = utcnow()
        link = Share(
            token=secrets.token_urlsafe(32),
            credential_id=credential_id,
            created_at=now,
            expires_at=now + timedelta(days=body.expires_in_days),
        )
        uow.session.add(link)
        await uow.commit()
    return ShareLink(url=f"{settings.public_url.rstrip('/')}/shared/{link.token}", expires_at=link.expires_at)


@router.get("/shared/{token}")
async def shared(token: str, uow: UnitOfWorkDep, settings: SettingsDep) -> SharedCredential:
    """What a share link shows, until it expires (then 410 Gone)."""
    async with uow:
        link = await uow.session.get(Share, token)
        if link is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such share link")
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
