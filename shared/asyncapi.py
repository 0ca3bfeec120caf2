"""AsyncAPI 3.0 documents generated from the code: what each service publishes (the event types of its contract
module, `shared.events.<service>`) and what it consumes (the types it has handlers for), with their JSON Schemas.

Each service serves its own at `/asyncapi.json`; `python -m shared.asyncapi` writes the whole node's to stdout.
"""

import importlib
import inspect
import json
import sys
from collections.abc import Iterable
from typing import Any

from shared.events import CONTENT_TYPE, Event, topic_name
from shared.events.topics import is_family
from shared.settings import ServiceSettings


def published_by(service_name: str) -> list[type[Event]]:
    """The event types a service publishes: by design, exactly those of its own contract module."""
    try:
        module = importlib.import_module(f"shared.events.{service_name}")
    except ModuleNotFoundError:
        return []
    return [
        cls for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, Event) and "type" in cls.__dict__ and cls.__module__ == module.__name__
    ]


def _message_name(event_class: type[Event]) -> str:
    return event_class.__name__


def document(
    title: str, settings: ServiceSettings, services: Iterable[tuple[str, Iterable[type[Event]]]]
) -> dict[str, Any]:
    """An AsyncAPI 3.0 document for services given as (name, event types it consumes)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    def message(event_class: type[Event]) -> dict[str, str]:
        name = _message_name(event_class)
        # Nested models become shared component schemas, so that their $refs resolve within the document.
        payload = event_class.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(payload.pop("$defs", {}))
        messages[name] = {
            "name": event_class.type,
            "title": name,
            "summary": (event_class.__doc__ or "").strip().split("\n")[0] or name,
            "contentType": CONTENT_TYPE,
            "payload": {"description": "A CloudEvents 1.0 structured-mode event; `data` has this schema.", **payload},
        }
        channel = str(event_class.topic)
        channels.setdefault(channel, {"address": topic_name(event_class.topic, settings.topic_prefix), "messages": {}})
        if is_family(channel):
            channels[channel]["parameters"] = {"lms": {"description": "the LMS's id in the node's LMS registry"}}
        channels[channel]["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        return {"$ref": f"#/channels/{channel}/messages/{name}"}

    for service_name, consumed in services:
        for action, classes in (("send", published_by(service_name)), ("receive", list(consumed))):
            for event_class in classes:
                reference = message(event_class)
                operations[f"{service_name}.{action}.{_message_name(event_class)}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{event_class.topic}"},
                    "messages": [reference],
                    "summary": f"{service_name} {'publishes' if action == 'send' else 'consumes'} {event_class.type}",
                }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1", "description": "Events of a micro-credentials node."},
        "defaultContentType": CONTENT_TYPE,
        "servers": {"kafka": {"host": settings.kafka_bootstrap_servers, "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def main() -> None:
    from services.assessment.app import create_service as assessment
    from services.catalogue.app import create_service as catalogue
    from services.certification.app import create_service as certification
    from services.enrolment.app import create_service as enrolment
    from services.notifications.app import create_service as notifications

    definitions = [factory() for factory in (catalogue, enrolment, assessment, certification, notifications)]
    node = document(
        "Micro-credentials node",
        ServiceSettings(),
        [(d.settings.service_name, d.handlers) for d in definitions],
    )
    json.dump(node, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()

