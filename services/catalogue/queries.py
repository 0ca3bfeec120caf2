"""What the catalogue reads from its database, in SQL: versions, listings, and the learners' search over the alliance's
catalogue, this node's courses, offerings and programmes and the other members' (services/catalogue/alliance.py)
together, with the same filters for both."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    tuple_,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalogue.domain import R
from services.catalogue.models import (
    Course,
    CourseSearch,
    MemberCourse,
    MemberListing,
    MemberOffering,
    MemberProgramme,
    Offering,
    OfferingPlaces,
    OfferingSearch,
    Programme,
    Reviewed,
    Search,
    Status,
)


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


async def version(session: AsyncSession, model: type[R], item_id: str, number: int, lock: bool = False) -> R:
    found = await session.get(model, (item_id, number), with_for_update=lock)
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
    """Which of these courses exist (this node's, or listed by another member), and the ECTS of the newest approved
    version of those that have one."""
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
    # Courses the other members list on the alliance bus stack too (their credentials are presented by the learner:
    # services/certification/presented_parts.py); a listing is always of an approved version.
    listed = await session.exec(
        select(MemberCourse.course_id, MemberCourse.description["ects"].as_float()).where(
            MemberCourse.course_id.in_([course_id for course_id in course_ids if course_id not in existing]),
            MemberCourse.delisted_at.is_(None),
        )
    )
    for course_id, credits in listed.all():
        existing.add(course_id)
        ects[course_id] = credits
    return existing, ects


# --- the alliance's catalogue: this node's listings and the other members', one search over both ---
#
# Each search is a UNION ALL of this node's rows and the members' rows, projected to the same columns (`node` is NULL
# for this node's), with the filters applied to the union: the same filters mean the same for both. The members' rows
# are those the registry in use shows (`shown`: (node, institution) pairs, see alliance.AllianceView).

Shown = Sequence[tuple[str, str]]


def _no_node() -> ColumnElement[Any]:
    return cast(null(), String).label("node")


def _shown(listing: type[MemberListing], shown: Shown) -> ColumnElement[bool]:
    on_offer = listing.delisted_at.is_(None)
    if not shown:
        return false()
    return and_(on_offer, tuple_(listing.node, listing.institution).in_(list(shown)))


def _description_filters(listed: Subquery, search: CourseSearch) -> list[ColumnElement[bool]]:
    """What a course's description must say (the university is an awarding body's)."""
    description = listed.c.description
    where = _title_and_university(listed, search)
    if search.language:
        # Containment of the whole description, so that a GIN index on it can serve the filter.
        where.append(description.contains({"languages": [search.language.lower()]}))
    if search.ects_min is not None:
        where.append(description["ects"].as_float() >= search.ects_min)
    if search.ects_max is not None:
        where.append(description["ects"].as_float() <= search.ects_max)
    if search.eqf_level is not None:
        where.append(description["eqf_level"].as_integer() == search.eqf_level)
    if search.target_group:
        group = func.jsonb_array_elements_text(description["target_groups"]).table_valued("value")
        where.append(exists().select_from(group).where(group.c.value.icontains(search.target_group, autoescape=True)))
    if search.skill:
        where.append(description.contains({"skills": [search.skill]}))
    return where


def _title_and_university(listed: Subquery, search: Search) -> list[ColumnElement[bool]]:
    where = []
    if search.university:
        where.append(listed.c.institutions.contains([search.university]))
    if search.q:
        where.append(listed.c.title.icontains(search.q, autoescape=True))
    return where


async def _page(
    session: AsyncSession,
    listed: Subquery,
    key: str,
    where: list[ColumnElement[bool]],
    order: list[Any],
    search: Search,
) -> tuple[list[Row[Any]], int]:
    """One page of the rows that match, and how many match.

    In two steps, so that the search itself sorts and counts narrow rows (`key` and `node`) rather
    than every match's whole description: first the page's keys with the count of all matches beside them, then the
    page's whole rows, by key."""
    ident, node = listed.c[key], listed.c.node
    narrow = (
        sa_select(ident, node, func.count().over().label("total"))
        .where(*where)
        .order_by(*order)
        .limit(search.page_size)
        .offset((search.page - 1) * search.page_size)
    )
    keys = (await session.execute(narrow)).all()
    if not keys:  # No match, or a page past the last: only the count is left to find.
        total = (await session.execute(sa_select(func.count()).select_from(listed).where(*where))).scalar_one()
        return [], total
    rows = {
        (row._mapping[key], row.node): row
        for row in await session.execute(sa_select(listed).where(ident.in_([found[0] for found in keys])))
    }
    # A row retired or delisted between the two reads is left out rather than failing the page.
    return [rows[found[0], found[1]] for found in keys if (found[0], found[1]) in rows], keys[0].total


