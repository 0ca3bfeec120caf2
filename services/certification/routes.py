"""HTTP routes of the certification service: credentials, their status, status lists and the DIDs that sign them."""

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from sqlmodel import select

from services.certification import issuing, status_publication
from services.certification.domain import StatusAction, TransitionRefused
from services.certification.models import (
    Credential,
    CredentialPublic,
    EndorsementRequest,
    EndorsementRequestPublic,
    MicroCredentialRecord,
    StatusChange,
)
from services.certification.settings import CertificationSettings
from services.certification.signing_keys import NodeIdentity
from services.certification.status_lists import StatusPurpose
from shared.auth import CurrentPrincipal, Role, reader_scope, require_institution, require_role
from shared.http import UnitOfWorkDep

router = APIRouter(tags=["credentials"])

VC_MEDIA_TYPE = "application/vc+ld+json"


# Each a route's class, so that its OpenAPI document says the media type it serves.
class CredentialResponse(JSONResponse):
    media_type = VC_MEDIA_TYPE


class DidDocumentResponse(JSONResponse):
    media_type = "application/did+json"


async def settings_of(request: Request) -> CertificationSettings:
    return request.app.state.settings


SettingsDep = Annotated[CertificationSettings, Depends(settings_of)]


async def identity(settings: SettingsDep) -> NodeIdentity:
    return issuing.identity_of(settings)


IdentityDep = Annotated[NodeIdentity, Depends(identity)]


def public(
    credential: Credential, settings: CertificationSettings, requests: Sequence[EndorsementRequest] = ()
) -> CredentialPublic:
    """What the API shows of a credential; `requests`, the endorsements this node asked partners for (pending ones
    are shown, with whom it asked and what they answered)."""
    urls = issuing.links(settings, credential.id)
    return CredentialPublic(
        id=credential.id,
        learner_id=credential.learner_id,
        course_id=credential.course_id,
        course_version=credential.course_version,
        issued_at=credential.issued_at,
        issuer_institution=credential.issuer_institution,
        programme=credential.programme,
        parts=credential.parts,
        status=issuing.status_of(credential),
        record=MicroCredentialRecord.model_validate(credential.record),
        credential=credential.verifiable_credential,
        pending_endorsements=credential.pending_endorsements,
        complete=not credential.pending_endorsements,
        endorsement_requests=[
            EndorsementRequestPublic.model_validate(request, from_attributes=True)
            for request in requests
            if request.institution in credential.pending_endorsements
        ],
        replaces=credential.replaces,
        revocation_reason=credential.revocation_reason,
        suspension_reason=credential.suspension_reason,
        download_url=urls.download_url,
        certificate_url=urls.certificate_url,
        verify_url=urls.verify_url,
    )


async def find(uow: UnitOfWorkDep, credential_id: str) -> Credential:
    credential = await uow.session.get(Credential, credential_id)
    if credential is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no credential {credential_id}")
    return credential


@router.get("/credentials")
async def list_credentials(
    principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep, learner_id: str | None = None
) -> list[CredentialPublic]:
    """Credentials, oldest first: a learner sees their own; a registrar those their institution issued; a node
    administrator all. `learner_id` narrows the list to one learner. (A single credential is public by its id, which
    only its holder and those they share it with know.)"""
    scope = reader_scope(principal, (Role.REGISTRAR, Role.NODE_ADMIN), "credentials", learner_id)
    query = (
        select(Credential)
        .where(scope.where(Credential.learner_id, lambda institution: Credential.issuer_institution == institution))
        .order_by(Credential.issued_at)
    )
    if learner_id:
        query = query.where(Credential.learner_id == learner_id)
    async with uow:
        return [public(credential, settings) for credential in (await uow.session.exec(query)).all()]


@router.get("/credentials/{credential_id}")
async def get_credential(credential_id: str, uow: UnitOfWorkDep, settings: SettingsDep) -> CredentialPublic:
    """The credential record (every Annex I element), its status, and the signed Verifiable Credential; for a joint
    credential, whether every co-awarding university's endorsement is attached (`complete`) and which are pending."""
    async with uow:
        credential = await find(uow, credential_id)
        requests = await uow.session.exec(select(EndorsementRequest).where(EndorsementRequest.credential_id == credential_id))
        return public(credential, settings, requests.all())


@router.get("/credentials/{credential_id}/credential.json", response_class=CredentialResponse)
async def download_credential(credential_id: str, uow: UnitOfWorkDep) -> JSONResponse:
    """The signed W3C Verifiable Credential alone, as a file for a wallet or a verifier."""
    async with uow:
        credential = await find(uow, credential_id)
    return CredentialResponse(
        credential.verifiable_credential,
        headers={"Content-Disposition": f'attachment; filename="credential-{credential_id}.json"'},
    )


