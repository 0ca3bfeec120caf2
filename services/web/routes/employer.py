"""The employer's page: verify a credential by uploading its file, pasting its text, or following the link of the QR
code on a certificate (`/verify?id=<credential id>`). The node's certification service judges it (POST /verify);
the page says the verdict in the reader's language."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from services.web.api import ServiceRefused
from services.web.pages import PageView, View
from shared.limits import Limit

router = APIRouter(tags=["employer"])

# The largest credential certification verifies is VERIFY_MAX_BYTES (256 KiB); a form holds it twice at most (pasted
# and uploaded), with room for the form's own fields.
CREDENTIAL_LIMIT = 256 * 1024
VERIFY_UPLOAD_LIMIT = Limit(2 * CREDENTIAL_LIMIT + 16 * 1024, "the verify form's limit")


def page(view: View, status_code: int = 200, **values: Any) -> Response:
    defaults: dict[str, Any] = {"verdict": None, "problem": None, "pasted": ""}
    return view.render("employer/verify.html", status_code, title=view._("Verify a micro-credential"),
                       **(defaults | values))


async def judged(view: View, credential: Any) -> dict[str, Any]:
    return (await view.api.call("POST", "certification", "/verify", json=credential)).json()


@router.get("/verify")
async def verify_page(view: PageView, id: str | None = None) -> Response:
    """The form; with `?id=` (the certificate's QR code), the verdict on that credential at once."""
    if not id:
        return page(view)
    try:
        credential = await view.api.get("certification", f"/credentials/{id}/credential.json")
    except ServiceRefused as refused:
        if refused.status != 404:
            raise
        return page(view, 404, problem=view._("This node issued no credential with the number %(id)s.", id=id))
    return page(view, verdict=await judged(view, credential))


@router.post("/verify")
async def verify(
    view: PageView,
    credential: Annotated[str, Form(max_length=CREDENTIAL_LIMIT)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The uploaded file when one was chosen, else the pasted text."""
    text = credential
    if file is not None and file.filename:
        raw = await file.read(CREDENTIAL_LIMIT + 1)
        if len(raw) > CREDENTIAL_LIMIT:
            return page(view, 413, problem=view._("The file is larger than a credential can be (256 KiB)."))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return page(view, 422, problem=view._("The file is not a credential: it is not text (JSON)."))
    if not text.strip():
        return page(view, 422, problem=view._("Choose a credential's file, or paste its text, then press Verify."))
    try:
        document = json.loads(text)
    except ValueError:
        return page(view, 422, pasted=credential,
                    problem=view._("This is not a credential: a credential is a JSON document."))
    if not isinstance(document, dict):
        return page(view, 422, pasted=credential,
                    problem=view._("This is not a credential: a credential is a JSON document."))
    try:
        verdict = await judged(view, document)
    except ServiceRefused as refused:
        return page(view, refused.status, pasted=credential, problem=refused.detail)
    return page(view, verdict=verdict)
