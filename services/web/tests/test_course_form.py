"""The course designer's form read into a catalogue description and back, and the catalogue's refusals put next to
the fields they are about."""

from services.catalogue.tests.samples import description, university
from services.web import course_form
from shared.events.catalogue import MicroCredentialDescription


def as_sent(values: dict) -> tuple[dict, dict]:
    """What a browser sends for a form showing `values` (awarding bodies as rows, checkboxes several times)."""
    form = {name: str(value) for name, value in values.items()
            if name not in ("awarding_bodies", "curriculum_inclusion", "accepts_declared_qualification")}
    for row, body in enumerate(values["awarding_bodies"]):
        for part in course_form.AWARDING_BODY_PARTS:
            form[f"awarding_bodies-{row}-{part}"] = body.get(part) or ""
    if values["accepts_declared_qualification"]:
        form["accepts_declared_qualification"] = "yes"
    return form, {"curriculum_inclusion": values["curriculum_inclusion"]}


def test_a_description_with_every_field_survives_the_form_unchanged() -> None:
    full = MicroCredentialDescription.model_validate(
        description(university("Saarland University"), university("Sofia University", "BG"),
                    prerequisite_course_ids=["course-1"], accepts_declared_qualification=True)
    ).model_dump(mode="json")
    read, problems = course_form.read(*as_sent(course_form.values(full)))
    assert not problems
    assert MicroCredentialDescription.model_validate(read).model_dump(mode="json") == full


def test_what_the_form_cannot_read_is_named_at_its_field_and_the_rest_is_still_sent() -> None:
    values = course_form.values(description(university("Saarland University")))
    form, multi = as_sent(values | {"workload_hours": "seventy", "max_participants": "30.5", "ects": "2,5"})
    read, problems = course_form.read(form, multi)
    assert problems.by_field == {"workload_hours": ["a number, such as 5 or 7.5"], "max_participants": ["a whole number"]}
    assert read["ects"] == 2.5 and "workload_hours" not in read and read["title"] == values["title"]


def test_the_catalogues_refusals_land_next_to_their_fields() -> None:
    problems = course_form.refusals([
        {"loc": ["body", "description", "funding_note"], "msg": "T4EU policy: say how other funding works"},
        {"loc": ["body", "description", "awarding_bodies", 1, "country"], "msg": "an ISO 3166-1 alpha-2 country code"},
        {"loc": ["body", "description", "languages", 0], "msg": "an ISO 639-1 language code"},
        {"loc": ["body", "description"], "msg": "Field required"},
    ])
    assert problems.by_field == {
        "funding_note": ["T4EU policy: say how other funding works"],
        "awarding_bodies-1-country": ["an ISO 3166-1 alpha-2 country code"],
        "languages": ["an ISO 639-1 language code"],
    }
    assert problems.general == ["Field required"]


def test_a_new_description_has_the_designers_institution_as_lead_and_room_for_partners() -> None:
    values = course_form.values(course_form.blank("uni-saarland"))
    assert values["awarding_bodies"][0] == {"id": "uni-saarland"}
    assert len(values["awarding_bodies"]) == 1 + course_form.SPARE_AWARDING_BODIES
    form, multi = as_sent(values)
    read, _ = course_form.read(form, multi)
    assert read["awarding_bodies"] == [{"id": "uni-saarland", "name": "", "country": "", "url": None}]
