"""Who is calling: bearer tokens (JWT, EdDSA with the node's Ed25519 key) carrying a role at an institution.

A node verifies tokens with its public key. Tokens come from the university's identity provider configured with the
same key and claims, or from the node administrator's command:

    python -m shared.auth keys --dir .run/keys
    python -m shared.auth token --key .run/keys/auth-private.pem --subject ana@uni-saarland.de \\
        --name "Ana Horvat" --role course-designer --institution uni-saarland

Claims: `sub` (the person; for a learner, their learner id), `name`, `email`, `roles`, `institution`
(the institution's code, as in an awarding body's `id`), `iss` (the node), `aud`, `exp`.
"""

import argparse
import time
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

AUDIENCE = "microcredentials"
ALGORITHM = "EdDSA"


class Role(StrEnum):
    COURSE_DESIGNER = "course-designer"
    QA_OFFICER = "qa-officer"
    REGISTRAR = "registrar"
    ASSESSOR = "assessor"
    LEARNER = "learner"
    NODE_ADMIN = "node-admin"


class Principal(BaseModel):
    subject: str
    name: str
    roles: frozenset[Role]
    institution: str | None = None
    email: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles


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
    claims = {
        "sub": principal.subject,
        "name": principal.name,
        "roles": sorted(principal.roles),
        "institution": principal.institution,
        "email": principal.email,
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM)


def verify_token(token: str, public_key_pem: bytes) -> Principal:
    """The principal a token names, or jwt.InvalidTokenError saying why not."""
    claims = jwt.decode(
        token, public_key_pem, algorithms=[ALGORITHM], audience=AUDIENCE, options={"require": ["exp", "sub", "aud"]}
    )
    known = {role.value for role in Role}
    return Principal(
        subject=claims["sub"],
        name=claims.get("name") or claims["sub"],
        roles=frozenset(Role(role) for role in claims.get("roles", []) if role in known),
        institution=claims.get("institution"),
        email=claims.get("email"),
    )


@cache
def _read_key(path: str) -> bytes:
    return Path(path).read_bytes()


_bearer = HTTPBearer(auto_error=False)


def current_principal(
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


def require_role(principal: Principal, *roles: Role) -> None:
    """403 naming the roles needed and those held, unless the principal holds one of them."""
    if not any(principal.has(role) for role in roles):
        held = ", ".join(sorted(principal.roles)) or "none"
        needed = " or ".join(roles)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the role {needed}; {principal.subject} has {held}")


def require_institution(principal: Principal, institutions: set[str | None], what: str) -> None:
    """403 unless the principal acts for one of the institutions that own the thing."""
    if principal.institution is None or principal.institution not in institutions:
        owners = ", ".join(sorted(i for i in institutions if i)) or "no institution"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{what} belongs to {owners}; {principal.subject} acts for {principal.institution or 'no institution'}",
        )


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
    token.add_argument("--institution")
    token.add_argument("--issuer", default="urn:microcredentials:node:local")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    args = parser.parse_args()
    if args.command == "keys":
        private_path, public_path = create_keys(args.dir)
        print(f"private key: {private_path}\npublic key:  {public_path}")
    else:
        principal = Principal(
            subject=args.subject,
            name=args.name or args.subject,
            roles=frozenset(Role(role) for role in args.role),
            institution=args.institution,
            email=args.email,
        )
        print(issue_token(args.key.read_bytes(), principal, args.issuer, args.ttl))


if __name__ == "__main__":
    main()
