"""FastAPI dependencies and the health endpoints every service exposes."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from shared.db import UnitOfWork


# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def` dependency in a worker thread,
# a thread hop and a GIL hand-over per request (bench/bench_cohort.py).
async def unit_of_work(request: Request) -> UnitOfWork:
    return request.app.state.unit_of_work()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work)]

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
