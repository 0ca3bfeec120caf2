"""Languages: the gettext catalogs (`translations/<lang>/LC_MESSAGES/messages.po`, compiled in memory when the app
starts, so a catalog never goes stale), one Jinja environment per language with the catalog installed, and the local
way of writing dates, times, numbers and money (Babel, CLDR's data).

Adding a string: write it in a template (`{% trans %}...{% endtrans %}`, `_("...")`) or in Python (`_l("...")` where
it is defined, `_()` in a view), then `python -m services.web.i18n update` and translate the new entries of each
language's .po file; the unit tests fail while an entry is untranslated.
"""

import argparse
import io
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, dates, numbers
from babel.messages.extract import extract_from_dir
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

from services.web.domain import DEFAULT_LANGUAGE, LANGUAGES, language_name as own_name
from shared.iso_codes import LANGUAGES as ISO_LANGUAGES

HERE = Path(__file__).parent
TRANSLATIONS = HERE / "translations"
TEMPLATES = HERE / "templates"
DOMAIN = "messages"
# How strings are found: Python calls of _() and _l(), and the templates' gettext calls and trans blocks.
EXTRACTION = [
    ("**.py", "python"),
    ("templates/**.html", "jinja2"),
]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "ngettext": (1, 2)}


class LazyText(str):
    """A string marked for translation where it is defined (a menu's label), translated where it is shown."""

    __slots__ = ()


def _l(message: str) -> LazyText:
    return LazyText(message)


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as file:
        return read_po(file, locale=language, domain=DOMAIN)


@cache
def translations(language: str) -> Translations:
    """The language's compiled catalog; English is the source text itself."""
    if language == DEFAULT_LANGUAGE or not po_path(language).exists():
        return Translations()
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(language))
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


class Formats:
    """The local way of writing things, in one language and the node's time zone."""

    def __init__(self, language: str, timezone: str) -> None:
        # English as written in Europe (14 December 2026, 18:00), not in the United States.
        self.locale = Locale.parse("en_GB" if language == "en" else language)
        self.zone = ZoneInfo(timezone)

    def day(self, value: date | str | None) -> str:
        if not value:
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return dates.format_date(value, "long", locale=self.locale)

    def moment(self, value: datetime | str | None) -> str:
        """A date with its time of day and time zone, as the language writes them: 14 Dec 2026, 18:00 CET."""
        if not value:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        local = value.astimezone(self.zone)
        day = dates.format_skeleton("yMMMd", local, locale=self.locale)
        time = f"{dates.format_time(local, 'short', locale=self.locale)} {local.strftime('%Z')}"
        # The language's own way of joining a date and a time ("{1}, {0}", "{1} {0}", "{1} г., {0}" ...).
        return dates.get_datetime_format("medium", locale=self.locale).replace("{1}", day).replace("{0}", time)

    def number(self, value: float | int | None) -> str:
        return "" if value is None else numbers.format_decimal(value, locale=self.locale)

    def money(self, amount: float | None, currency: str | None) -> str:
        return "" if amount is None else numbers.format_currency(amount, currency or "EUR", locale=self.locale)


def _words(value: Any) -> str:
    """An enum's value as words (onsite-with-identity-verification: "onsite with identity verification")."""
    return str(value).replace("-", " ")


def environment(language: str, timezone: str, globals_: dict[str, Any]) -> jinja2.Environment:
    """The templates in one language: its catalog for `{% trans %}` and `_()`, its formats as filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # Everything a service returns (a course's title, a learner's name) is escaped.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    from services.web.vocabulary import FIELDS, OUTCOMES, TERMS  # Here: the vocabulary marks its words with _l above.

    catalog = translations(language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    formats = Formats(language, timezone)

    def term(value: Any) -> str:
        """A coded value in words (an unknown one as it is)."""
        return catalog.gettext(TERMS[str(value)]) if str(value) in TERMS else "" if value is None else str(value)

    def field_label(name: str) -> str:
        """A description's field by its name in words (an unknown one as it is)."""
        return catalog.gettext(FIELDS[name]) if name in FIELDS else name

    def outcome(value: str) -> tuple[str, str]:
        heading, advice = OUTCOMES.get(value, (value, ""))
        return catalog.gettext(heading), catalog.gettext(advice) if advice else ""

    names = Locale.parse(language).languages

    def language_name(code: str | None) -> str:
        return names.get(code, code) if code else ""

    env.filters.update(
        language_name=language_name,
        pair=lambda value: (value, value),
        term_pair=lambda value: (str(value), term(value)),
        days_pair=lambda days: (days, catalog.ngettext("%(num)s day", "%(num)s days", days) % {"num": days}),
    )
    env.globals.update(
        term=term,
        field_label=field_label,
        outcome=outcome,
        # The languages of instruction a search can ask for, by their names in this language.
        language_choices=sorted(((code, language_name(code)) for code in ISO_LANGUAGES), key=lambda c: c[1].lower()),
    )
    env.filters.update(
        day=formats.day, moment=formats.moment, number=formats.number, money=formats.money, words=_words,
    )
    env.globals.update(
        globals_, language=language, formats=formats, settings_languages=LANGUAGES, language_own_name=own_name
    )
    return env


class Environments:
    """One template environment per language, made when first needed."""

    def __init__(self, timezone: str, globals_: dict[str, Any]) -> None:
        self._timezone, self._globals = timezone, globals_
        self._made: dict[str, jinja2.Environment] = {}

    def __getitem__(self, language: str) -> jinja2.Environment:
        if language not in self._made:
            self._made[language] = environment(language, self._timezone, self._globals)
        return self._made[language]


def gettext_for(language: str) -> Callable[..., str]:
    """`_` for Python code that builds text for a page (a notice after a form): the language's translation, with
    %(name)s placeholders filled in."""
    catalog = translations(language)

    def gettext(message: str, **values: Any) -> str:
        text = catalog.gettext(message)
        return text % values if values else text

    return gettext


# --- keeping the catalogs up to date (a developer's command, not used by the app) ---


def extract() -> Catalog:
    """Every translatable string of the front end, with where it is used."""
    template = Catalog(domain=DOMAIN, project="microcredentials web", fuzzy=False)
    options = {"extensions": "jinja2.ext.i18n", "trimmed": "false"}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(HERE), method_map=EXTRACTION, options_map={"templates/**.html": options}, keywords=KEYWORDS,
        comment_tags=("Translators:",),
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def update() -> None:
    """Write messages.pot and bring each language's .po up to it (new entries untranslated, gone ones dropped)."""
    template = extract()
    with (TRANSLATIONS / f"{DOMAIN}.pot").open("wb") as file:
        write_po(file, template, omit_header=True, sort_output=True, width=120)
    for language in LANGUAGES[1:]:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_catalog(language) if path.exists() else Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        # A header marked fuzzy would be left out of the compiled catalog, and with it the plural rules.
        catalog.fuzzy = False
        catalog.project, catalog.version = "microcredentials web", "1"
        catalog.last_translator = "Draft translation, to be reviewed by a native speaker"
        catalog.obsolete.clear()
        with path.open("wb") as file:
            write_po(file, catalog, omit_header=False, sort_output=True, width=120, include_previous=False)


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep the front end's translation catalogs up to date.")
    parser.add_argument("command", choices=["update"])
    parser.parse_args()
    update()
    print(f"updated {TRANSLATIONS}/{DOMAIN}.pot and the catalogs of {', '.join(LANGUAGES[1:])}")


if __name__ == "__main__":
    main()
