"""Value types that several services' contracts share."""

import functools
import re
from enum import StrEnum

from pydantic import EmailStr, Field
from pydantic.networks import validate_email

from shared.events.envelope import Contract


class LearnerCategory(StrEnum):
    """Who a learner is to the alliance: its students and staff learn for free, others pay the offering's fee."""

    ALLIANCE_STUDENT = "alliance-student"
    ALLIANCE_STAFF = "alliance-staff"
    EXTERNAL = "external"


class Money(Contract):
    amount: float = Field(ge=0)
    # ISO 4217
    currency: str = Field(pattern=r"^[A-Z]{3}$")


@functools.lru_cache(maxsize=65536)
def _normalized_email(address: str) -> str:
    return validate_email(address)[1]


class EmailAddress(EmailStr):
    """`EmailStr`, with the addresses already found valid remembered: every service validates the learner of every
    event it reads, and email_validator's checks were a visible share of a cohort's CPU in each consumer. The same
    rules and the same JSON Schema (an invalid address raises every time: errors are not cached)."""

    @classmethod
    def _validate(cls, input_value: str, /) -> str:
        return _normalized_email(input_value)


class LearnerIdentity(Contract):
    """Identification of the learner, the first mandatory element of a micro-credential."""

    learner_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress
    home_institution: str | None = None
    # The European Student Identifier, when the learner has one.
    esi: str | None = None
    category: LearnerCategory | None = None
    # The language the learner wants to be written to in, ISO 639-1 ("de"); read leniently (a BCP 47 tag such as
    # "de-AT" counts as its language). None, or a language without templates: English.
    preferred_language: str | None = Field(default=None, max_length=35)


def language_code(preferred: str | None) -> str | None:
    """The ISO 639-1 code of a `preferred_language` ("de", "DE", "de-AT" and "de_AT" all give "de"); None if none."""
    if not preferred:
        return None
    code = re.split(r"[-_]", preferred.strip(), maxsplit=1)[0].lower()
    return code if re.fullmatch(r"[a-z]{2}", code) else None
