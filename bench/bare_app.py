"""The HTTP baseline of bench/bench_cohort.py: a bare FastAPI endpoint that takes an application's JSON body and answers
201, with no token, database or events, run by the same uvicorn as the services.

    .venv/bin/python -m uvicorn bench.bare_app:app --port 8999
"""

import uuid

from fastapi import FastAPI, status
from pydantic import BaseModel

app = FastAPI()


class ApplicationCreate(BaseModel):
    offering_id: str


class ApplicationPublic(BaseModel):
    id: str
    offering_id: str
    status: str


@app.post("/applications", status_code=status.HTTP_201_CREATED)
async def apply(body: ApplicationCreate) -> ApplicationPublic:
    return ApplicationPublic(id=str(uuid.uuid4()), offering_id=body.offering_id, status="enrolled")


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "live"}
