"""HTTP routes for offerings: the lead institution's registrar or course designer opens a run of an approved course
version; learners browse and search what is on offer, at this node and at the alliance's other members (reads are
public)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Row

from services.catalogue import consents, domain, queries
from services.catalogue.access import OFFER, check, refusals
from services.catalogue.alliance import AllianceView, AllianceViewDep
from services.catalogue.models import (
    Course,
    Offering,
    OfferingCreate,
    OfferingPage,
    OfferingPublic,
    OfferingSearch,
)
from shared.auth import CurrentPrincipal
from shared.db import UnitOfWork, utcnow
from shared.events.catalogue import OfferingOpened
from shared.http import UnitOfWorkDep

router = APIRouter(prefix="/offerings", tags=["offerings"])


def columns(offering: Offering) -> dict[str, Any]:
    # Attributes, not model_dump(): the enums come back from the database as plain strings, which validation reads.
    return {name: getattr(offering, name) for name in Offering.model_fields}


def public(listed: Row[Any], view: AllianceView) -> OfferingPublic:
    """An offering of the alliance's catalogue (queries.search_offerings' row): this node's or a member's."""
    row = listed._asdict()
    return OfferingPublic.model_validate(
        row
        | view.runner(row["node"], row["institution"], row["description"])
        | {
            "open_for_registration": domain.open_for_registration(listed, utcnow()),
            "registration_url": view.registration_url(row["node"], row["id"]),
        }
    )


async def find(uow: UnitOfWork, search: OfferingSearch, view: AllianceView) -> OfferingPage:
    """One page of the offerings a search asks for; the API and the catalogue page both answer with it."""
    async with uow:
        found, total = await queries.search_offerings(uow.session, search, utcnow(), view.shown())
    return OfferingPage(
        items=[public(row, view) for row in found],
        total=total,
        page=search.page,
        page_size=search.page_size,
    )


@router.post("", status_code=201, summary="Open an offering of an approved course version (publishes OfferingOpened)")
async def open_offering(
    body: OfferingCreate, principal: CurrentPrincipal, uow: UnitOfWorkDep, view: AllianceViewDep
) -> OfferingPublic:
    async with uow:
        with refusals():
            # Locked, so that the course cannot be retired while its offering opens.
            versions = await queries.versions(uow.session, Course, body.course_id, lock=True)
            course = domain.version_to_offer(versions, body.course_version)
            # A joint course a partner withdrew from opens no new offerings (those open run on).
            domain.withdrawal_refusal(course, await consents.withdrawn_from(uow, course))
        OFFER.check(principal, course.institutions, f"course {course.id}")
        check(domain.offering_violations(body))
        offering = Offering(
            id=str(uuid.uuid4()),
            course_id=course.id,
            course_version=course.version,
            institution=course.lead,
            opened_by=principal.subject,
            **body.model_dump(exclude={"course_id", "course_version"}),
        )
        uow.session.add(offering)
        # The contract names its fields as the table does; it ignores those it does not carry (who opened it, when).
        uow.publish(
            OfferingOpened.model_validate(columns(offering) | {"offering_id": offering.id, "title": course.title})
        )
        await uow.commit()
    return await get_offering(offering.id, uow, view)


@router.get("", summary="Search the offerings of every member of the alliance, this node's included, a page at a time")
async def search_offerings(
    search: Annotated[OfferingSearch, Query()], uow: UnitOfWorkDep, view: AllianceViewDep
) -> OfferingPage:
    return await find(uow, search, view)


@router.get("/{offering_id}", summary="An offering of this node, or of another member of the alliance")
async def get_offering(offering_id: str, uow: UnitOfWorkDep, view: AllianceViewDep) -> OfferingPublic:
    async with uow:
        with refusals():
            return public(await queries.offering(uow.session, offering_id, view.shown()), view)
