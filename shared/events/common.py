"""Value types that several services' contracts share."""

from pydantic import EmailStr, Field

from shared.events.envelope import Contract


class LearnerIdentity(Contract):
    """Identification of the learner, the first mandatory element of a micro-credential."""

    learner_id: str = Field(min_length=1)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    home_institution: str | None = None
    # The European Student Identifier, when the learner has one.
    esi: str | None = None
