"""Who is calling: bearer tokens (JWT, EdDSA with the node's Ed25519 key) carrying a role at an institution, and the
one way routes check who may do or read what.

A node verifies tokens with its public key. Tokens come from the university's identity provider configured with the
same key and claims, or from the node administrator's command:

    python -m shared.auth keys --dir .run/keys
    python -m shared.auth token --key .run/keys/auth-private.pem --subject ana@upr.si --name "Ana Horvat" \\
        --email ana@upr.si --role learner --institution upr --affiliation student

Claims: `sub` (the person; for a learner, their learner id), `name`, `email`, `roles`, `institution` (the home
institution's code, as in an awarding body's `id`), `affiliation` (eduPersonAffiliation values: student, staff,
faculty, ...), `schacPersonalUniqueCode` (SCHAC personal unique codes; the European Student Identifier is the one of
the form `urn:schac:personalUniqueCode:int:esi:<country>:<code>`), `iss` (the node), `aud`, `exp`. Who a person is
(name, email, home institution, affiliation, ESI) is what the identity provider attests here, never what a request
body says.
"""

import argparse
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy import or_, true

AUDIENCE = "microcredentials"
ALGORITHM = "EdDSA"
# SCHAC's URN for a European Student Identifier among a person's personal unique codes.
ESI_PREFIX = "urn:schac:personalUniqueCode:int:esi:"


class Role(StrEnum):
    COURSE_DESIGNER = "course-designer"
    QA_OFFICER = "qa-officer"
    REGISTRAR = "registrar"
    ASSESSOR = "assessor"
    LEARNER = "learner"
    NODE_ADMIN = "node-admin"


# The roles of people who work for an institution (or, the node administrator, for the whole node).
STAFF = frozenset(Role) - {Role.LEARNER}


class Affiliation(StrEnum):
    """eduPerson's eduPersonAffiliation values: what a person is to their home institution."""

    STUDENT = "student"
    STAFF = "staff"
    FACULTY = "faculty"
    EMPLOYEE = "employee"
    MEMBER = "member"
    AFFILIATE = "affiliate"
    ALUM = "alum"
    LIBRARY_WALK_IN = "library-walk-in"


class Principal(BaseModel):
    subject: str
    # As the identity provider attests them; None when the token does not carry them.
    name: str | None = None
    roles: frozenset[Role]
    institution: str | None = None
    email: str | None = None
    affiliation: frozenset[Affiliation] = frozenset()
    esi: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    def describe(self) -> str:
        """What the token holds, for refusals: "ana@upr.si has the role learner, for upr"."""
        held = f"the role {', '.join(sorted(self.roles))}" if self.roles else "no role"
        return f"{self.subject} has {held}, for {self.institution or 'no institution'}"


