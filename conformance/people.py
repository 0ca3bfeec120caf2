"""The test users the kit acts as, with bearer tokens the node accepts: made by the kit with the signing key the node's
operator gave it, or handed over ready-made."""

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from conformance.description import Institution, Tokens
from shared.auth import Affiliation, Principal, Role, issue_token


@dataclass(frozen=True)
class Person:
    subject: str
    name: str
    role: str
    token: str


class People:
    def __init__(self, tokens: Tokens, institution: Institution) -> None:
        self._tokens = tokens
        self._institution = institution
        self._key = tokens.signing_key.read_bytes() if tokens.signing_key else None
        self._learners = iter(tokens.learners)
        self._staff: dict[str, Person] = {}

    def staff(self, role: str) -> Person:
        """The institution's course designer, QA officer (another person), registrar or assessor."""
        if role not in self._staff:
            if self._key is None:
                token = getattr(self._tokens, role.replace("-", "_"))
                self._staff[role] = _from_token(token, role)
            else:
                self._staff[role] = self._issued(f"conformance-{role}@{self._institution.id}", f"Conformance {role}", role)
        return self._staff[role]

    def new_learner(self) -> Person:
        """A learner not seen before in this run: a student of the institution."""
        if self._key is None:
            token = next(self._learners, None)
            if token is None:
                raise LookupError("the node description gives too few learner tokens for this run")
            return _from_token(token, "learner")
        subject = f"conformance-learner-{uuid.uuid4()}"
        return self._issued(subject, "Conformance Learner", "learner", affiliation=Affiliation.STUDENT)

    def _issued(self, subject: str, name: str, role: str, affiliation: Affiliation | None = None) -> Person:
        assert self._key is not None
        principal = Principal(
            subject=subject,
            name=name,
            roles=frozenset({Role(role)}),
            institution=self._institution.id,
            email=f"{subject.split('@')[0]}@example.org",  # RFC 2606: no mailbox anywhere receives it
            affiliation=frozenset({affiliation} if affiliation else ()),
        )
        return Person(subject, name, role, issue_token(self._key, principal, issuer=self._tokens.issuer))


def _from_token(token: str, role: str) -> Person:
    """Who a ready-made token names (its claims read, not verified: the node verifies it)."""
    claims = _claims(token)
    return Person(str(claims.get("sub")), str(claims.get("name") or claims.get("sub")), role, token)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
