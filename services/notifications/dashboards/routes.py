"""HTTP routes of the dashboards: the live event stream, the figures, and a page built on both."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from services.notifications.dashboards import queries
from services.notifications.dashboards.access import view
from services.notifications.dashboards.domain import server_sent_event, without_learners
from shared.auth import CurrentPrincipal
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/dashboard", tags=["dashboards"])
PAGE = Path(__file__).parent / "templates" / "dashboard.html"
# How often an idle stream looks for new events, and how often it says it is still there (proxies close idle streams).
POLL_SECONDS = 0.3
KEEP_ALIVE_SECONDS = 15.0


@router.get("/events", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    principal: CurrentPrincipal,
    type: Annotated[list[str], Query(description="Only these event types (repeatable).")] = [],  # noqa: B006
    university: Annotated[list[str], Query(description="Only events about these universities (repeatable).")] = [],  # noqa: B006
    last_event_id: Annotated[int | None, Header(description="Resume after this event (sent by EventSource).")] = None,
    after: Annotated[int, Query(description="Resume after this event, for clients that cannot set headers.")] = 0,
) -> StreamingResponse:
    """Server-Sent Events: the events of the viewer's institution (the node administrator's: every event of the
    node, or those of the universities asked for) from the start, or after `Last-Event-ID`, then live. Learners'
    identities are left out for viewers who may not read them (all but registrars and the node administrator)."""
    shown = view(principal, university)
    unit_of_work = request.app.state.unit_of_work

    async def frames() -> AsyncIterator[str]:
        position, idle = last_event_id if last_event_id is not None else after, 0.0
        yield "retry: 1000\n\n"
        while not await request.is_disconnected():
            async with unit_of_work() as uow:
                rows = await queries.next_events(uow.session, position, type, shown.universities)
            for row in rows:
                document = {key: row[key] for key in ("event_id", "type", "source", "subject", "university", "data")}
                document["time"] = row["time"].isoformat()
                if not shown.sees_learners:
                    document = without_learners(document)
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
async def figures(principal: CurrentPrincipal, uow: UnitOfWorkDep, university: str | None = None) -> dict:
    """Applications, enrolments and waitlists per offering with fill rates, pass rates, credentials per university and
    month, time from grade to credential, emails sent and failed: the viewer's institution's (the node
    administrator's: the node's, or one university's)."""
    shown = view(principal, [university] if university else [])
    async with uow:
        return await queries.figures(uow.session, next(iter(shown.universities), None))


@router.get("", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    """The live page: public, since it holds no data; it asks for the viewer's token and reads the two routes above."""
    return HTMLResponse(PAGE.read_text())
