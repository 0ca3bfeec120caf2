"""What the catalogue reads from its database, in SQL: versions, listings and the learners' search over offerings."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, exists, func, not_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue.domain import R
from services.catalogue.models import Course, Offering, OfferingSearch, Reviewed, Status


def _noun(model: type[Reviewed]) -> str:
    return model.__name__.lower()


async def versions(session: AsyncSession, model: type[R], item_id: str, *, lock: bool = False) -> list[R]:
    """Every version of a course or programme, oldest first; with lock, none can change until the transaction ends."""
    query = select(model).where(model.id == item_id).order_by(model.version)
    if lock:
        query = query.with_for_update()
    found = list((await session.exec(query)).all())
    if not found:
        raise LookupError(f"no {_noun(model)} {item_id}")
    return found


async def latest(session: AsyncSession, model: type[R], item_id: str, *, lock: bool = False) -> R:
    """The newest version: the one the workflow acts on."""
    query = select(model).where(model.id == item_id).order_by(model.version.desc()).limit(1)
    if lock:
        query = query.with_for_update()
    found = (await session.exec(query)).first()
    if found is None:
        raise LookupError(f"no {_noun(model)} {item_id}")
    return found


async def version(session: AsyncSession, model: type[R], item_id: str, number: int) -> R:
    found = await session.get(model, (item_id, number))
    if found is None:
        raise LookupError(f"no {_noun(model)} {item_id} version {number}")
    return found


async def listing(session: AsyncSession, model: type[R], status: Status | None, institution: str | None) -> list[R]:
    """For each course or programme, its newest version (in that status, when one is asked for), oldest first."""
    newest = select(model).ext(distinct_on(model.id)).order_by(model.id, model.version.desc())
    if status is not None:
        newest = newest.where(model.status == status)
    if institution is not None:
        newest = newest.where(model.institutions.contains([institution]))
    row = aliased(model, newest.subquery())
    return list((await session.exec(select(row).order_by(row.created_at, row.id))).all())


async def approved_ects(session: AsyncSession, course_ids: Sequence[str]) -> tuple[set[str], dict[str, float]]:
    """Which of these courses exist, and the ECTS of the newest approved version of those that have one."""
    rows = await session.exec(
        select(Course.id, Course.status, Course.description["ects"].as_float())
        .where(Course.id.in_(list(course_ids)))
        .order_by(Course.version)
    )
    existing: set[str] = set()
    ects: dict[str, float] = {}
    for course_id, status, credits in rows.all():
        existing.add(course_id)
        if status == Status.APPROVED:
            ects[course_id] = credits
    return existing, ects


def _with_course() -> Select[tuple[Offering, Course]]:
    return sa_select(Offering, Course).join(
        Course, and_(Course.id == Offering.course_id, Course.version == Offering.course_version)
    )


def _offerings(search: OfferingSearch, now: datetime) -> Select[tuple[Offering, Course]]:
    """The offerings the search asks for, each with its course version; retired courses are no longer on offer."""
    description = Course.description
    query = _with_course().where(Course.status != Status.RETIRED)
    if search.university:
        query = query.where(Course.institutions.contains([search.university]))
    if search.language:
        # Containment of the whole description, so that the GIN index on it serves the filter.
        query = query.where(description.contains({"languages": [search.language.lower()]}))
    if search.ects_min is not None:
        query = query.where(description["ects"].as_float() >= search.ects_min)
    if search.ects_max is not None:
        query = query.where(description["ects"].as_float() <= search.ects_max)
    if search.eqf_level is not None:
        query = query.where(description["eqf_level"].as_integer() == search.eqf_level)
    if search.delivery_mode:
        query = query.where(Offering.delivery_mode == search.delivery_mode)
    if search.pace:
        query = query.where(Offering.pace == search.pace)
    if search.target_group:
        group = func.jsonb_array_elements_text(description["target_groups"]).table_valued("value")
        query = query.where(
            exists().select_from(group).where(group.c.value.icontains(search.target_group, autoescape=True))
        )
    if search.skill:
        query = query.where(description.contains({"skills": [search.skill]}))
    if search.q:
        query = query.where(description["title"].astext.icontains(search.q, autoescape=True))
    if search.open_for_registration is not None:
        window = and_(Offering.registration_opens_at <= now, Offering.registration_closes_at > now)
        query = query.where(window if search.open_for_registration else not_(window))
    return query


async def search_offerings(
    session: AsyncSession, search: OfferingSearch, now: datetime
) -> tuple[list[tuple[Offering, Course]], int]:
    """One page of the matching offerings, those whose registration closes soonest first, and how many match."""
    query = _offerings(search, now)
    total = (await session.execute(sa_select(func.count()).select_from(query.subquery()))).scalar_one()
    page = (
        query.order_by(Offering.registration_closes_at, Offering.id)
        .limit(search.page_size)
        .offset((search.page - 1) * search.page_size)
    )
    return [(offering, course) for offering, course in (await session.execute(page)).all()], total


async def offering(session: AsyncSession, offering_id: str) -> tuple[Offering, Course]:
    found = (await session.execute(_with_course().where(Offering.id == offering_id))).first()
    if found is None:
        raise LookupError(f"no offering {offering_id}")
    return found[0], found[1]
