"""The options Annex I of the Council Recommendation on micro-credentials enumerates for some of its elements, as plain
enums. The catalogue's contracts (shared/events/catalogue.py) use them, and so do processes that load no contracts:
certification's signing workers align a credential to them without importing pydantic.
"""

from enum import StrEnum


class FormOfParticipation(StrEnum):
    ONSITE = "onsite"
    ONLINE = "online"
    BLENDED = "blended"


class IdentityVerification(StrEnum):
    """Supervision and identity verification during assessment (an optional element of Annex I)."""

    UNSUPERVISED_NO_VERIFICATION = "unsupervised-no-identity-verification"
    SUPERVISED_NO_VERIFICATION = "supervised-no-identity-verification"
    SUPERVISED_ONLINE = "supervised-online"
    ONSITE_WITH_VERIFICATION = "onsite-with-identity-verification"


class Stackability(StrEnum):
    STAND_ALONE = "stand-alone"
    STACKABLE = "stackable"
