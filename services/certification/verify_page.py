"""Verification for everyone: `POST /verify` (a credential's JSON) and the plain HTML page `GET /verify`.

The page takes a pasted or uploaded credential, or `?id=<credential id>` (what a QR code on a certificate points at),
and says in plain words who issued it to whom, for what, and whether it is valid, revoked, suspended or tampered with.
"""

from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Body
from fastapi.responses import HTMLResponse

from services.certification import issuing, verification
from services.certification.models import Credential
from services.certification.routes import SettingsDep
from services.certification.settings import CertificationSettings
from shared.db import UnitOfWork
from shared.http import UnitOfWorkDep

router = APIRouter(tags=["verification"])

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True, trim_blocks=True
)


async def check(document: dict[str, Any], uow: UnitOfWork, settings: CertificationSettings) -> verification.Verdict:
    async with uow:
        return await verification.check(
            document,
            issuing.identity_of(settings).resolver,
            lambda url: issuing.own_status_list(uow, settings, url),
        )


@router.post("/verify")
async def verify_credential(
    uow: UnitOfWorkDep, settings: SettingsDep, credential: dict[str, Any] = Body(description="a credential's JSON")
) -> dict[str, Any]:
    """Whether the credential is valid, revoked, suspended, tampered with, or cannot be checked here; in plain words."""
    return asdict(await check(credential, uow, settings))


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(uow: UnitOfWorkDep, settings: SettingsDep, id: str | None = None) -> HTMLResponse:
    verdict, missing = None, None
    if id:
        async with uow:
            stored = await uow.session.get(Credential, id)
        if stored is None:
            missing = id
        else:
            verdict = await check(stored.verifiable_credential, uow, settings)
    page = _templates.get_template("verify.html").render(verdict=verdict, missing=missing, credential_id=id)
    return HTMLResponse(page, status_code=404 if missing else 200)
