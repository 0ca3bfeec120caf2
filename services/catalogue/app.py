"""The catalogue's app factory."""

from pathlib import Path

from fastapi import FastAPI

from services.catalogue import catalogue_page, listings, offerings
from services.catalogue.consents import Consenting
from services.catalogue.handlers import event_handlers
from services.catalogue.routes import create_router
from services.catalogue.settings import CatalogueSettings
from shared import service
from shared.alliance import RegistryInUse
from shared.events import Topic


def create_service(settings: CatalogueSettings | None = None) -> service.Service:
    settings = settings or CatalogueSettings()
    registry = RegistryInUse()
    consenting = Consenting(settings, registry)
    return service.Service(
        settings=settings,
        title="Catalogue",
        description=(
            "Micro-credential descriptions with every Annex I element, their quality assurance (four eyes) and "
            "versions; offerings, programmes, and the public catalogue page (`/catalogue`), with the listings of the "
            "alliance's other members beside the node's own; joint courses approved only with each partner's consent, given "
            "at the partner's own node (`/consents`). Reads are public; writes need a bearer token."
        ),
        migrations=Path(__file__).parent / "migrations",
        routers=[create_router(settings, consenting), offerings.router, listings.router, catalogue_page.router],
        handlers=event_handlers(consenting),
        consumes=[Topic.AVAILABILITY, Topic.ALLIANCE_LISTINGS, Topic.ALLIANCE_INCOMING],
        background=[registry.bind, consenting.ask_again_on_schedule],
    )


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    return service.create_app(create_service(settings))
