"""HTTP routes of the gateway: what it does on the alliance bus, for the node's operators (public: it is about no one)."""

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.alliance.bus import BusState
from shared.alliance import registry_in_use

router = APIRouter(tags=["alliance bus"])


class BusStatus(BaseModel):
    node: str | None = Field(description="This node's id in the alliance registry (ALLIANCE_NODE_ID).")
    alliance: str | None = Field(description="The alliance of the registry in use.")
    registry_serial: int | None
    connected: bool = Field(description="Reading the members' catalogues and publishing the node's on the bus.")
    waiting_for: str | None = Field(description="Why it is not connected yet.")
    outbox_backlog: int | None = Field(description="Listings of this node not yet published on the bus.")
    members: list[str] = Field(description="The other nodes whose catalogues it takes in.")


@router.get("/bus", summary="The gateway on the alliance bus: connected or waiting, and for what")
async def bus_status(request: Request) -> BusStatus:
    settings = request.app.state.settings
    status = getattr(request.app.state, "bus", None) or BusState(settings.alliance_node_id)
    registry = registry_in_use(request.app.state)
    backlog = await status.relay.backlog() if status.relay else None
    return BusStatus(
        node=status.node,
        alliance=registry.alliance.name if registry else None,
        registry_serial=registry.serial if registry else None,
        connected=status.connected,
        waiting_for=status.waiting_for,
        outbox_backlog=backlog,
        members=sorted(node.id for node in registry.nodes if node.id != status.node) if registry else [],
    )
