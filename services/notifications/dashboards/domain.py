"""Plain rules of the dashboards: which university an event concerns, what of it a viewer may see, and how an event
is written on the stream."""

import collections
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


AGGREGATE_FIELDS = ("offering_id", "course_id", "programme_id")


def aggregate_ids(event: Event) -> list[str]:
    """The ids whose university tells the event's university, most specific first."""
    # Asked of the contract's fields: a pydantic model answers a missing attribute by raising, which cost a cohort's
    # dashboards 3 % of notifications' CPU.
    fields = type(event).model_fields
    return [value for name in AGGREGATE_FIELDS if name in fields and (value := getattr(event, name))]


def about_event_id(event: Event) -> str | None:
    """The event an email was about (NotificationSent, NotificationFailed): its university is the email's."""
    return getattr(event, "about_event_id") if "about_event_id" in type(event).model_fields else None


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


# --- the figures, kept as events arrive (figures.py writes and reads them) ---

T = "eu.microcredentials."
LEARNER_ENROLLED, LEARNER_WAITLISTED = f"{T}enrolment.learner.enrolled.v1", f"{T}enrolment.learner.waitlisted.v1"
ENROLMENT_WITHDRAWN, OFFERING_OPENED = f"{T}enrolment.enrolment.withdrawn.v1", f"{T}catalogue.offering.opened.v1"
GRADE_RECORDED, CREDENTIAL_ISSUED = f"{T}assessment.grade.recorded.v1", f"{T}certification.credential.issued.v1"
NOTIFICATION_SENT, NOTIFICATION_FAILED = f"{T}notifications.notification.sent.v1", f"{T}notifications.notification.failed.v1"
# Times from grade to credential are counted in buckets 1 % wide, from which the median is read.
BUCKET_GROWTH = 1.01


@dataclass
class FigureChanges:
    """What a transaction's events add to the figures; keys use "" for an unknown university (a primary key cannot
    hold NULL)."""

    offerings_opened: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (offering id, "applications" | "enrolled" | "waitlisted") -> change
    offerings: collections.Counter = field(default_factory=collections.Counter)
    # (course id, university, "graded" | "passed") -> change
    pass_rates: collections.Counter = field(default_factory=collections.Counter)
    # (university, "YYYY-MM") -> credentials issued
    credentials: collections.Counter = field(default_factory=collections.Counter)
    # (learner id, course id) -> when they last passed
    passes: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # (learner id, course id, university, when issued) of each credential
    issued: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    # (university, "sent" | "failed") -> change
    emails: collections.Counter = field(default_factory=collections.Counter)


def tally(changes: FigureChanges, event_type: str, data: dict[str, Any], university: str | None, time: datetime) -> None:
    """Count one event into the figures: the rules the dashboards' figures follow."""
    where = university or ""
    offering = data.get("offering_id")
    if event_type == OFFERING_OPENED:
        changes.offerings_opened[data["offering_id"]] = {
            "title": data.get("title"), "university": university, "capacity": data.get("capacity"),
        }
    elif event_type == LEARNER_ENROLLED and offering:
        promoted = bool(data.get("promoted_from_waitlist"))
        changes.offerings[(offering, "enrolled")] += 1
        changes.offerings[(offering, "waitlisted" if promoted else "applications")] += -1 if promoted else 1
    elif event_type == LEARNER_WAITLISTED and offering:
        changes.offerings[(offering, "applications")] += 1
        changes.offerings[(offering, "waitlisted")] += 1
    elif event_type == ENROLMENT_WITHDRAWN and offering:
        changes.offerings[(offering, "enrolled" if data.get("was_enrolled") else "waitlisted")] -= 1
    elif event_type == GRADE_RECORDED:
        changes.pass_rates[(data["course_id"], where, "graded")] += 1
        if data.get("passed"):
            changes.pass_rates[(data["course_id"], where, "passed")] += 1
            key = (data["learner_id"], data["course_id"])
            changes.passes[key] = max(time, changes.passes.get(key, time))
    elif event_type == CREDENTIAL_ISSUED:
        changes.credentials[(university or "unknown", time.astimezone(UTC).strftime("%Y-%m"))] += 1
        changes.issued.append((data["learner_id"], data["course_id"], where, time))
    elif event_type in (NOTIFICATION_SENT, NOTIFICATION_FAILED):
        changes.emails[(where, "sent" if event_type == NOTIFICATION_SENT else "failed")] += 1


def bucket_of(seconds: float) -> int:
    """The bucket of a time from grade to credential (0: under 10 ms)."""
    return max(0, math.ceil(math.log(max(seconds, 0.01) / 0.01, BUCKET_GROWTH)))


def seconds_of(bucket: int) -> float:
    """The upper bound of a bucket: within 1 % of any time in it."""
    return 0.01 * BUCKET_GROWTH**bucket
