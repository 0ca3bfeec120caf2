"""HTTP routes of the dashboards: the live event stream, the figures, and a page built on both."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from services.notifications.dashboards import queries
from services.notifications.dashboards.access import view
from services.notifications.dashboards.domain import server_sent_event, without_learners
from services.notifications.dashboards.figures import read_figures
from shared.auth import CurrentPrincipal
from shared.http import UnitOfWorkDep
from shared.limits import Offset64

router = APIRouter(prefix="/dashboard", tags=["dashboards"])
PAGE = Path(__file__).parent / "templates" / "dashboard.html"
# How often an idle stream looks for new events, and how often it says it is still there (proxies close idle streams).
POLL_SECONDS = 0.3
KEEP_ALIVE_SECONDS = 15.0
# When every stream is taken: how long a client should wait before it tries again.
RETRY_AFTER_SECONDS = 5


class StreamSlots:
    """How many streams this instance serves at once (DASHBOARD_MAX_STREAMS): each one polls the database."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    def take(self) -> None:
        if self.open >= self.limit:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"this node already serves {self.limit} event streams (DASHBOARD_MAX_STREAMS); try again later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1

    @staticmethod
    def of(request: Request) -> "StreamSlots":
        """The app's slots, made on first use (the app's state holds them, so each app counts its own streams)."""
        state = request.app.state
        if not hasattr(state, "dashboard_streams"):
            state.dashboard_streams = StreamSlots(state.settings.dashboard_max_streams)
        return state.dashboard_streams


class EventStreamResponse(StreamingResponse):
    """A stream that gives its slot back however it ends: all sent, the client gone, or the server stopping."""

    def __init__(self, frames: AsyncIterator[str], slots: StreamSlots) -> None:
        super().__init__(
            frames, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self.frames = frames
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give_back()
            await self.frames.aclose()  # type: ignore[attr-defined]


@router.get("/events", response_class=StreamingResponse)
async def event_stream(
    request: Request,
    principal: CurrentPrincipal,
    type: Annotated[list[str], Query(description="Only these event types (repeatable).")] = [],  # noqa: B006
    university: Annotated[list[str], Query(description="Only events about these universities (repeatable).")] = [],  # noqa: B006
    last_event_id: Annotated[Offset64 | None, Header(description="Resume after this event (sent by EventSource).")] = None,
    after: Annotated[Offset64, Query(description="Resume after this event, for clients that cannot set headers.")] = 0,
    follow: Annotated[
        bool, Query(description="Stay open and send new events as they come; false: send what is there, then close.")
    ] = True,
) -> StreamingResponse:
    """Server-Sent Events: the events of the viewer's institution (the node administrator's: every event of the
    node, or those of the universities asked for) from the start, or after `Last-Event-ID`, then live (unless
    `follow=false`). Learners' identities are left out for viewers who may not read them (all but registrars and the
    node administrator). At most DASHBOARD_MAX_STREAMS at once per instance: beyond, 503 with Retry-After."""
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
            if not follow:
                return
            if idle >= KEEP_ALIVE_SECONDS:
                yield ": still here\n\n"
                idle = 0.0
            await asyncio.sleep(POLL_SECONDS)
            idle += POLL_SECONDS

    slots = StreamSlots.of(request)
    slots.take()
    return EventStreamResponse(frames(), slots)


@router.get("/figures")
async def figures(principal: CurrentPrincipal, uow: UnitOfWorkDep, university: str | None = None) -> dict:
    """Applications, enrolments and waitlists per offering with fill rates, pass rates, credentials per university and
    month, time from grade to credential, emails sent and failed: the viewer's institution's (the node
    administrator's: the node's, or one university's)."""
    shown = view(principal, [university] if university else [])
    async with uow:
        figures = await read_figures(uow.session, next(iter(shown.universities), None))
    # Written out as they are: FastAPI's jsonable_encoder walking a thousand offerings' rows took ~30 ms of CPU.
    return JSONResponse(figures)


@router.get("", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    """The live page: public, since it holds no data; it asks for the viewer's token and reads the two routes above."""
    return HTMLResponse(PAGE.read_text())
