"""Verification for everyone: `POST /verify` (a credential's JSON) and the plain HTML page `GET /verify`.

The page takes a pasted or uploaded credential, or `?id=<credential id>` (what a QR code on a certificate points at),
and says in plain words who issued it to whom, for what, and whether it is valid, signed by an issuer this node does
not know, revoked, suspended or tampered with. The page's form posts to `POST /verify` asking for HTML
(`Accept: text/html`), and shows the verdict rendered by the same template as `?id=`. A body larger than
VERIFY_MAX_BYTES is refused with 413 before it is read whole; the proofs are checked in worker processes. A credential
of another member of the alliance is checked with its DID document and status lists from its node (resolver.py),
fetched in this event loop before the proofs go to the workers, which never touch the network.
"""

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import select

from services.certification import claims, status_publication, trust, verification
from services.certification.models import Credential, EndorsementRequest
from services.certification.proof_checks import Busy, ProofChecker
from services.certification.resolver import MemberResolver, Refused
from services.certification.routes import SettingsDep
from services.certification.settings import CertificationSettings
from shared.alliance import AllianceRegistry, registry_in_use
from shared.db import UnitOfWork
from shared.http import UnitOfWorkDep

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, trim_blocks=True
)

_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "description": "a credential's JSON"}}},
}


def size_in_words(size: int) -> str:
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} bytes"


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the credential is larger than {size_in_words(limit)} ({limit} bytes), the most this node verifies "
        "(VERIFY_MAX_BYTES)",
    )


