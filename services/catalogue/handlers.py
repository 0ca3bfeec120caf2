"""The catalogue consumes no events: it is where course descriptions originate."""

from shared.consumer import Handler
from shared.events import Event


def event_handlers() -> dict[type[Event], Handler]:
    return {}
