"""HTTP routes for the alliance's catalogue of courses and programmes: the approved ones of every member, this node's
included, searched like the offerings (reads are public). The node's own workflow stays at `/courses` and
`/programmes`; offerings of every member are at `/offerings`."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Row

from services.catalogue import queries
from services.catalogue.alliance import AllianceView, AllianceViewDep
from services.catalogue.models import (
    CourseListingPublic,
    CoursePage,
    CourseSearch,
    ProgrammeListingPublic,
    ProgrammePage,
    Search,
)
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/alliance", tags=["the alliance's catalogue"])


def _runner(row: Row[Any], view: AllianceView, description: dict[str, Any]) -> dict[str, Any]:
    values = row._asdict()
    return values | view.runner(values["node"], values["institutions"][0], description)


@router.get("/courses", summary="Search the approved courses of every member of the alliance, a page at a time")
async def search_courses(
    search: Annotated[CourseSearch, Query()], uow: UnitOfWorkDep, view: AllianceViewDep
) -> CoursePage:
    async with uow:
        found, total = await queries.search_courses(uow.session, search, view.shown())
    return CoursePage(
        items=[CourseListingPublic.model_validate(_runner(row, view, row.description)) for row in found],
        total=total,
        page=search.page,
        page_size=search.page_size,
    )


@router.get("/programmes", summary="Search the approved programmes of every member of the alliance, a page at a time")
async def search_programmes(
    search: Annotated[Search, Query()], uow: UnitOfWorkDep, view: AllianceViewDep
) -> ProgrammePage:
    async with uow:
        found, total = await queries.search_programmes(uow.session, search, view.shown())
    return ProgrammePage(
        # A programme's awarding bodies say what its description would: the lead's name and country.
        items=[
            ProgrammeListingPublic.model_validate(_runner(row, view, {"awarding_bodies": row.awarding_bodies}))
            for row in found
        ],
        total=total,
        page=search.page,
        page_size=search.page_size,
    )
