"""Pages for everyone: the start page, the alliance's catalogue (search, filters, one offering), and what a share
link shows."""

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticUseDefault

from services.web import domain
from services.web.api import ServiceRefused
from services.web.pages import PageView
from shared.auth import Role
from shared.events.catalogue import DeliveryMode, Pace

router = APIRouter(tags=["pages for everyone"])


@router.get("/")
async def home(view: PageView) -> Response:
    return view.render("home.html", title=view._("Micro-credentials of the alliance"))


class Search(BaseModel):
    """The catalogue's search form, passed on to the catalogue service's GET /offerings."""

    q: str | None = Field(default=None, max_length=200)
    university: str | None = Field(default=None, max_length=100)
    language: str | None = Field(default=None, max_length=3)
    ects_min: float | None = Field(default=None, ge=0, le=1000)
    ects_max: float | None = Field(default=None, ge=0, le=1000)
    eqf_level: int | None = Field(default=None, ge=1, le=8)
    delivery_mode: DeliveryMode | None = None
    pace: Pace | None = None
    target_group: str | None = Field(default=None, max_length=200)
    # "open" (the default): registration open now; "any": every offering.
    registration: str = Field(default="open", pattern="^(open|any)$")
    page: int = Field(default=1, ge=1, le=100_000)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()  # An empty field of the form means "any".
        return value

    def query(self) -> dict[str, Any]:
        query = self.model_dump(exclude={"registration"}, exclude_none=True, mode="json")
        if self.registration == "open":
            query["open_for_registration"] = "true"
        return query | {"page_size": PAGE_SIZE}

    def link(self, page: int) -> str:
        values = self.model_dump(exclude_none=True, mode="json") | {"page": page}
        if values.get("registration") == "open":
            values.pop("registration")
        return "/catalogue?" + urlencode(values)


PAGE_SIZE = 20


@router.get("/catalogue")
async def catalogue(view: PageView, search: Annotated[Search, Query()]) -> Response:
    """The alliance's offerings, searched and filtered, a page at a time."""
    found = await view.api.get("catalogue", "/offerings", **search.query())
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    return view.render(
        "catalogue.html",
        title=view._("Catalogue"),
        search=search,
        found=found,
        pages=pages,
        delivery_modes=list(DeliveryMode),
        paces=list(Pace),
        elsewhere={item["id"]: domain.registration_elsewhere(item) for item in found["items"]},
    )


@router.get("/catalogue/{offering_id}")
async def offering(view: PageView, offering_id: str) -> Response:
    """One offering with every element of its micro-credential's description, and the way to apply."""

    async def places() -> dict[str, Any] | None:
        try:
            return await view.api.get("enrolment", f"/offerings/{offering_id}")
        except ServiceRefused:
            return None  # Enrolment does not know it (yet, or it is another node's).

    found, seats = await asyncio.gather(view.api.get("catalogue", f"/offerings/{offering_id}"), places())
    person = view.person
    return view.render(
        "offering.html",
        title=found["description"]["title"],
        offering=found,
        places=seats,
        elsewhere=domain.registration_elsewhere(found),
        may_apply=person is None or person.has(Role.LEARNER),
    )


@router.get("/shared/{token}")
async def shared(view: PageView, token: str) -> Response:
    """What a learner's share link shows an employer: the credential's record, and the node's verdict on it."""
    try:
        found = await view.api.get("certification", f"/shared/{token}")
    except ServiceRefused as refused:
        if refused.status in (404, 410):
            return view.render("shared.html", refused.status, title=view._("This link does not work"), gone=refused)
        raise
    verdict = (await view.api.call("POST", "certification", "/verify", json=found["credential"])).json()
    return view.render(
        "shared.html", title=found["record"]["title"], shown=found, record=found["record"], verdict=verdict, gone=None
    )
