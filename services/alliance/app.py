"""The alliance gateway's app factory: run by a node that belongs to an alliance (ALLIANCE_REGISTRY_URL,
ALLIANCE_NODE_ID), as its only client of the alliance's Kafka cluster."""

from pathlib import Path

from fastapi import FastAPI

from services.alliance.bus import alliance_bus
from services.alliance.handlers import node_handlers
from services.alliance.routes import router
from services.alliance.settings import AllianceSettings
from shared import service
from shared.alliance import RegistryInUse
from shared.events import Topic


def create_service(settings: AllianceSettings | None = None) -> service.Service:
    settings = settings or AllianceSettings()
    registry = RegistryInUse()
    return service.Service(
        settings=settings,
        title="Alliance gateway",
        description=(
            "The node's only client of the alliance's Kafka cluster: it lists the node's public catalogue (courses, "
            "offerings with their places, programmes) on `alliance.<node-id>.catalogue`, and takes in every other "
            "member's, checked against the alliance registry, for the node's catalogue (`mc.alliance.listings`). It "
            "sends what the node's services address to one partner (`mc.alliance.outgoing` -> "
            "`alliance.<node-id>.to.<partner>`) and takes in what partners address to it (-> `mc.alliance.incoming`)."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[router],
        handlers=node_handlers(settings.alliance_node_id, registry),
        consumes=[Topic.COURSES, Topic.OFFERINGS, Topic.PROGRAMMES, Topic.AVAILABILITY, Topic.ALLIANCE_OUTGOING],
        background=[registry.bind, alliance_bus],
    )


def create_app(settings: AllianceSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))


def missing_settings(settings: AllianceSettings) -> list[str]:
    """What a node needs to run its gateway at all."""
    needed = {"ALLIANCE_REGISTRY_URL": settings.alliance_registry_url, "ALLIANCE_NODE_ID": settings.alliance_node_id}
    return [name for name, value in needed.items() if not value]