@router.get("/credentials/{credential_id}/certificate.pdf", response_class=Response)
async def certificate(
    credential_id: str,
    uow: UnitOfWorkDep,
    settings: SettingsDep,
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2}$", description="de, en or fr (ISO 639-1)")] = None,
) -> Response:
    """The learner's certificate: one A4 PDF page with every Annex I element, the status, and a QR code to verify it.

    In `lang`, else in the learner's preferred language; English when the certificate has no words in it."""
    # Imported for the first certificate asked for, not at start: the PDF and QR code libraries take ~13 MB that a
    # node issuing and verifying has no use for.
    from services.certification.certificate import certificate_pdf

    async with uow:
        credential = await find(uow, credential_id)
    pdf = certificate_pdf(
        MicroCredentialRecord.model_validate(credential.record),
        issuing.status_of(credential),
        issuing.links(settings, credential.id).verify_url,
        credential.id,
        lang,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="certificate-{credential_id}.pdf"',
            # The status printed on it changes when the credential is suspended or revoked.
            "Cache-Control": "no-cache",
        },
    )


async def _change(
    credential_id: str,
    action: StatusAction,
    body: StatusChange,
    principal: CurrentPrincipal,
    uow: UnitOfWorkDep,
    settings: CertificationSettings,
) -> CredentialPublic:
    require_role(principal, Role.REGISTRAR)
    async with uow:
        credential = await uow.session.get(Credential, credential_id, with_for_update=True)
        if credential is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no credential {credential_id}")
        require_institution(principal, {credential.issuer_institution}, f"credential {credential_id}")
        try:
            if action is StatusAction.REVOKE:
                await issuing.revoke(uow, settings, credential, body.reason, principal.subject)
            else:
                issuing.change_status(uow, settings, credential, action, body.reason, principal.subject)
        except TransitionRefused as error:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(error)) from error
        await uow.commit()
        return public(credential, settings)


@router.post("/credentials/{credential_id}/revoke")
async def revoke(
    credential_id: str, body: StatusChange, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> CredentialPublic:
    """Revoke for good (a registrar of the issuing institution, with a reason): the revocation list says so."""
    return await _change(credential_id, StatusAction.REVOKE, body, principal, uow, settings)


@router.post("/credentials/{credential_id}/suspend")
async def suspend(
    credential_id: str, body: StatusChange, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> CredentialPublic:
    """Suspend until reinstated (a registrar of the issuing institution, with a reason)."""
    return await _change(credential_id, StatusAction.SUSPEND, body, principal, uow, settings)


@router.post("/credentials/{credential_id}/unsuspend")
async def unsuspend(
    credential_id: str, body: StatusChange, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
) -> CredentialPublic:
    """Reinstate a suspended credential (a registrar of the issuing institution, with a reason)."""
    return await _change(credential_id, StatusAction.UNSUSPEND, body, principal, uow, settings)


@router.get("/status-lists/{institution}/{purpose}", tags=["status lists"], response_class=CredentialResponse)
async def get_status_list(
    institution: str, purpose: StatusPurpose, uow: UnitOfWorkDep, settings: SettingsDep
) -> JSONResponse:
    """The institution's signed BitstringStatusListCredential for revocation or suspension, as signed at its last
    change."""
    async with uow:
        document = await status_publication.published(uow, settings, institution, purpose)
        await uow.commit()  # A list asked for the first time was signed and stored just now.
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"this node publishes no status lists of {institution}")
    return CredentialResponse(document, headers={"Cache-Control": "no-cache"})


def _did_document(document: dict[str, Any] | None, what: str) -> JSONResponse:
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"this node signs for no {what}")
    return DidDocumentResponse(document)


@router.get("/institutions/{institution}/did.json", tags=["DIDs"], response_class=DidDocumentResponse)
async def institution_did(institution: str, node: IdentityDep) -> JSONResponse:
    """The did:web document of an institution this node signs for (`did:web:<host%3Aport>:institutions:<id>`)."""
    return _did_document(node.document(institution) if node.holds(institution) else None, f"institution {institution}")


@router.get("/.well-known/did.json", tags=["DIDs"], response_class=DidDocumentResponse)
async def node_did(node: IdentityDep) -> JSONResponse:
    """The node's own did:web document (`did:web:<host%3Aport>`), with the first institution's key."""
    return _did_document(node.node_document(), "institution")
