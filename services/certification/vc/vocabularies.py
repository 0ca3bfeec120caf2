"""The vocabularies a credential's achievement aligns to (Open Badges `Alignment`), so that each Annex I element is
machine-readable with the standard contexts alone: the EQF, the European Learning Model's controlled vocabularies
(`http://data.europa.eu/snb/...`), the EU authority tables (`http://publications.europa.eu/resource/authority/...`),
ESCO, and, for the elements no vocabulary lists (free text, or the options Annex I itself enumerates), Annex I of the
Council Recommendation. Sources of every IRI: MAPPING.md beside this file.
"""

from dataclasses import dataclass

from shared.annex import FormOfParticipation, IdentityVerification, Stackability
from shared.iso_codes import COUNTRIES, COUNTRY_ALPHA3, LANGUAGE_ALPHA3, LANGUAGES


@dataclass(frozen=True)
class Concept:
    """A concept of a published vocabulary: its IRI and English label."""

    iri: str
    label: str


# The Council Recommendation of 16 June 2022 on a European approach to micro-credentials (2022/C 243/02, CELEX
# 32022H0627(02)), whose Annex I defines the elements and the options of the enumerated optional ones.
ANNEX_I = "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32022H0627(02)"
ANNEX_I_FRAMEWORK = "Council Recommendation on micro-credentials (2022/C 243/02), Annex I"

EQF_FRAMEWORK = "European Qualifications Framework (EQF)"


def eqf_level(level: int) -> Concept:
    """The EQF level's concept in the EU's EQF vocabulary (`http://data.europa.eu/snb/eqf/25831c2`)."""
    if not 1 <= level <= 8:
        raise ValueError(f"an EQF level is 1 to 8, not {level}")
    return Concept(f"http://data.europa.eu/snb/eqf/{level}", f"EQF level {level}")


# ELM's "Mode of learning and assessment" (concept scheme http://data.europa.eu/snb/learning-assessment/25831c2).
MODE_FRAMEWORK = "European Learning Model: mode of learning and assessment"
MODES: dict[FormOfParticipation, Concept] = {
    FormOfParticipation.ONSITE: Concept("http://data.europa.eu/snb/learning-assessment/9191af2ed9", "Presential"),
    FormOfParticipation.ONLINE: Concept("http://data.europa.eu/snb/learning-assessment/920fbb3cbe", "Online"),
    FormOfParticipation.BLENDED: Concept("http://data.europa.eu/snb/learning-assessment/e92d221e4d", "Blended"),
}

# The EU authority tables (Publications Office, EU Vocabularies).
LANGUAGE_FRAMEWORK = "EU Vocabularies: Languages (http://publications.europa.eu/resource/authority/language)"
COUNTRY_FRAMEWORK = (
    "EU Vocabularies: Countries and territories (http://publications.europa.eu/resource/authority/country)"
)


def language(code: str) -> Concept | None:
    """An ISO 639-1 language's concept in the EU Languages table (None for a code the table does not know)."""
    code = code.lower()
    if code not in LANGUAGE_ALPHA3:
        return None
    return Concept(f"http://publications.europa.eu/resource/authority/language/{LANGUAGE_ALPHA3[code]}", LANGUAGES[code])


def country(code: str) -> Concept | None:
    """An ISO 3166-1 alpha-2 country's concept in the EU Countries and territories table (None when unknown)."""
    code = code.upper()
    if code not in COUNTRY_ALPHA3:
        return None
    return Concept(f"http://publications.europa.eu/resource/authority/country/{COUNTRY_ALPHA3[code]}", COUNTRIES[code])


# The options Annex I lists for "supervision and identity verification during assessment". ELM has a concept scheme
# for them (http://data.europa.eu/snb/supervision-verification/25831c2); its concepts are not mapped here yet.
SUPERVISION: dict[IdentityVerification, str] = {
    IdentityVerification.UNSUPERVISED_NO_VERIFICATION: "Unsupervised with no identity verification",
    IdentityVerification.SUPERVISED_NO_VERIFICATION: "Supervised with no identity verification",
    IdentityVerification.SUPERVISED_ONLINE: "Supervised online",
    IdentityVerification.ONSITE_WITH_VERIFICATION: "Onsite with identity verification",
}

# The options Annex I lists for "integration / stackability".
STACKABILITY: dict[Stackability, str] = {
    Stackability.STAND_ALONE: "Stand-alone, independent micro-credential",
    Stackability.STACKABLE: "Integrated, stackable towards another credential",
}

ESCO_FRAMEWORK = "ESCO"
