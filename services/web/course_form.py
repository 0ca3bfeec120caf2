"""The course designer's form, as plain functions (no I/O): a micro-credential's description (the catalogue's
MicroCredentialDescription, shared/events/catalogue.py) written as flat HTML form fields and read back, and the
catalogue's refusals (FastAPI's validation errors and its policy rules, the same shape) put next to the fields they
are about.

Lists are one item a line in a textarea (languages: codes separated by commas or spaces); awarding bodies are rows
of fields named `awarding_bodies-<n>-<part>`, empty rows ignored, the first the lead. A value the form cannot read
(a number that is not one) is left out of the description and reported next to its field, so that the catalogue
still says everything else it finds wrong in the same answer.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.events.catalogue import (
    Access,
    CurriculumInclusion,
    FormOfParticipation,
    Funding,
    IdentityVerification,
    Pace,
    Stackability,
)

# Sections of the form, each with its fields in the order shown (the template lays them out; tests walk them).
TEXTS = ("title", "short_description", "type_of_assessment", "type_of_quality_assurance", "prerequisites", "contact",
         "faculty", "participants_obligations", "funding_note", "application_and_selection", "recognition_of_results",
         "sustainability", "student_support", "teacher_support", "infrastructure", "qa_data_collected")
LINES = ("learning_outcomes", "target_groups", "literature", "competences", "skills", "course_leaders", "lecturers",
         "prerequisite_course_ids")
NUMBERS = ("ects", "workload_hours")
WHOLE_NUMBERS = ("eqf_level", "max_participants")
CHOICES = {
    "form_of_participation": FormOfParticipation,
    "identity_verification": IdentityVerification,
    "stackability": Stackability,
    "pace": Pace,
    "access": Access,
    "funding": Funding,
}
AWARDING_BODY_PARTS = ("id", "name", "country", "url")
# Empty rows offered for further awarding bodies (a page without JavaScript cannot add rows).
SPARE_AWARDING_BODIES = 2


@dataclass
class Problems:
    """What is wrong, by form field (the words of the rule), and what belongs to no field."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, rule: str) -> None:
        if name is None:
            self.general.append(rule)
        else:
            self.by_field.setdefault(name, []).append(rule)

    def __bool__(self) -> bool:
        return bool(self.by_field or self.general)


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read(form: Mapping[str, Any], multi: Mapping[str, list[str]]) -> tuple[dict[str, Any], Problems]:
    """The description the form states (what is left empty is left out), and what the form itself cannot read.
    `multi` holds the fields sent several times (checkboxes)."""
    description: dict[str, Any] = {}
    problems = Problems()
    for name in TEXTS:
        if text := _text(form, name):
            description[name] = text
    for name in LINES:
        description[name] = _lines(_text(form, name))
    description["languages"] = [code.lower() for code in _text(form, "languages").replace(",", " ").split()]
    for name in NUMBERS + WHOLE_NUMBERS:
        if not (text := _text(form, name)):
            continue
        try:
            number = float(text.replace(",", ".")) if name in NUMBERS else int(text)
        except ValueError:
            problems.add(name, "a whole number" if name in WHOLE_NUMBERS else "a number, such as 5 or 7.5")
            continue
        description[name] = int(number) if isinstance(number, float) and number.is_integer() else number
    for name in CHOICES:
        if text := _text(form, name):
            description[name] = text
    description["curriculum_inclusion"] = [value for value in multi.get("curriculum_inclusion", []) if value]
    description["accepts_declared_qualification"] = _text(form, "accepts_declared_qualification") == "yes"
    bodies = []
    for row in range(awarding_body_rows(form)):
        body = {part: _text(form, f"awarding_bodies-{row}-{part}") for part in AWARDING_BODY_PARTS}
        if any(body.values()):
            # Name and country are required: an empty one is sent as it is, so the catalogue says so at its field.
            bodies.append(body | {"id": body["id"] or None, "url": body["url"] or None,
                                  "country": body["country"].upper()})
    description["awarding_bodies"] = bodies
    return description, problems


def awarding_body_rows(form: Mapping[str, Any]) -> int:
    rows = {int(name.split("-")[1]) for name in form if name.startswith("awarding_bodies-")
            and name.split("-")[1].isdigit() and len(name.split("-")) == 3}
    return min(max(rows, default=-1) + 1, 20)


def values(description: Mapping[str, Any] | None) -> dict[str, Any]:
    """What each form field shows for a description (a saved one, or what was just sent back to be corrected)."""
    d = dict(description or {})
    shown: dict[str, Any] = {name: d.get(name) or "" for name in TEXTS}
    shown |= {name: "\n".join(d.get(name) or []) for name in LINES}
    shown["languages"] = ", ".join(d.get("languages") or [])
    shown |= {name: "" if d.get(name) is None else d[name] for name in NUMBERS + WHOLE_NUMBERS}
    shown |= {name: d.get(name) or "" for name in CHOICES}
    shown["curriculum_inclusion"] = list(d.get("curriculum_inclusion") or [])
    shown["accepts_declared_qualification"] = bool(d.get("accepts_declared_qualification"))
    bodies = [dict(body) for body in d.get("awarding_bodies") or []]
    shown["awarding_bodies"] = bodies + [{} for _ in range(SPARE_AWARDING_BODIES)]
    return shown


def blank(institution: str | None) -> dict[str, Any]:
    """A new description: the designer's own institution as the lead awarding body, stand-alone."""
    return {"awarding_bodies": [{"id": institution}] if institution else [], "stackability": "stand-alone"}


def field_of(location: Iterable[str | int]) -> str | None:
    """The form field an error's location (`body.description.awarding_bodies.0.country`) is about; None when it is
    about the description as a whole."""
    parts = [part for part in location if part not in ("body", "description")]
    if not parts:
        return None
    name = str(parts[0])
    if name == "awarding_bodies" and len(parts) >= 3:
        return f"awarding_bodies-{parts[1]}-{parts[2]}"
    return name


def refusals(errors: Iterable[Mapping[str, Any]], problems: Problems | None = None) -> Problems:
    """The catalogue's refusals (each with `loc` and `msg`, as FastAPI and the policy rules give them) by field."""
    problems = problems or Problems()
    for error in errors:
        problems.add(field_of(error.get("loc") or []), str(error.get("msg") or error))
    return problems


CURRICULUM_INCLUSIONS = tuple(CurriculumInclusion)
