"""Who may do what in the catalogue, and how the rules' refusals become HTTP answers that say why."""

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from fastapi import HTTPException, status

from services.catalogue import domain
from shared.auth import Principal, Role, require_institution, require_role


@dataclass(frozen=True)
class Permission:
    action: str
    roles: tuple[Role, ...]
    # Designing is any awarding body's business; judging, retiring and running offerings are the lead's.
    lead_only: bool

    def check(self, principal: Principal, institutions: Sequence[str], what: str) -> None:
        """403 naming the role or the institutions the principal lacks, e.g. "reviewing course X belongs to uni-a".

        `institutions` are those of the version that governs (domain.governing), never what a new draft claims."""
        require_role(principal, *self.roles)
        require_institution(
            principal, set(institutions[:1] if self.lead_only else institutions), f"{self.action} {what}"
        )


DESIGN = Permission("designing", (Role.COURSE_DESIGNER,), lead_only=False)
REVIEW = Permission("reviewing", (Role.QA_OFFICER,), lead_only=True)
RETIRE = Permission("retiring", (Role.QA_OFFICER, Role.NODE_ADMIN), lead_only=True)
OFFER = Permission("offering", (Role.REGISTRAR, Role.COURSE_DESIGNER), lead_only=True)
# At a partner's node, on a lead's joint course: the first pair of eyes recommends taking part, a QA officer (another
# person) consents, declines or withdraws, each for their own institution.
RECOMMEND = Permission("recommending", (Role.COURSE_DESIGNER, Role.QA_OFFICER), lead_only=False)
CONSENT = Permission("consenting to", (Role.QA_OFFICER,), lead_only=False)
# Who awards a course is the lead's decision: a co-awarding university's designer may revise the rest.
REASSIGN = Permission("changing the awarding bodies of", (Role.COURSE_DESIGNER,), lead_only=True)


def unprocessable(violations: list[domain.Violation]) -> HTTPException:
    # The same shape as FastAPI's own validation errors, so clients read both the same way.
    detail = [{"loc": ["body", *map(_part, v.field.split("."))], "msg": v.rule, "type": "policy"} for v in violations]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def _part(name: str) -> str | int:
    return int(name) if name.isdigit() else name  # List positions are numbers, as in FastAPI's own errors.


def check(violations: list[domain.Violation]) -> None:
    if violations:
        raise unprocessable(violations)


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Turns the rules' refusals into 404, 409 and 403."""
    try:
        yield
    except LookupError as refusal:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(refusal)) from refusal
    except domain.TransitionRefused as refusal:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(refusal)) from refusal
    except domain.FourEyesViolation as refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(refusal)) from refusal
