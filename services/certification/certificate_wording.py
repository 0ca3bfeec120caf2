"""The certificate's words in German and French besides English: labels, explanations, dates.

Keyed by the English text, which is also the fallback for a language or a phrase not listed here. The element labels
follow the terms of Annex I of the Council Recommendation in each language's version where it has one.
"""

from collections.abc import Callable
from datetime import date

from shared.events.common import language_code

DEFAULT_LANGUAGE = "en"

TRANSLATIONS: dict[str, dict[str, str]] = {
    "de": {
        "MICRO-CREDENTIAL": "MICRO-CREDENTIAL",
        "valid": "gültig",
        "suspended": "ausgesetzt",
        "revoked": "widerrufen",
        "This credential is suspended: it is not valid until its issuer reinstates it.": (
            "Dieser Nachweis ist ausgesetzt: Er ist erst wieder gültig, wenn der Aussteller ihn wieder in Kraft setzt."
        ),
        "This credential has been revoked by its issuer and is no longer valid.": (
            "Dieser Nachweis wurde vom Aussteller widerrufen und ist nicht mehr gültig."
        ),
        "On site": "In Präsenz",
        "Online": "Online",
        "Blended (online and on site)": "Hybrid (online und in Präsenz)",
        "Unsupervised, no identity verification": "Ohne Aufsicht, ohne Identitätsprüfung",
        "Supervised, no identity verification": "Beaufsichtigt, ohne Identitätsprüfung",
        "Supervised online, with identity verification": "Online beaufsichtigt, mit Identitätsprüfung",
        "Supervised on site, with identity verification": "Vor Ort beaufsichtigt, mit Identitätsprüfung",
        "Stand-alone": "Eigenständig",
        "Stackable into a larger credential": "Kombinierbar zu einem umfassenderen Nachweis",
        "Scan the code, or open the address under it, to check": (
            "Scannen Sie den Code oder öffnen Sie die Adresse darunter, um zu prüfen,"
        ),
        "that this credential is authentic and still valid.": "ob dieser Nachweis echt und noch gültig ist.",
        "Credential": "Nachweis",
        "Elements as in Annex I of the Council Recommendation of 16 June 2022 on micro-credentials.": (
            "Angaben nach Anhang I der Empfehlung des Rates vom 16. Juni 2022 zu Microcredentials."
        ),
        "awarded to": "verliehen an",
        "Identification of the learner": "Identifizierung der lernenden Person",
        "Title of the micro-credential": "Titel des Microcredentials",
        "Country(ies) of the issuer": "Land/Länder des Ausstellers",
        "Awarding body(ies)": "Vergabestelle(n)",
        "Date of issuing": "Ausstellungsdatum",
        "Learning outcomes": "Lernergebnisse",
        "Language(s)": "Sprache(n)",
        "Notional workload": "Fiktiver Arbeitsaufwand",
        "Level (EQF)": "Niveau (EQR)",
        "Type of assessment": "Art der Bewertung",
        "Form of participation": "Form der Teilnahme",
        "Type of quality assurance": "Art der Qualitätssicherung",
        "Grade achieved": "Erzielte Note",
        "Supervision and identity verification": "Aufsicht und Identitätsprüfung",
        "Integration / stackability": "Integration / Kombinierbarkeit",
        "European Student Identifier": "Europäische Studierendenkennung",
        "learner": "Lernende(r)",
        "ECTS credits": "ECTS-Punkte",
        "hours": "Stunden",
        "EQF level": "EQR-Niveau",
        "not applicable": "nicht zutreffend",
    },
    "fr": {
        "MICRO-CREDENTIAL": "MICROCERTIFICATION",
        "valid": "valide",
        "suspended": "suspendue",
        "revoked": "révoquée",
        "This credential is suspended: it is not valid until its issuer reinstates it.": (
            "Cette microcertification est suspendue : elle n'est pas valide tant que son émetteur ne l'a pas rétablie."
        ),
        "This credential has been revoked by its issuer and is no longer valid.": (
            "Cette microcertification a été révoquée par son émetteur et n'est plus valide."
        ),
        "On site": "En présentiel",
        "Online": "En ligne",
        "Blended (online and on site)": "Hybride (en ligne et en présentiel)",
        "Unsupervised, no identity verification": "Sans surveillance, sans vérification d'identité",
        "Supervised, no identity verification": "Sous surveillance, sans vérification d'identité",
        "Supervised online, with identity verification": "Surveillance en ligne, avec vérification d'identité",
        "Supervised on site, with identity verification": "Surveillance sur place, avec vérification d'identité",
        "Stand-alone": "Autonome",
        "Stackable into a larger credential": "Cumulable dans une certification plus large",
        "Scan the code, or open the address under it, to check": (
            "Scannez le code, ou ouvrez l'adresse indiquée dessous, pour vérifier"
        ),
        "that this credential is authentic and still valid.": "que cette microcertification est authentique et valide.",
        "Credential": "Microcertification",
        "Elements as in Annex I of the Council Recommendation of 16 June 2022 on micro-credentials.": (
            "Éléments selon l'annexe I de la recommandation du Conseil du 16 juin 2022 sur les microcertifications."
        ),
        "awarded to": "décernée à",
        "Identification of the learner": "Identification de l'apprenant",
        "Title of the micro-credential": "Intitulé de la microcertification",
        "Country(ies) of the issuer": "Pays de l'émetteur",
        "Awarding body(ies)": "Organisme(s) de délivrance",
        "Date of issuing": "Date de délivrance",
        "Learning outcomes": "Acquis d'apprentissage",
        "Language(s)": "Langue(s)",
        "Notional workload": "Charge de travail théorique",
        "Level (EQF)": "Niveau (CEC)",
        "Type of assessment": "Type d'évaluation",
        "Form of participation": "Forme de participation",
        "Type of quality assurance": "Type d'assurance de la qualité",
        "Grade achieved": "Note obtenue",
        "Supervision and identity verification": "Surveillance et vérification de l'identité",
        "Integration / stackability": "Intégration / cumulabilité",
        "European Student Identifier": "Identifiant étudiant européen",
        "learner": "apprenant",
        "ECTS credits": "crédits ECTS",
        "hours": "heures",
        "EQF level": "niveau CEC",
        "not applicable": "sans objet",
    },
}

MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}


def certificate_language(preferred: str | None) -> str:
    """The language to print in: the preferred one when the certificate has its words, else English."""
    code = language_code(preferred)
    return code if code in TRANSLATIONS else DEFAULT_LANGUAGE


def wording(language: str) -> Callable[[str], str]:
    """A function giving the English text's words in `language` (the English text when there are none)."""
    translations = TRANSLATIONS.get(language, {})
    return lambda text: translations.get(text, text)


def long_date(day: date, language: str) -> str:
    """1 July 2026, 1. Juli 2026, 1er juillet 2026."""
    month = MONTHS.get(language, MONTHS[DEFAULT_LANGUAGE])[day.month - 1]
    if language == "de":
        return f"{day.day}. {month} {day.year}"
    if language == "fr":
        return f"{'1er' if day.day == 1 else day.day} {month} {day.year}"
    return f"{day.day} {month} {day.year}"
