"""The published contract a node is judged by, read from its files (never from this project's Python models), so that a
node written in any language is held to exactly what is published:

- `shared/events/schemas/<type>.json`: the JSON Schema of each event type's `data`;
- `shared/events/topics.json`: which types each topic carries (its producer's);
- `services/certification/vc/schemas/`: 1EdTech's Open Badges 3.0 JSON Schemas, pinned, for credentials.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator, Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
EVENT_SCHEMAS = ROOT / "shared" / "events" / "schemas"
TOPIC_INDEX = ROOT / "shared" / "events" / "topics.json"
OPEN_BADGES_SCHEMAS = ROOT / "services" / "certification" / "vc" / "schemas"
ACHIEVEMENT_CREDENTIAL = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_CREDENTIAL = "ob_v3p0_endorsementcredential_schema.json"


@dataclass(frozen=True)
class EventContract:
    # Event type -> JSON Schema of its data.
    schemas: Mapping[str, dict[str, Any]]
    # Topic (named without a deployment's prefix; a family such as `mc.lms.{lms}.grade-submissions` as its template)
    # -> the event types it carries.
    topics: Mapping[str, frozenset[str]]

    def node_topics(self) -> list[str]:
        """The topics a node's own services publish on (the families are the LMSs' inbound topics)."""
        return sorted(topic for topic in self.topics if "{" not in topic)

    def topics_of(self, event_type: str) -> list[str]:
        """The topics a type travels on: one, or two for a message a node addresses to a partner (it leaves on
        `mc.alliance.outgoing`, arrives on the partner's `mc.alliance.incoming`)."""
        return sorted(topic for topic, types in self.topics.items() if event_type in types)

    def data_problems(self, event_type: str, data: Any) -> list[str]:
        """Where `data` breaks the type's JSON Schema ('data.learner: 'email' is a required property', ...)."""
        return [
            f"data{''.join(f'.{part}' for part in error.absolute_path)}: {error.message}"
            for error in sorted(_validator(event_type).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        ]


@cache
def events() -> EventContract:
    schemas = {path.name.removesuffix(".json"): json.loads(path.read_text()) for path in EVENT_SCHEMAS.glob("*.json")}
    topics = {topic: frozenset(types) for topic, types in json.loads(TOPIC_INDEX.read_text()).items()}
    return EventContract(schemas=schemas, topics=topics)


@cache
def _validator(event_type: str) -> Draft202012Validator:
    # Pydantic writes Draft 2020-12 schemas; formats (date-time, date, email) are checked too.
    return Draft202012Validator(events().schemas[event_type], format_checker=Draft202012Validator.FORMAT_CHECKER)


@cache
def _open_badges_validator(name: str) -> Draft201909Validator:
    schema = json.loads((OPEN_BADGES_SCHEMAS / name).read_text(encoding="utf-8"))
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def open_badges_problems(credential: Mapping[str, Any]) -> list[str]:
    """Where a credential breaks 1EdTech's Open Badges 3.0 schema for its type (an EndorsementCredential's, else an
    AchievementCredential's), and each embedded endorsement its own; empty when it validates."""
    name = ENDORSEMENT_CREDENTIAL if "EndorsementCredential" in credential.get("type", []) else ACHIEVEMENT_CREDENTIAL
    problems = [
        f"{name}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in _open_badges_validator(name).iter_errors(credential)
    ]
    for endorsement in credential.get("endorsement", []) if isinstance(credential.get("endorsement"), list) else []:
        problems.extend(open_badges_problems(endorsement))
    return problems