def create_keys(folder: Path, name: str = "auth") -> tuple[Path, Path]:
    """An Ed25519 key pair, `<name>-private.pem` and `<name>-public.pem` (tokens' by default, the alliance registry's
    too); the private key file is readable by its owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    private_path, public_path = folder / f"{name}-private.pem", folder / f"{name}-public.pem"
    private_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path


def issue_token(private_key_pem: bytes, principal: Principal, issuer: str, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": principal.subject,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "institution": principal.institution,
        "email": principal.email,
        "affiliation": sorted(principal.affiliation),
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if principal.esi:
        claims["schacPersonalUniqueCode"] = [principal.esi]
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


def _values(claim: object) -> list[str]:
    """A multi-valued claim, which identity providers send as a list or, with one value, as a string."""
    if isinstance(claim, str):
        return [claim]
    if isinstance(claim, list):
        return [value for value in claim if isinstance(value, str)]
    return []


def verify_token(token: str, public_key_pem: bytes) -> Principal:
    """The principal a token names, or jwt.InvalidTokenError saying why not. Unknown roles and affiliations are
    ignored: a token from an identity provider may carry more than this node knows."""
    claims = jwt.decode(
        token, public_key_pem, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["exp", "sub", "aud"]}
    )
    roles, affiliations = {role.value for role in Role}, {value.value for value in Affiliation}
    codes = _values(claims.get("schacPersonalUniqueCode"))
    return Principal(
        subject=claims["sub"],
        name=claims.get("name") or None,
        roles=frozenset(Role(role) for role in _values(claims.get("roles")) if role in roles),
        institution=claims.get("institution") or None,
        email=claims.get("email") or None,
        affiliation=frozenset(
            Affiliation(value.lower()) for value in _values(claims.get("affiliation")) if value.lower() in affiliations
        ),
        esi=next((code for code in codes if code.lower().startswith(ESI_PREFIX.lower())), None),
    )


@cache
def _read_key(path: str) -> bytes:
    return Path(path).read_bytes()


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers=unauthorized)
    key_file = request.app.state.settings.auth_public_key_file
    if not key_file:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this node has no token key configured (AUTH_PUBLIC_KEY_FILE)")
    try:
        return verify_token(credentials.credentials, _read_key(str(key_file)))
    except jwt.InvalidTokenError as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {error}", headers=unauthorized) from error


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def forbidden(needed: str, principal: Principal) -> HTTPException:
    """403 saying what was needed and what the token holds."""
    return HTTPException(status.HTTP_403_FORBIDDEN, f"{needed}; {principal.describe()}")


def require_role(principal: Principal, *roles: Role) -> None:
    """403 naming the roles needed and those held, unless the principal holds one of them."""
    if not any(principal.has(role) for role in roles):
        raise forbidden(f"this needs the role {' or '.join(roles)}", principal)


def require_institution(principal: Principal, institutions: Collection[str | None], what: str) -> None:
    """403 unless the principal acts for one of the institutions that own the thing."""
    if principal.institution is None or principal.institution not in institutions:
        owners = ", ".join(sorted(i for i in institutions if i)) or "no institution"
        raise forbidden(f"{what} belongs to {owners}", principal)


# --- reading learners' records: the learner concerned, or staff of the institutions the record is about ---


@dataclass(frozen=True)
class Scope:
    """The learners' records a caller may read: their own (as a learner), those about their institution (as staff),
    or every one (the node administrator, where allowed). A list shows what any of these covers."""

    learner_id: str | None = None
    institution: str | None = None
    everything: bool = False

    def covers(self, learner_id: str | None, institutions: Iterable[str | None]) -> bool:
        return (
            self.everything
            or (self.learner_id is not None and learner_id == self.learner_id)
            or (self.institution is not None and self.institution in set(institutions))
        )

    def where(self, learner: Any, concerns: Callable[[str], Any]) -> Any:
        """The SQL condition for the rows this scope covers, given the learner-id column and `concerns(institution)`,
        the condition that a row is about that institution; true() for everything."""
        if self.everything:
            return true()
        allowed = []
        if self.learner_id is not None:
            allowed.append(learner == self.learner_id)
        if self.institution is not None:
            allowed.append(concerns(self.institution))
        return or_(*allowed)


def _who(staff: Collection[Role]) -> str:
    roles = sorted(role for role in staff if role is not Role.NODE_ADMIN)
    needed = "the learner concerned"
    if roles:
        needed += f", or the role {' or '.join(roles)} at the institutions it concerns"
    if Role.NODE_ADMIN in staff:
        needed += ", or the node administrator"
    return needed


def reader_scope(principal: Principal, staff: Collection[Role], what: str, learner_id: str | None = None) -> Scope:
    """What of `what` the principal may read: 403, saying who may, for someone who may read none of it, or for a
    learner asking about another learner (`learner_id`, a list's filter). `staff` are the roles that read their
    institution's records; the node administrator reads all only when `staff` names that role."""
    institutional = set(staff) - {Role.NODE_ADMIN}
    scope = Scope(
        learner_id=principal.subject if principal.has(Role.LEARNER) else None,
        institution=principal.institution if any(principal.has(role) for role in institutional) else None,
        everything=Role.NODE_ADMIN in staff and principal.has(Role.NODE_ADMIN),
    )
    if not (scope.learner_id or scope.institution or scope.everything):
        raise forbidden(f"reading {what} needs {_who(staff)}", principal)
    if learner_id is not None and not (scope.institution or scope.everything) and learner_id != scope.learner_id:
        raise forbidden(f"reading {what} of learner {learner_id} needs {_who(staff)}", principal)
    return scope


def require_learner_or_staff(
    principal: Principal, learner_id: str | None, institutions: Collection[str | None], staff: Collection[Role], what: str
) -> None:
    """403 unless the principal is the learner concerned, holds one of the `staff` roles at one of the institutions
    the record concerns, or is the node administrator (when `staff` names that role)."""
    if not reader_scope(principal, staff, what).covers(learner_id, institutions):
        owners = ", ".join(sorted(i for i in institutions if i)) or "no institution"
        raise forbidden(f"{what} concerns learner {learner_id} at {owners}: this needs {_who(staff)}", principal)


def main() -> None:
    parser = argparse.ArgumentParser(description="Create the node's token keys, or issue a token.")
    commands = parser.add_subparsers(dest="command", required=True)
    keys = commands.add_parser("keys", help="create an Ed25519 key pair")
    keys.add_argument("--dir", type=Path, required=True)
    token = commands.add_parser("token", help="issue a bearer token")
    token.add_argument("--key", type=Path, required=True, help="the private key file")
    token.add_argument("--subject", required=True)
    token.add_argument("--name")
    token.add_argument("--email")
    token.add_argument("--role", action="append", choices=[role.value for role in Role], required=True)
    token.add_argument("--institution", help="the home institution's code")
    token.add_argument(
        "--affiliation", action="append", default=[], choices=[value.value for value in Affiliation],
        help="eduPersonAffiliation (repeatable): a learner's student or staff affiliation to an alliance institution "
        "makes them an alliance student or staff member",
    )
    token.add_argument("--esi", help=f"the European Student Identifier ({ESI_PREFIX}<country>:<code>)")
    token.add_argument("--issuer", default="urn:microcredentials:node:local")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    args = parser.parse_args()
    if args.command == "keys":
        private_path, public_path = create_keys(args.dir)
        print(f"private key: {private_path}\npublic key:  {public_path}")
    else:
        principal = Principal(
            subject=args.subject,
            name=args.name,
            roles=frozenset(Role(role) for role in args.role),
            institution=args.institution,
            email=args.email,
            affiliation=frozenset(Affiliation(value) for value in args.affiliation),
            esi=args.esi,
        )
        print(issue_token(args.key.read_bytes(), principal, args.issuer, args.ttl))


if __name__ == "__main__":
    main()