async def read_json(request: Request, limit: int, too_large: Callable[[int], HTTPException] | None = None) -> Any:
    """The body as JSON, read no further than `limit` bytes (raises HTTPException: 413, 422)."""
    declared = request.headers.get("content-length", "")
    refusal = too_large or _too_large
    if declared.isdigit() and int(declared) > limit:
        raise refusal(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise refusal(limit)
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is not JSON: {error}") from None


async def read_credential(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, read no further than `limit` bytes (raises HTTPException: 413, 422)."""
    document = await read_json(request, limit)
    if not isinstance(document, dict):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"a credential is a JSON object, not a {type(document).__name__}"
        )
    return document


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _fragment(**values: Any) -> str:
    return _templates.get_template("_verdict.html").render(**values)


async def judge(
    document: Mapping[str, Any],
    settings: CertificationSettings,
    registry: AllianceRegistry | None,
    checker: ProofChecker,
    resolver: MemberResolver,
    own_status_list: Callable[[str], Awaitable[dict[str, Any] | None]],
) -> verification.Verdict:
    """The verdict on a credential, as /verify gives it: proofs checked in `checker`'s workers, members' DID documents
    and status lists fetched by `resolver` from the nodes `registry` lists, this node's own lists read locally."""
    directory = trust.issuer_directory(settings, registry)
    status_list = status_lists_of(document, registry, resolver, own_status_list)
    return await verification.check(
        document,
        directory,
        lambda dids: resolver.did_documents(dids, registry),
        checker.check,
        lambda credential: verification.check_status(credential, status_list),
    )


def status_lists_of(
    document: Mapping[str, Any],
    registry: AllianceRegistry | None,
    resolver: MemberResolver,
    own_status_list: Callable[[str], Awaitable[dict[str, Any] | None]],
    *,
    fresh: bool = False,
) -> verification.StatusListSource:
    """Where the credential's status lists are read: this node's own locally, a member's from its node (`fresh`: not
    from the cache)."""
    issuer = claims.issuer_id(document) or ""

    async def status_list(url: str) -> dict[str, Any]:
        own = await own_status_list(url)
        if own is not None:
            return own
        try:
            return await resolver.status_list(url, issuer, registry, fresh=fresh)
        except Refused as refusal:
            raise verification.StatusListUnavailable(str(refusal)) from None

    return status_list


def _institution_names(institutions: list[str], registry: AllianceRegistry | None) -> list[str]:
    """Institutions by their legal names in the registry in use, else by their codes."""
    return [
        registry.member(code).legal_name if registry is not None and registry.is_member(code) else code
        for code in institutions
    ]


def verify_routes(checker: ProofChecker, resolver: MemberResolver) -> APIRouter:
    """The verification routes, checking proofs with `checker`'s worker processes and fetching members' DID documents
    and status lists with `resolver`."""
    router = APIRouter(tags=["verification"])

    async def judged(
        document: dict[str, Any], request: Request, uow: UnitOfWork, settings: CertificationSettings
    ) -> verification.Verdict:
        async def own_status_list(url: str) -> dict[str, Any] | None:
            async with uow:
                own = await status_publication.own_status_list(uow, settings, url)
                await uow.commit()  # A list needed for the first time was signed and stored just now.
            return own

        # One registry for the whole check, even if a new one is taken into use meanwhile.
        return await judge(document, settings, registry_in_use(request.app.state), checker, resolver, own_status_list)

    @router.post(
        "/verify",
        response_model=verification.Verdict,
        openapi_extra={"requestBody": _REQUEST_BODY},
        responses={
            200: {"content": {"text/html": {}}, "description": "the verdict (HTML with `Accept: text/html`)"},
            413: {"description": "the credential is larger than VERIFY_MAX_BYTES"},
            503: {"description": "VERIFY_MAX_IN_FLIGHT checks are waiting or running already"},
            422: {"description": "the body is not a JSON object"},
        },
    )
    async def verify_credential(request: Request, uow: UnitOfWorkDep, settings: SettingsDep) -> Response:
        """Whether the credential is valid, signed by an issuer this node does not know (`unknown-issuer`), revoked,
        suspended, tampered with, unsigned, not valid now, or cannot be checked here; in plain words (`summary`)."""
        html = _wants_html(request)
        try:
            document = await read_credential(request, settings.verify_max_bytes)
            verdict = await judged(document, request, uow, settings)
        except Busy as busy:
            refused = HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(busy), headers={"Retry-After": "1"})
            if html:
                return HTMLResponse(_fragment(refused=refused.detail), refused.status_code, refused.headers)
            raise refused from None
        except HTTPException as refused:
            if html:
                return HTMLResponse(_fragment(refused=refused.detail), status_code=refused.status_code)
            raise
        if html:
            return HTMLResponse(_fragment(verdict=verdict))
        return JSONResponse(asdict(verdict))

    @router.get(
        "/verify",
        response_class=HTMLResponse,
        # The page also when it refuses, not the JSON of any other refusal.
        responses={
            404: {"content": {"text/html": {}}, "description": "the page, saying that no credential has this `id`"},
            503: {"content": {"text/html": {}}, "description": "the page, saying that VERIFY_MAX_IN_FLIGHT checks wait"},
        },
    )
    async def verify_page(
        request: Request, uow: UnitOfWorkDep, settings: SettingsDep, id: str | None = None
    ) -> HTMLResponse:
        """The verify page: paste or upload a credential, or follow `?id=` (the QR code on a certificate)."""
        verdict, missing, busy, pending, declined = None, None, None, [], []
        if id:
            async with uow:
                stored = await uow.session.get(Credential, id)
                # Why a partner has not endorsed, asked only of a credential that still awaits one.
                requests = (await uow.session.exec(
                    select(EndorsementRequest).where(EndorsementRequest.credential_id == id)
                )).all() if stored is not None and stored.pending_endorsements else []
            if stored is None:
                missing = id
            else:
                # A joint credential of this node whose co-awarding universities' endorsements have not all arrived:
                # awaited, or declined by the partner's node (then with its reason, e.g. a withdrawal).
                registry = registry_in_use(request.app.state)
                reasons = {each.institution: each.declined_reason for each in requests if each.declined_reason}
                awaited = [code for code in stored.pending_endorsements if code not in reasons]
                declining = [code for code in stored.pending_endorsements if code in reasons]
                pending = _institution_names(awaited, registry)
                declined = list(zip(_institution_names(declining, registry), [reasons[code] for code in declining]))
                try:
                    verdict = await judged(stored.verifiable_credential, request, uow, settings)
                except Busy as error:
                    busy = str(error)
        page = _templates.get_template("verify.html").render(
            verdict=verdict, missing=missing, refused=busy, limit=size_in_words(settings.verify_max_bytes),
            pending=pending, declined=declined,
        )
        return HTMLResponse(page, status_code=404 if missing else 503 if busy else 200)

    return router
