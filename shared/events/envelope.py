"""The CloudEvents 1.0 envelope (structured JSON mode) and the base class of every event's data.

Every message on every topic is one JSON document: the CloudEvents attributes, the W3C `traceparent`
extension, and `data`, whose shape is fixed by the event's type. Any Kafka client can produce one.
"""

import functools
import re
import uuid
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.events.topics import Topic

CONTENT_TYPE = "application/cloudevents+json"

# type name -> data class; filled as contract modules are imported (see shared.events.__init__).
EVENT_TYPES: dict[str, type["Event"]] = {}

_Answer = TypeVar("_Answer", bound=Callable[..., Any])
_CACHES_OF_CONTRACTS: list[Any] = []


def cached_until_a_contract_registers(maxsize: int) -> Callable[[_Answer], _Answer]:
    """An lru_cache for answers read from the registered contracts (EVENT_TYPES), asked for every event consumed:
    emptied whenever a contract is registered, so that no answer misses a contract imported since."""

    def cached(function: _Answer) -> _Answer:
        answer = functools.lru_cache(maxsize=maxsize)(function)
        _CACHES_OF_CONTRACTS.append(answer)
        return answer  # type: ignore[return-value]

    return cached


class Contract(BaseModel):
    """Frozen, and tolerant of fields it does not know: a producer on a newer minor version may add some. Numbers are
    finite: JSON has no infinity (a body's 1e999 would be one), and neither has PostgreSQL's jsonb."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class Event(Contract):
    """The `data` of one CloudEvent. Subclasses name their type, their topic and the aggregate they are about."""

    type: ClassVar[str]
    topic: ClassVar[Topic]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            if cls.type in EVENT_TYPES:
                raise TypeError(f"event type {cls.type} is defined twice")
            EVENT_TYPES[cls.type] = cls
            for cache in _CACHES_OF_CONTRACTS:
                cache.cache_clear()

    @property
    def key(self) -> str:
        """The aggregate id: the Kafka key, so that events about one aggregate stay in order."""
        raise NotImplementedError

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:eu:microcredentials:schema:{cls.type}"


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(cls, event: Event, *, source: str, traceparent: str | None = None) -> "CloudEvent":
        return cls(
            id=str(uuid.uuid4()),
            source=source,
            type=event.type,
            time=datetime.now(UTC),
            subject=event.key,
            dataschema=event.dataschema(),
            traceparent=traceparent,
            data=event.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class InvalidEvent(ValueError):
    """A message that no retry can fix: not JSON, not a CloudEvent, an unknown type, or data breaking its contract."""


def _describe(error: ValidationError, prefix: str) -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(part) for part in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
    )


def parse_envelope(raw: bytes) -> CloudEvent:
    """The CloudEvent around a Kafka message value, or InvalidEvent naming what is wrong with it."""
    # One pass of pydantic's own JSON parser (json.loads then validating the dict walked the document twice).
    try:
        return CloudEvent.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] in ("json_invalid", "json_type") for e in error.errors()):
            raise InvalidEvent(f"not a JSON document: {error.errors()[0]['msg']}") from error
        raise InvalidEvent(f"not a CloudEvent: {_describe(error, '')}") from error


def parse_data(envelope: CloudEvent) -> Event:
    """The typed data of a CloudEvent, or InvalidEvent naming the type's rule it breaks."""
    data_class = EVENT_TYPES.get(envelope.type)
    if data_class is None:
        raise InvalidEvent(f"unknown event type {envelope.type!r}")
    try:
        return data_class.model_validate(envelope.data)
    except ValidationError as error:
        raise InvalidEvent(f"{envelope.type} breaks its contract: {_describe(error, 'data.')}") from error


def parse_message(raw: bytes) -> tuple[CloudEvent, Event]:
    envelope = parse_envelope(raw)
    return envelope, parse_data(envelope)


@cached_until_a_contract_registers(maxsize=1024)
def is_known_kind(event_type: str) -> bool:
    """A registered type, or another major version of one (a producer may publish `.v2` beside `.v1`).

    Asked for every event a consumer skips (another service's concern): answered once per type, not by a pattern
    substitution per registered type each time."""
    family = re.sub(r"\.v\d+$", "", event_type)
    return any(re.sub(r"\.v\d+$", "", known_type) == family for known_type in EVENT_TYPES)
