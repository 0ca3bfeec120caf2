"""Event contracts: one module per producing service (plus `lms` for what LMS integrations send in, and `alliance` for
what the nodes of an alliance tell each other through their gateways).

Importing this package registers every event type, so `parse_message` knows them all.
"""

from shared.events import alliance, assessment, catalogue, certification, enrolment, lms, notifications
from shared.events.envelope import (
    CONTENT_TYPE,
    EVENT_TYPES,
    CloudEvent,
    Event,
    InvalidEvent,
    is_known_kind,
    parse_data,
    parse_envelope,
    parse_message,
)
from shared.events.topics import Topic, dead_letter_topic, topic_name

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "CloudEvent",
    "Event",
    "InvalidEvent",
    "Topic",
    "alliance",
    "assessment",
    "catalogue",
    "certification",
    "dead_letter_topic",
    "enrolment",
    "is_known_kind",
    "lms",
    "notifications",
    "parse_data",
    "parse_envelope",
    "parse_message",
    "topic_name",
]
