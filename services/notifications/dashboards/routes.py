"""HTTP routes of the dashboards: the live event stream, the figures, and a page built on both."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from services.notifications.dashboards import queries
from services.notifications.dashboards.domain import server_sent_event
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/dashboard", tags=["dashboards"])
PAGE = Path(__file__).parent / "templates" / "dashboard.html"
# How often an idle stream looks for new events, and how often it says it is still there (proxies close idle streams).
POLL_SECONDS = 0.3
KEEP_ALIVE_SECONDS = 15.0


@router.get("/events", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    type: Annotated[list[str], Query(description="Only these event types (repeatable).")] = [],  # noqa: B006
    university: Annotated[list[str], Query(description="Only events about these universities (repeatable).")] = [],  # noqa: B006
    last_event_id: Annotated[int | None, Header(description="Resume after this event (sent by EventSource).")] = None,
    after: Annotated[int, Query(description="Resume after this event, for clients that cannot set headers.")] = 0,
) -> StreamingResponse:
    """Server-Sent Events: every event of the node from the start, or after `Last-Event-ID`, then live."""
    unit_of_work = request.app.state.unit_of_work

    async def frames() -> AsyncIterator[str]:
        position, idle = last_event_id if last_event_id is not None else after, 0.0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            async with unit_of_work() as uow:
                rows = await queries.next_events(uow.session, position, type, university)
            for row in rows:
                document = {key: row[key] for key in ("event_id", "type", "source", "subject", "university", "data")}
                document["time"] = row["time"].isoformat()
                yield server_sent_event(row["sequence"], document)
                position = row["sequence"]
            if rows:
                idle = 0.0
                continue
            if idle >= KEEP_ALIVE_SECONDS:
                yield ": still here\n\n"
                idle = 0.0
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS

    return StreamingResponse(
        frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get("/figures")
async def figures(uow: UnitOfWorkDep, university: str | None = None) -> dict:
    """Applications, enrolments and waitlists per offering with fill rates, pass rates, credentials per university and
    month, time from grade to credential, emails sent and failed."""
    async with uow:
        return await queries.figures(uow.session, university)


@router.get("", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    return HTMLResponse(PAGE.read_text())