def _offerings(shown: Shown) -> Subquery:
    """Every offering on offer: this node's (its course version not retired) with their places, the members'."""
    own = (
        sa_select(
            Offering.id.label("id"),
            _no_node(),
            Offering.course_id,
            Offering.course_version,
            Course.description["title"].astext.label("title"),
            Offering.institution,
            Course.institutions.label("institutions"),
            Course.description.label("description"),
            Offering.delivery_mode,
            Offering.pace,
            Offering.starts_on,
            Offering.ends_on,
            Offering.registration_opens_at,
            Offering.registration_closes_at,
            Offering.capacity,
            Offering.fee,
            Offering.open_to,
            Offering.opened_by,
            Offering.created_at,
            Course.status.label("course_status"),
            # Until enrolment has told of an application, every place is free.
            func.coalesce(OfferingPlaces.enrolled, 0).label("enrolled"),
            func.coalesce(OfferingPlaces.waitlisted, 0).label("waitlisted"),
            case((OfferingPlaces.offering_id.is_(None), Offering.capacity), else_=OfferingPlaces.places_left).label(
                "places_left"
            ),
        )
        .select_from(Offering)
        .join(Course, and_(Course.id == Offering.course_id, Course.version == Offering.course_version))
        .outerjoin(OfferingPlaces, OfferingPlaces.offering_id == Offering.id)
        .where(Course.status != Status.RETIRED)
    )
    members = sa_select(
        MemberOffering.offering_id,
        MemberOffering.node,
        MemberOffering.course_id,
        MemberOffering.course_version,
        MemberOffering.description["title"].astext,
        MemberOffering.institution,
        MemberOffering.institutions,
        MemberOffering.description,
        MemberOffering.delivery_mode,
        MemberOffering.pace,
        MemberOffering.starts_on,
        MemberOffering.ends_on,
        MemberOffering.registration_opens_at,
        MemberOffering.registration_closes_at,
        MemberOffering.capacity,
        MemberOffering.fee,
        MemberOffering.open_to,
        cast(null(), String),
        MemberOffering.listed_at,
        literal(Status.APPROVED.value, String),
        MemberOffering.enrolled,
        MemberOffering.waitlisted,
        MemberOffering.places_left,
    ).where(_shown(MemberOffering, shown))
    return union_all(own, members).subquery("offerings_listed")


async def search_offerings(
    session: AsyncSession, search: OfferingSearch, now: datetime, shown: Shown = ()
) -> tuple[list[Row[Any]], int]:
    """One page of the matching offerings, those whose registration closes soonest first, and how many match."""
    listed = _offerings(shown)
    where = _description_filters(listed, search)
    if search.delivery_mode:
        where.append(listed.c.delivery_mode == search.delivery_mode)
    if search.pace:
        where.append(listed.c.pace == search.pace)
    if search.open_for_registration is not None:
        window = and_(listed.c.registration_opens_at <= now, listed.c.registration_closes_at > now)
        where.append(window if search.open_for_registration else not_(window))
    return await _page(session, listed, "id", where, [listed.c.registration_closes_at, listed.c.id], search)


async def offering(session: AsyncSession, offering_id: str, shown: Shown = ()) -> Row[Any]:
    """An offering of this node, or else of a member."""
    listed = _offerings(shown)
    query = sa_select(listed).where(listed.c.id == offering_id).order_by(listed.c.node.is_not(None)).limit(1)
    found = (await session.execute(query)).first()
    if found is None:
        raise LookupError(f"no offering {offering_id}")
    return found


def _newest_approved(model: type[R]) -> Any:
    """Each course or programme's newest approved version (a retired one is no longer approved)."""
    newest = select(model).where(model.status == Status.APPROVED).ext(distinct_on(model.id))
    return aliased(model, newest.order_by(model.id, model.version.desc()).subquery())


async def search_courses(session: AsyncSession, search: CourseSearch, shown: Shown = ()) -> tuple[list[Row[Any]], int]:
    """One page of the approved courses of this node and the members', by title."""
    course = _newest_approved(Course)
    own = sa_select(
        course.id.label("course_id"),
        _no_node(),
        course.version.label("version"),
        course.description["title"].astext.label("title"),
        course.institutions.label("institutions"),
        course.description.label("description"),
        course.reviewed_at.label("approved_at"),
    )
    members = sa_select(
        MemberCourse.course_id,
        MemberCourse.node,
        MemberCourse.version,
        MemberCourse.description["title"].astext,
        MemberCourse.institutions,
        MemberCourse.description,
        MemberCourse.approved_at,
    ).where(_shown(MemberCourse, shown))
    listed = union_all(own, members).subquery("courses_listed")
    order = [listed.c.title, listed.c.node.nulls_first(), listed.c.course_id]
    return await _page(session, listed, "course_id", _description_filters(listed, search), order, search)


async def search_programmes(session: AsyncSession, search: Search, shown: Shown = ()) -> tuple[list[Row[Any]], int]:
    """One page of the approved programmes of this node and the members', by title."""
    programme = _newest_approved(Programme)
    own = sa_select(
        programme.id.label("programme_id"),
        _no_node(),
        programme.version.label("version"),
        programme.title.label("title"),
        programme.description.label("description"),
        programme.institutions.label("institutions"),
        programme.awarding_bodies.label("awarding_bodies"),
        programme.rule.label("rule"),
        programme.reviewed_at.label("approved_at"),
    )
    members = sa_select(
        MemberProgramme.programme_id,
        MemberProgramme.node,
        MemberProgramme.version,
        MemberProgramme.title,
        MemberProgramme.description,
        MemberProgramme.institutions,
        MemberProgramme.awarding_bodies,
        MemberProgramme.rule,
        MemberProgramme.approved_at,
    ).where(_shown(MemberProgramme, shown))
    listed = union_all(own, members).subquery("programmes_listed")
    order = [listed.c.title, listed.c.node.nulls_first(), listed.c.programme_id]
    return await _page(session, listed, "programme_id", _title_and_university(listed, search), order, search)
