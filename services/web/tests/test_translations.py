"""Every page's words exist in every language: the catalogs hold each string of the templates and the code,
translated, with the same placeholders; dates and numbers are written each language's way."""

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from services.web.domain import LANGUAGES
from services.web.i18n import TRANSLATIONS, Formats, extract, read_catalog

TRANSLATED = LANGUAGES[1:]


def ids(catalog) -> set:  # type: ignore[no-untyped-def]
    return {message.id if isinstance(message.id, str) else tuple(message.id) for message in catalog if message.id}


def test_the_template_catalog_holds_every_string_of_the_pages() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        stored = read_po(file)
    assert ids(extract()) == ids(stored), "run `python -m services.web.i18n update` and translate the new entries"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated_with_the_same_placeholders(language: str) -> None:
    catalog = read_catalog(language)
    assert ids(catalog) == ids(extract()), f"{language}: run `python -m services.web.i18n update`"
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))]
    assert untranslated == [], f"{language}: not translated yet"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check() if errors]
    assert problems == [], f"{language}: placeholders differ from the English"


def test_lithuanian_has_its_three_plural_forms() -> None:
    catalog = read_catalog("lt")
    assert catalog.num_plurals == 3
    offerings = catalog[("%(num)s offering found.", "%(num)s offerings found.")]
    assert len(set(offerings.string)) == 3


@pytest.mark.parametrize(
    "language, day, moment, money",
    [
        ("en", "14 December 2026", "14 Dec 2026, 18:00 CET", "€120.00"),
        ("de", "14. Dezember 2026", "14. Dez. 2026, 18:00 CET", "120,00\xa0€"),
        ("fr", "14 décembre 2026", "14 déc. 2026, 18:00 CET", "120,00\u202f€"),
        ("bg", "14 декември 2026\xa0г.", "14.12.2026\xa0г., 18:00 CET", "120,00\xa0€"),
        ("it", "14 dicembre 2026", "14 dic 2026, 18:00 CET", "120,00\xa0€"),
        ("lt", "2026 m. gruodžio 14 d.", "2026-12-14 18:00 CET", "120,00\xa0€"),
    ],
)
def test_dates_times_and_money_are_written_the_local_way(language: str, day: str, moment: str, money: str) -> None:
    formats = Formats(language, "Europe/Brussels")

    def spaced(text: str) -> str:  # CLDR writes (narrow) no-break spaces where these tests write plain ones.
        return text.replace("\xa0", " ").replace("\u202f", " ")

    assert spaced(formats.day("2026-12-14")) == spaced(day)
    assert spaced(formats.moment(datetime(2026, 12, 14, 17, 0, tzinfo=UTC))) == spaced(moment)
    assert spaced(formats.money(120, "EUR")) == spaced(money)
