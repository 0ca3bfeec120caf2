"""Plain rules of the dashboards: which university an event concerns, what of it a viewer may see, and how an event
is written on the stream."""

import json
from typing import Any

from shared.events import Event
from shared.events.catalogue import CourseApproved, OfferingOpened, ProgrammeApproved


def universities_named(event: Event) -> dict[str, str]:
    """Course, offering or programme ids this event ties to their lead university (learned from the catalogue)."""
    if isinstance(event, CourseApproved) and event.description.awarding_bodies[0].id:
        return {event.course_id: event.description.awarding_bodies[0].id}
    if isinstance(event, OfferingOpened) and event.institution:
        return {event.offering_id: event.institution, event.course_id: event.institution}
    if isinstance(event, ProgrammeApproved) and event.awarding_bodies[0].id:
        return {event.programme_id: event.awarding_bodies[0].id}
    return {}


def aggregate_ids(event: Event) -> list[str]:
    """The ids whose university tells the event's university, most specific first."""
    return [value for name in ("offering_id", "course_id", "programme_id") if (value := getattr(event, name, None))]


def about_event_id(event: Event) -> str | None:
    """The event an email was about (NotificationSent, NotificationFailed): its university is the email's."""
    return getattr(event, "about_event_id", None)


# What in an event's data tells who a learner is: their identity (name, email, ESI, home institution), their id, and
# the address an email went to. The CloudEvent's subject is the learner's id or address for some aggregates, and
# free text (a rejection's reason) may name them too.
LEARNER_DATA = ("learner", "learner_id", "recipient")
SOMEONE = "(a learner)"


def without_learners(document: dict[str, Any]) -> dict[str, Any]:
    """The stream's document for a viewer who may not see who the learners are: the facts, no one's identity."""
    data = document["data"]
    identity = data.get("learner") or {}
    names = {
        data.get("learner_id"), data.get("recipient"), identity.get("learner_id"), identity.get("email"),
        identity.get("name"), identity.get("esi"),
    } - {None, ""}
    kept = {key: value for key, value in data.items() if key not in LEARNER_DATA}
    return document | {"data": _unnamed(kept, names), "subject": _unnamed(document.get("subject"), names)}


def _unnamed(value: Any, names: set[str]) -> Any:
    """The value with every mention of the names replaced, however deep in it."""
    if isinstance(value, str):
        for name in sorted(names, key=len, reverse=True):  # An email before the id it may contain.
            value = value.replace(name, SOMEONE)
        return value
    if isinstance(value, dict):
        return {key: _unnamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_unnamed(item, names) for item in value]
    return value


def server_sent_event(sequence: int, document: dict[str, Any]) -> str:
    """One SSE frame, of the default `message` kind (the event's type is in its data): the id is where to resume."""
    return f"id: {sequence}\ndata: {json.dumps(document, separators=(',', ':'), default=str)}\n\n"
