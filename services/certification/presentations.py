"""HTTP routes for stacking across nodes: a learner presents the parts they hold for a programme of this node, and sees
where their presentation stands (presented_parts.py holds the rules)."""

from fastapi import APIRouter, HTTPException, Request, Response, status

from services.certification.domain import PartRefused
from services.certification.models import Presentation, PresentedPartPublic
from services.certification.presented_parts import (
    NoSuchProgramme,
    NotYours,
    PresentedParts,
    presentation_of,
    public_part,
)
from services.certification.routes import SettingsDep
from services.certification.verify_page import read_json, size_in_words
from shared.auth import CurrentPrincipal, Role, require_role
from shared.http import UnitOfWorkDep

_PRESENTATION = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "description": "an OpenBadgeCredential, a list of them, or a W3C VerifiablePresentation carrying them "
                "in verifiableCredential",
                "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
            }
        }
    },
}


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the presentation is larger than {size_in_words(limit)}, the most this node takes (PRESENTATION_MAX_BYTES)",
    )


def presentation_routes(parts: PresentedParts) -> APIRouter:
    router = APIRouter(tags=["programmes"])

    @router.post(
        "/programmes/{programme_id}/presentations",
        openapi_extra={"requestBody": _PRESENTATION},
        responses={201: {"model": Presentation, "description": "the rule is met: the programme credential was issued"}},
    )
    async def present(
        programme_id: str,
        request: Request,
        response: Response,
        principal: CurrentPrincipal,
        uow: UnitOfWorkDep,
        settings: SettingsDep,
    ) -> Presentation:
        """The calling learner presents micro-credentials they hold (of any member's node) as parts of this node's
        programme. Each must be theirs (its subject's ESI, else its hashed e-mail address, is their token's), award a
        course the programme stacks, and verify VALID here as /verify says; otherwise 403 (not theirs) or 422, naming
        the part and the rule, and nothing is kept. When the programme's rule is met the programme credential is
        issued (201) and e-mailed; otherwise 200 says which parts this node holds. Presenting a part again changes
        nothing."""
        require_role(principal, Role.LEARNER)
        body = await read_json(request, settings.presentation_max_bytes, _too_large)
        async with uow:
            try:
                issued = await parts.present(uow, principal, programme_id, body)
            except NoSuchProgramme as missing:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from None
            except NotYours as refusal:
                raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None
            except PartRefused as refusal:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(refusal)) from None
            await uow.commit()  # The programme credential's signed document is stored as it commits.
            found = await presentation_of(uow, settings, principal.subject, programme_id)
        if issued:
            response.status_code = status.HTTP_201_CREATED
        return found

    @router.post("/presentations", openapi_extra={"requestBody": _PRESENTATION})
    async def present_credentials(
        request: Request, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
    ) -> list[PresentedPartPublic]:
        """The calling learner presents micro-credentials they hold (of any member's node) so that they count at this
        node: as a course's prerequisite when they apply (enrolment learns of them: CredentialPresented), and as
        parts of its programmes. The same rules and answers as for a programme's parts, for any course of this
        platform."""
        require_role(principal, Role.LEARNER)
        body = await read_json(request, settings.presentation_max_bytes, _too_large)
        async with uow:
            try:
                taken = await parts.take(uow, principal, body)
            except NotYours as refusal:
                raise HTTPException(status.HTTP_403_FORBIDDEN, str(refusal)) from None
            except PartRefused as refusal:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(refusal)) from None
            await uow.commit()
        return [public_part(part) for part in taken]

    @router.get("/programmes/{programme_id}/presentations/mine")
    async def mine(
        programme_id: str, principal: CurrentPrincipal, uow: UnitOfWorkDep, settings: SettingsDep
    ) -> Presentation:
        """The parts the calling learner presented for the programme, each valid or revoked, and the programme
        credential when it was issued."""
        require_role(principal, Role.LEARNER)
        async with uow:
            try:
                return await presentation_of(uow, settings, principal.subject, programme_id)
            except NoSuchProgramme as missing:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(missing)) from None

    return router
