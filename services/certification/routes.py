"""HTTP routes of the certification service: learners' credentials."""

from fastapi import APIRouter, HTTPException, status
from sqlmodel import select

from services.certification.models import Credential, CredentialPublic
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/credentials", tags=["credentials"])


def public(credential: Credential) -> CredentialPublic:
    return CredentialPublic.model_validate(credential, from_attributes=True)


@router.get("")
async def list_credentials(uow: UnitOfWorkDep, learner_id: str | None = None) -> list[CredentialPublic]:
    query = select(Credential).order_by(Credential.issued_at)
    if learner_id:
        query = query.where(Credential.learner_id == learner_id)
    async with uow:
        return [public(credential) for credential in (await uow.session.exec(query)).all()]


@router.get("/{credential_id}")
async def get_credential(credential_id: str, uow: UnitOfWorkDep) -> CredentialPublic:
    async with uow:
        credential = await uow.session.get(Credential, credential_id)
    if credential is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no credential {credential_id}")
    return public(credential)
