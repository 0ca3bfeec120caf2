"""The public catalogue page: plain HTML listing what learners can register for now at every member of the alliance,
with every element of the description, filtered like `GET /offerings`, and the alliance's programmes; and each
offering's own page, where the catalogue page of every node sends learners to register. No JavaScript, no CSS
framework: any browser or screen reader reads them."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from shared.iso_codes import COUNTRIES, LANGUAGES
from services.catalogue import listings
from services.catalogue.alliance import AllianceViewDep
from services.catalogue.models import OfferingSearch, Search
from services.catalogue.offerings import find, get_offering
from shared.events.catalogue import DeliveryMode, Pace
from shared.http import UnitOfWorkDep

TEMPLATES = Path(__file__).parent / "templates"

router = APIRouter(tags=["catalogue page"])


def words(value: str) -> str:
    """An enum's value as words: onsite-with-identity-verification reads "Onsite with identity verification"."""
    return str(value).replace("-", " ").capitalize()


def day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def moment(value: datetime) -> str:
    # One time zone for the whole alliance's page, said on every date.
    value = value.astimezone(UTC)
    return f"{day(value)}, {value:%H:%M} UTC"


def web_link(url: str | None) -> bool:
    # Only http(s) becomes a link: a "javascript:" URL in a description must not run in a learner's browser.
    return bool(url) and url.lower().startswith(("https://", "http://"))


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # Everything in a description is the designer's text and is escaped.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        words=words,
        moment=moment,
        day=day,
        language=lambda code: LANGUAGES.get(code, code),
        country=lambda code: COUNTRIES.get(code, code),
    )
    environment.tests["web_link"] = web_link
    return environment


environment = template_environment()


@router.get(
    "/catalogue", response_class=HTMLResponse,
    summary="The offerings open for registration at every member of the alliance, and its programmes, as a web page",
)
async def catalogue_page(
    search: Annotated[OfferingSearch, Query()], uow: UnitOfWorkDep, view: AllianceViewDep
) -> HTMLResponse:
    search = search.model_copy(update={"open_for_registration": True})
    page = await find(uow, search, view)
    programmes = await listings.search_programmes(
        Search(university=search.university, q=search.q, page_size=100), uow, view
    )
    filters = search.model_dump(exclude={"open_for_registration", "page"}, exclude_none=True)

    def page_link(number: int) -> str:
        # Relative, so that the links still work behind a proxy that serves the node under a path.
        return "?" + urlencode(filters | {"page": number})

    html = environment.get_template("catalogue.html").render(
        page=page,
        programmes=programmes,
        search=search,
        pages=max(1, -(-page.total // page.page_size)),
        page_link=page_link,
        languages=LANGUAGES,
        # (value, what the learner reads) for each choice of the search form.
        eqf_levels=[(level, level) for level in range(1, 9)],
        delivery_modes=[(mode, words(mode)) for mode in DeliveryMode],
        paces=[(pace, words(pace)) for pace in Pace],
    )
    return HTMLResponse(html)


@router.get(
    "/catalogue/offerings/{offering_id}", response_class=HTMLResponse,
    summary="An offering's page, where learners register (of this node, or of another member of the alliance)",
)
async def offering_page(offering_id: str, uow: UnitOfWorkDep, view: AllianceViewDep) -> HTMLResponse:
    offering = await get_offering(offering_id, uow, view)
    html = environment.get_template("offering.html").render(
        offering=offering,
        # Relative, as the catalogue page's own links: /catalogue/offerings/<id> -> /catalogue.
        catalogue_link="../../catalogue",
        here=offering.node is None or (view.own_node is not None and offering.node == view.own_node.id),
    )
    return HTMLResponse(html)
