"""FastAPI dependencies, the refusals every route documents, and the health endpoints every service exposes."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from shared.db import UnitOfWork


# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def` dependency in a worker thread,
# a thread hop and a GIL hand-over per request (bench/bench_cohort.py).
async def unit_of_work(request: Request) -> UnitOfWork:
    return request.app.state.unit_of_work()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work)]


class Refusal(BaseModel):
    """What every refusal answers: `detail` says what was wrong (a sentence, or for invalid input one entry per field
    with the rule it broke)."""

    detail: Any


# Documented on every operation, so that a client (and schemathesis's status code check) knows what any route may
# answer besides what its own documentation adds: 401, 403, 404, 409, 413, 422, ... with a Refusal. As JSON by name:
# with `model`, FastAPI would document it in the route's own media type (text/html for a page), which it is not.
REFUSALS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "content": {"application/json": {"schema": Refusal.model_json_schema()}},
        "description": "Refused: 401 without a valid token, 403 without the role or institution needed, 404 unknown, "
        "409 in conflict with the current state, 413 too large, 422 invalid; `detail` says why",
    }
}

health_router = APIRouter(prefix="/health", tags=["health"])


@health_router.get("/live")
async def live() -> dict[str, str]:
    return {"status": "live"}


@health_router.get("/ready")
async def ready(request: Request, uow: UnitOfWorkDep) -> JSONResponse:
    """Ready when the database and Kafka answer and no part of the service is waiting for either; `waiting` says
    which part waits for what, since when and why (see shared.failures). Also tells how many events wait in the
    outbox."""
    checks: dict[str, object] = {}
    try:
        async with uow:
            await uow.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["outbox_backlog"] = await request.app.state.outbox_relay.backlog()
    except Exception as error:
        checks["database"] = f"unavailable: {error!r}"
    checks["kafka"] = "ok" if await request.app.state.broker.ping(timeout=2.0) else "unavailable"
    waiting = [outage.describe() for outage in request.app.state.outages.current]
    if waiting:
        checks["waiting"] = waiting
    healthy = checks["database"] == "ok" and checks["kafka"] == "ok" and not waiting
    return JSONResponse({"status": "ready" if healthy else "not ready", **checks}, status_code=200 if healthy else 503)
