"""The front end passes the node's public documents on to certification (services/web/routes/documents.py): what a
resolver asks the node's origin for arrives as certification answered it, and a slow or oversized answer is cut off."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from services.web.routes import documents
from services.web.settings import WebSettings

DID_DOCUMENT = {"id": "did:web:127.0.0.1%3A8100:institutions:uni-saarland", "verificationMethod": []}


def certification() -> FastAPI:
    """An ASGI app answering as certification's public routes do."""
    app = FastAPI()

    @app.get("/institutions/{institution}/did.json")
    async def did(institution: str) -> Response:
        if institution != "uni-saarland":
            return JSONResponse({"detail": f"this node signs for no institution {institution}"}, status_code=404)
        return JSONResponse(DID_DOCUMENT, media_type="application/did+json")

    @app.get("/status-lists/{institution}/{purpose}")
    async def status_list(institution: str, purpose: str) -> Response:
        if purpose == "slow":
            await asyncio.sleep(5)
        return Response(b"x" * 5000, media_type="application/vc+ld+json", headers={"Cache-Control": "no-cache"})

    @app.get("/credentials/{credential_id}/certificate.pdf")
    async def certificate(credential_id: str, lang: str = "en") -> Response:
        return Response(f"%PDF {credential_id} {lang}".encode(), media_type="application/pdf",
                        headers={"Set-Cookie": "a=b"})

    return app


@pytest.fixture
async def front_end():
    app = FastAPI()
    app.include_router(documents.router)
    app.state.settings = WebSettings(
        certification_url="http://certification", service_timeout_seconds=0.5, forwarded_document_max_bytes=4096
    )
    app.state.http = httpx.AsyncClient(transport=httpx.ASGITransport(certification()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1:8100") as client:
        yield client
    await app.state.http.aclose()


async def test_a_did_document_is_passed_on_with_its_media_type(front_end: httpx.AsyncClient):
    answer = await front_end.get("/institutions/uni-saarland/did.json")
    assert (answer.status_code, answer.headers["content-type"], answer.json()) == (
        200, "application/did+json", DID_DOCUMENT
    )
    missing = await front_end.get("/institutions/uni-elsewhere/did.json")
    assert missing.status_code == 404 and "uni-elsewhere" in missing.json()["detail"]


async def test_the_query_is_passed_on_and_cookies_are_not(front_end: httpx.AsyncClient):
    answer = await front_end.get("/credentials/c-1/certificate.pdf", params={"lang": "de"})
    assert (answer.status_code, answer.content) == (200, b"%PDF c-1 de")
    assert "set-cookie" not in answer.headers


async def test_an_answer_over_the_limit_or_too_slow_is_cut_off_with_a_clear_error(front_end: httpx.AsyncClient):
    large = await front_end.get("/status-lists/uni-saarland/revocation")
    assert large.status_code == 502 and "more than 4096" in large.json()["detail"]
    slow = await front_end.get("/status-lists/uni-saarland/slow")
    assert slow.status_code == 504 and "did not answer within 0.5 s" in slow.json()["detail"]


async def test_only_get_and_only_the_public_documents_are_passed_on(front_end: httpx.AsyncClient):
    assert (await front_end.post("/status-lists/uni-saarland/revocation")).status_code == 405
    assert (await front_end.get("/credentials")).status_code == 404
    assert (await front_end.get("/institutions/../did.json")).status_code == 404
