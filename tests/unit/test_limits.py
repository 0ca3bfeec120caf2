"""shared.limits on a small app wired as the app factory wires every service: body limits (with a declared length and
chunked), text PostgreSQL cannot store, and integers with the database's bounds."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from shared.limits import INT32_MAX, BodyLimit, Limit, PositiveInt32, invalid_request, storable_text, unstorable


class Measure(BaseModel):
    minimum: float = Field(ge=0)


class Thing(BaseModel):
    name: str
    tags: list[str] = []
    count: PositiveInt32 | None = None


def app_with_limits() -> FastAPI:
    app = FastAPI(dependencies=[Depends(storable_text)], exception_handlers={RequestValidationError: invalid_request})
    app.add_middleware(BodyLimit, default=Limit(100, "HTTP_MAX_BODY_BYTES"), routes={"/uploads": Limit(1000, "UPLOADS")})

    @app.post("/things/{thing_id}")
    async def create(thing_id: str, thing: Thing, version: PositiveInt32 = 1) -> dict[str, Any]:
        return {"id": thing_id, "version": version, **thing.model_dump()}

    @app.post("/measures")
    async def measures(measure: Measure) -> dict[str, float]:
        return measure.model_dump()

    @app.post("/uploads")
    async def upload(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with_limits()), base_url="http://test") as client:
        yield client


async def in_chunks(data: bytes) -> AsyncIterator[bytes]:
    """httpx sends a generator's body chunked, with no Content-Length."""
    for start in range(0, len(data), 10):
        yield data[start : start + 10]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_413_naming_the_limit_and_its_setting(client, chunked: bool):
    body = b'{"name": "' + b"x" * 200 + b'"}'
    response = await client.post(
        "/things/a", content=in_chunks(body) if chunked else body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["connection"] == "close", "the rest of the body is not read: no request may follow on it"
    assert response.json()["detail"] == (
        "the request body is larger than 100 bytes, the limit of this service (HTTP_MAX_BODY_BYTES)"
    )


async def test_a_route_with_its_own_limit_takes_more_and_still_has_one(client):
    assert (await client.post("/uploads", content=in_chunks(b"x" * 900))).json() == {"bytes": 900}
    refused = await client.post("/uploads", content=in_chunks(b"x" * 1001))
    assert refused.status_code == 413 and "1000 bytes, the limit for /uploads (UPLOADS)" in refused.json()["detail"]


async def test_a_body_within_the_limit_passes(client):
    response = await client.post("/things/a", json={"name": "ok", "tags": ["🎓"]})
    assert response.status_code == 200 and response.json()["tags"] == ["🎓"]


@pytest.mark.parametrize(
    ("path", "body", "location"),
    [
        ("/things/a%00b", b'{"name": "x"}', ["path", "thing_id"]),
        ("/things/a?version=1&extra=%00", b'{"name": "x"}', ["query", "extra"]),
        ("/things/a", b'{"name": "x\\u0000"}', ["body", "name"]),
        ("/things/a", b'{"name": "x", "tags": ["ok", "\\udfff"]}', ["body", "tags", 1]),
        ("/things/a", b'{"name": "x", "\\u0000": 1}', ["body"]),
    ],
    ids=["path", "query", "body-nul", "body-lone-surrogate", "body-key"],
)
async def test_text_postgresql_cannot_store_is_a_422_naming_where_it_is(client, path: str, body: bytes, location):
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == location and problem["type"] == "string_unstorable"


async def test_escapes_that_are_text_pass(client):
    # An escaped backslash before "u0000" is six ordinary characters; a surrogate pair is one character.
    body = b'{"name": "\\\\u0000 \\ud83c\\udf93"}'
    response = await client.post("/things/a", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["name"] == "\\u0000 🎓"


@pytest.mark.parametrize(
    ("path", "body", "location"),
    [
        (f"/things/a?version={INT32_MAX + 1}", {"name": "x"}, ["query", "version"]),
        ("/things/a?version=0", {"name": "x"}, ["query", "version"]),
        ("/things/a", {"name": "x", "count": 2**63}, ["body", "count"]),
    ],
)
async def test_integers_past_postgresqls_integer_are_a_422(client, path: str, body: dict, location):
    response = await client.post(path, json=body)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == location
    assert (await client.post(f"/things/a?version={INT32_MAX}", json={"name": "x"})).status_code == 200


def test_unstorable_names_the_reason():
    assert unstorable("plain text, ünïcödé, 🎓") is None
    assert "NUL" in unstorable("a\x00b")
    assert "surrogate" in unstorable("a\ud800")


@pytest.mark.parametrize("minimum", [b"-1e999", b"NaN"])
async def test_a_422_about_a_number_json_cannot_carry_is_still_said(client, minimum: bytes):
    # Python reads these as -inf and nan, which FastAPI's own 422 could not render.
    response = await client.post(
        "/measures", content=b'{"minimum": ' + minimum + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["detail"][0]["input"] in ("-inf", "nan")
