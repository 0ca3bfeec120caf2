"""The other members' listings in this node's catalogue, beside its own.

Kept from what the node's alliance gateway passes on (`mc.alliance.listings`: listings it accepted from the alliance
bus, see services/alliance), and the places of the node's own offerings from enrolment (`mc.enrolment.availability`).
Shown as the alliance registry in use says: a listing appears only while the registry lists its node as the host of
the institution it speaks for (a member removed from the registry disappears with the next registry), under that
member's legal name and country, with a link to register at the node that runs it. A node that follows no registry
shows its own catalogue only.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, Request

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import SQLModel
from starlette.datastructures import State

from services.catalogue.models import MemberCourse, MemberOffering, MemberProgramme, OfferingPlaces
from shared.alliance import AllianceRegistry, Node, NotAMember, registry_in_use
from shared.db import UnitOfWork, utcnow
from shared.events import CloudEvent
from shared.events.alliance import CourseDelisted, CourseListed, OfferingDelisted, OfferingListed, ProgrammeListed
from shared.events.enrolment import OfferingAvailabilityChanged

# An offering's own page at its node, on the node's public origin (the registry's base_url): the web front end's
# page of the offering (services/web/routes/public.py), where learners apply. Every node's catalogue sends them there.
OFFERING_PAGE = "/catalogue/{offering_id}"


@dataclass(frozen=True)
class AllianceView:
    """The registry in use, as the catalogue shows listings: whose, under which name, registered where."""

    registry: AllianceRegistry | None
    node_uri: str

    @classmethod
    def of(cls, state: State) -> "AllianceView":
        return cls(registry_in_use(state), state.settings.node_uri)

    @cached_property
    def own_node(self) -> Node | None:
        """This node in the registry (found by its event source), or None."""
        if self.registry is None:
            return None
        try:
            return self.registry.node_by_event_source(self.node_uri)
        except NotAMember:
            return None

    def shown(self) -> list[tuple[str, str]]:
        """(node, institution) of every member: the only listings of others that are shown."""
        return [(member.node, member.institution) for member in self.registry.members] if self.registry else []

    def runner(self, node: str | None, institution: str, description: dict[str, Any]) -> dict[str, Any]:
        """Who runs a listing, and where: the registry's word for a member, else what the description says of its
        lead awarding body. `node` is None for this node's own."""
        node = node or (self.own_node.id if self.own_node else None)
        if self.registry is not None and self.registry.is_member(institution):
            member = self.registry.member(institution)
            return {"node": node, "university": member.legal_name, "country": member.country}
        lead = next(iter(description.get("awarding_bodies") or []), {})
        return {"node": node, "university": lead.get("name", institution), "country": lead.get("country", "")}

    def registration_url(self, node: str | None, offering_id: str) -> str | None:
        """The offering's page at the node that runs it (this node's own, when the registry knows this node)."""
        at = self.own_node if node is None else self._node(node)
        if at is None:
            return None
        return at.base_url.rstrip("/") + OFFERING_PAGE.format(offering_id=offering_id)

    def _node(self, node_id: str) -> Node | None:
        try:
            return self.registry.node(node_id) if self.registry else None
        except NotAMember:
            return None


def alliance_view(request: Request) -> AllianceView:
    return AllianceView.of(request.app.state)


AllianceViewDep = Annotated[AllianceView, Depends(alliance_view)]


# --- keeping the listings (Kafka handlers call these) ---


async def _keep(uow: UnitOfWork, table: type[SQLModel], keys: list[str], values: dict[str, Any]) -> None:
    """The latest listing of a thing replaces the one kept (Kafka keeps a listing's messages in order), and brings a
    delisted one back; when it was first heard of stays."""
    changed = {name: value for name, value in values.items() if name not in keys} | {"delisted_at": None}
    await uow.session.execute(
        insert(table).values(**values).on_conflict_do_update(index_elements=keys, set_=changed)
    )


async def course_listed(event: CourseListed, envelope: CloudEvent, uow: UnitOfWork) -> None:
    values = event.model_dump(mode="json", include={"node", "course_id", "version", "institutions", "description"})
    await _keep(
        uow, MemberCourse, ["node", "course_id"],
        values | {"institution": event.institutions[0], "approved_at": event.approved_at},
    )


async def offering_listed(event: OfferingListed, envelope: CloudEvent, uow: UnitOfWork) -> None:
    values = event.model_dump(mode="json", exclude={"title"}) | {
        name: getattr(event, name)
        for name in ("registration_opens_at", "registration_closes_at", "starts_on", "ends_on")
    }
    await _keep(uow, MemberOffering, ["node", "offering_id"], values)


async def programme_listed(event: ProgrammeListed, envelope: CloudEvent, uow: UnitOfWork) -> None:
    values = event.model_dump(mode="json", exclude={"approved_at"})
    await _keep(
        uow, MemberProgramme, ["node", "programme_id"],
        values | {"institution": event.institutions[0], "approved_at": event.approved_at},
    )


async def course_delisted(event: CourseDelisted, envelope: CloudEvent, uow: UnitOfWork) -> None:
    await uow.session.execute(
        update(MemberCourse)
        .where(MemberCourse.node == event.node, MemberCourse.course_id == event.course_id)
        .values(delisted_at=utcnow())
    )


async def offering_delisted(event: OfferingDelisted, envelope: CloudEvent, uow: UnitOfWork) -> None:
    await uow.session.execute(
        update(MemberOffering)
        .where(MemberOffering.node == event.node, MemberOffering.offering_id == event.offering_id)
        .values(delisted_at=utcnow())
    )


async def places_changed(event: OfferingAvailabilityChanged, envelope: CloudEvent, uow: UnitOfWork) -> None:
    """The places of one of this node's own offerings (enrolment publishes every change, in order)."""
    values = event.model_dump(include={"offering_id", "capacity", "enrolled", "waitlisted", "places_left"})
    await uow.session.execute(
        insert(OfferingPlaces)
        .values(**values)
        .on_conflict_do_update(index_elements=["offering_id"], set_={k: v for k, v in values.items() if k != "offering_id"})
    )
