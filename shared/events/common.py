"""Value types that several services' contracts share."""

import contextlib
import functools
import re
from enum import StrEnum

from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from pydantic import EmailStr, Field
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

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


# An address of plain ASCII: a dot-atom before the @-sign (RFC 5322's atext, as email_validator reads it), letters,
# digits, dots and hyphens after it. For such an address email_validator's answer is the domain's answer, with the
# part before the @-sign unchanged (it changes only a mailbox name it treats as case-insensitive, "postmaster" and
# the like), so the domain's checks run once per domain: a university's learners share a handful of domains, and the
# checks cost ~55 µs an address. Anything else is checked whole, as is an address whose domain fails (for its reason).
_PLAIN_ADDRESS = re.compile(r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9.-]+)")
# email_validator's limit on a whole address (RFC 5321's path less its angle brackets).
_ADDRESS_MAX_LENGTH = 254


@functools.lru_cache(maxsize=4096)
def _normalized_domain(domain: str) -> str:
    return validate_email(f"a@{domain}")[1].partition("@")[2]


@functools.lru_cache(maxsize=65536)
def _normalized_email(address: str) -> str:
    plain = _PLAIN_ADDRESS.fullmatch(address)
    if plain and len(address) <= _ADDRESS_MAX_LENGTH and plain[1].lower() not in CASE_INSENSITIVE_MAILBOX_NAMES:
        with contextlib.suppress(PydanticCustomError):  # A refused domain: the whole check says why, for this address.
            return f"{plain[1]}@{_normalized_domain(plain[2])}"
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
