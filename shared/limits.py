"""Bad input is bounded, the same way in every service (shared.service's app factory installs all of this).

- Request bodies have a size limit: `BodyLimit` answers 413 naming the limit, from `Content-Length` before anything is
  read, or for a chunked body by counting while it streams in. One limit per service (HTTP_MAX_BODY_BYTES, 1 MiB), and
  a larger one where a service takes uploads (`Service.body_limits`).
- Text PostgreSQL cannot store is refused before a route sees it: `storable_text`, a dependency of every route, answers
  422 naming the path parameter, query parameter or JSON field whose text holds a NUL character (text and jsonb cannot
  hold U+0000) or a lone surrogate (not Unicode; it cannot be encoded to send to the database). Uploads a service
  parses itself check their values with `unstorable`.
- Integers that reach the database have its bounds: `PositiveInt32` (INTEGER columns: versions, capacities, pages)
  and `Offset64` (BIGINT: sequence numbers), so a huge number is a 422 naming the parameter, not a 500.
- A 422 can always be said: `invalid_request` answers FastAPI's validation errors with numbers JSON cannot carry
  (Python reads a body's 1e999 as infinity) shown as text, where FastAPI's own answer would fail to render (a 500).
"""

import contextlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# PostgreSQL's INTEGER and BIGINT.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

PositiveInt32 = Annotated[int, Ge(1), Le(INT32_MAX)]
# A position in a BIGINT sequence (0: before the first).
Offset64 = Annotated[int, Ge(0), Le(INT64_MAX)]


def unstorable(text: str) -> str | None:
    """Why PostgreSQL cannot store this text, or None when it can."""
    if "\x00" in text:
        return "holds a NUL character (U+0000), which PostgreSQL cannot store"
    if any("\ud800" <= character <= "\udfff" for character in text):
        return "holds a lone surrogate (U+D800 to U+DFFF), which is not Unicode text"
    return None


@dataclass(frozen=True)
class Limit:
    """A body size limit and the setting that changes it (named in the 413, so an operator knows what to raise)."""

    bytes: int
    setting: str


class BodyTooLarge(HTTPException):
    def __init__(self, limit: Limit, where: str) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the request body is larger than {limit.bytes} bytes, the limit {where} ({limit.setting})",
            # The rest of the body is not read, so the connection cannot carry another request: close it. (Kept open,
            # uvicorn would start the client's next request inside this one's context, with this one's trace.)
            headers={"Connection": "close"},
        )


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit. A declared `Content-Length` is refused before reading; a body
    without one is counted as it arrives and refused once it passes the limit (whoever reads it gets the HTTPException,
    which FastAPI answers; one that escapes FastAPI's handlers is answered here)."""

    def __init__(self, app: ASGIApp, default: Limit, routes: Mapping[str, Limit] | None = None) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.routes.get(path, self.default)
        where = f"for {path}" if path in self.routes else "of this service"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit.bytes:
            await _refuse(BodyTooLarge(limit, where), scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.bytes:
                    raise BodyTooLarge(limit, where)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as too_large:
            if started:
                raise
            await _refuse(too_large, scope, receive, send)


async def _refuse(error: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)(scope, receive, send)


# JSON can carry NUL and surrogates only as escapes; a body without any is not parsed again.
ESCAPES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


async def storable_text(request: Request) -> None:
    """An app-wide dependency (it runs once the route is known, before the route's own parameters are checked): 422 in
    FastAPI's error shape, `loc` naming the path or query parameter or the JSON field whose text PostgreSQL cannot
    store. FastAPI has read the body already; it is parsed again only when it holds an escape that may be one."""
    problems = [
        _problem(["path", name], f"Text {reason}", value)
        for name, value in request.path_params.items()
        if isinstance(value, str) and (reason := unstorable(value))
    ]
    problems += [
        _problem(["query", name], f"Text {reason}", value)
        for name, value in request.query_params.multi_items()
        if (reason := unstorable(value))
    ]
    if _is_json(request.headers.get("content-type", "")):
        body = await request.body()
        if ESCAPES.search(body):
            with contextlib.suppress(ValueError):  # Malformed JSON: FastAPI says so itself.
                problems += _walk(json.loads(body), ["body"])
    if problems:
        raise RequestValidationError(problems)


def _walk(value: Any, location: list[str | int]) -> Iterator[dict[str, Any]]:
    if isinstance(value, str):
        if reason := unstorable(value):
            yield _problem(location, f"Text {reason}", value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*location, index])
    elif isinstance(value, dict):
        for key, item in value.items():
            if reason := unstorable(key):
                yield _problem(location, f"A key {reason}", key)
            yield from _walk(item, [*location, key])


def _problem(location: list[str | int], message: str, value: str) -> dict[str, Any]:
    # The input is shown escaped: the raw characters are the problem.
    escaped = value.encode("unicode_escape").decode("ascii")
    return {"type": "string_unstorable", "loc": location, "msg": message, "input": escaped}


def _is_json(content_type: str) -> bool:
    # FastAPI reads a body without a content type as JSON too.
    media_type = content_type.split(";", 1)[0].strip().lower()
    return not media_type or media_type == "application/json" or media_type.endswith("+json")


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for invalid input, with infinities and NaNs (which JSON has no words for) written as text."""
    return JSONResponse({"detail": jsonable_encoder(_sayable(error.errors()))}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _sayable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _sayable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_sayable(item) for item in value]
    return value
