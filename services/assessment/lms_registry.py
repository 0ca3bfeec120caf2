"""The LMS registry: which LMSs may send this node grades, and for which institutions each of them grades.

A JSON file (LMS_REGISTRY_FILE), written by the node's administrator with `python -m deploy.kafka_security lms add`
(which also gives the LMS its Kafka principal and topic) and read here:

    {"lms": [{"id": "moodle-saarland", "name": "Moodle of Saarland University", "institutions": ["uni-saarland"]}]}

Assessment reads it again whenever the file changes, so registering an LMS needs no restart.
"""

import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events.topics import LMS_ID


class RegisteredLms(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str = Field(min_length=1)
    # Institution codes, as in an awarding body's `id` (e.g. "uni-saarland"): the courses this LMS may grade.
    institutions: tuple[str, ...] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _lms_id(cls, value: str) -> str:
        if not LMS_ID.fullmatch(value):
            raise ValueError("an LMS id is lower-case letters, digits and dashes (it is part of a topic name)")
        return value


class LmsRegistry(BaseModel):
    model_config = ConfigDict(frozen=True)

    lms: tuple[RegisteredLms, ...] = ()

    def get(self, lms_id: str) -> RegisteredLms | None:
        return next((entry for entry in self.lms if entry.id == lms_id), None)

    def with_lms(self, entry: RegisteredLms) -> "LmsRegistry":
        """The registry with this LMS added, or replaced if it was there."""
        return LmsRegistry(lms=tuple(sorted([e for e in self.lms if e.id != entry.id] + [entry], key=lambda e: e.id)))

    def without(self, lms_id: str) -> "LmsRegistry":
        return LmsRegistry(lms=tuple(e for e in self.lms if e.id != lms_id))


def load(path: Path) -> LmsRegistry:
    """The registry in the file; an empty one when there is no file yet."""
    if not path.exists():
        return LmsRegistry()
    return LmsRegistry.model_validate_json(path.read_bytes())


def save(path: Path, registry: LmsRegistry) -> None:
    """Write the registry so that a reader sees the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(registry.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as file:
        file.write(text)
    os.chmod(file.name, 0o644)
    os.replace(file.name, path)


class RegistryFile:
    """The registry as the file says now: read again when the file changes (its modification time or size)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._seen: tuple[int, int] | None = None
        self._registry = LmsRegistry()

    def current(self) -> LmsRegistry:
        if self.path is None:
            return LmsRegistry()
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._registry = None, LmsRegistry()
            return self._registry
        if (stat.st_mtime_ns, stat.st_size) != self._seen:
            self._registry = load(self.path)
            self._seen = (stat.st_mtime_ns, stat.st_size)
        return self._registry
