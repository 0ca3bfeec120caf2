"""The node's public machine documents under its one public origin: what credentials point to (the did:web documents
of the institutions it signs for, its status lists, a credential's public record, file and certificate) is served by
the certification service and passed through here, GET only, as a university's reverse proxy would pass it.

In production the university's proxy (nginx, Apache, a load balancer) does this in front of the node and this router
is never reached for these paths; it lets a node on one machine (deploy/alliance.sh) have one origin, so that its
DIDs (`did:web:<host%3Aport>:institutions:<code>`), its status lists and the alliance registry's `base_url` all name
the front end's host. Bounded like any call to a service: the whole exchange within SERVICE_TIMEOUT_SECONDS (else 504),
an answer of at most FORWARDED_DOCUMENT_MAX_BYTES (else 502); no redirect followed, no cookie or token passed on.
"""

import asyncio
import logging
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The certification service's public GET routes whose URLs go into credentials and DIDs.
FORWARDED = (
    "/.well-known/did.json",
    "/institutions/{institution}/did.json",
    "/status-lists/{institution}/{purpose}",
    "/credentials/{credential_id}",
    "/credentials/{credential_id}/credential.json",
    "/credentials/{credential_id}/certificate.pdf",
)
# Where the front end's pages are not: its session middleware leaves these paths alone.
PREFIXES = ("/.well-known/did.json", "/institutions/", "/status-lists/", "/credentials/")
# What the answer keeps of the service's headers (its media type says "DID document" or "credential" to a resolver).
KEPT_HEADERS = ("content-type", "content-disposition", "cache-control", "etag", "last-modified")


async def forward(request: Request) -> Response:
    settings, http = request.app.state.settings, request.app.state.http
    parameters = request.path_params
    if any(value in (".", "..") for value in parameters.values()):
        return JSONResponse({"detail": "no such document"}, status_code=404)
    path = request.scope["route"].path_format.format(
        **{name: quote(value, safe="") for name, value in parameters.items()}
    )
    url = settings.certification_url.rstrip("/") + path
    limit = settings.forwarded_document_max_bytes
    try:
        async with asyncio.timeout(settings.service_timeout_seconds):
            async with http.stream(
                "GET", url, params=request.query_params, headers={"Accept": request.headers.get("accept", "*/*")}
            ) as answer:
                declared = answer.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    return _failed(502, f"GET {path}: the answer is {declared} bytes, more than {limit}")
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        return _failed(502, f"GET {path}: the answer is larger than {limit} bytes")
    except (TimeoutError, httpx.TimeoutException):
        return _failed(504, f"GET {path}: certification did not answer within {settings.service_timeout_seconds:g} s")
    except httpx.HTTPError as error:
        return _failed(502, f"GET {path}: certification could not be reached ({type(error).__name__})")
    headers = {name: answer.headers[name] for name in KEPT_HEADERS if name in answer.headers}
    return Response(bytes(body), status_code=answer.status_code, headers=headers)


def _failed(status: int, message: str) -> JSONResponse:
    log.warning("public document not forwarded: %s", message)
    return JSONResponse({"detail": message}, status_code=status)


for _path in FORWARDED:
    router.add_api_route(_path, forward, methods=["GET"])
