"""The web front end for the browser tests while the services cannot yet verify the identity provider's tokens:
each call to a service carries a token of the node's own key (AUTH_PRIVATE_KEY_FILE) with the claims of the
signed-in person's access token from Keycloak (roles, institution, affiliation, ESI: what the realm's mappers put
there). Everything else, signing in at Keycloak included, is the real front end.

Used only until the services take Keycloak's tokens themselves (AUTH_OIDC_ISSUERS in shared/auth.py): the tests
then run `python -m services.web` and this module can go.

    python -m tests.e2e.web_with_node_tokens serve
"""

import base64
import json
import os
import sys
from pathlib import Path

import uvicorn

from services.web.app import HERE, create_app
from services.web.models import WebSession
from services.web.settings import WebSettings
from shared.auth import Affiliation, Principal, Role, issue_token
from shared.logging import configure_logging
from shared.migrations import upgrade


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def node_token(key: bytes):  # type: ignore[no-untyped-def]
    def token(session: WebSession) -> str:
        claims = claims_of(session.access_token)
        roles, affiliations = {r.value for r in Role}, {a.value for a in Affiliation}
        codes = claims.get("schacPersonalUniqueCode") or []
        principal = Principal(
            subject=claims["sub"],
            name=claims.get("name"),
            email=claims.get("email"),
            roles=frozenset(Role(r) for r in claims.get("roles", []) if r in roles),
            institution=claims.get("institution"),
            affiliation=frozenset(Affiliation(a) for a in claims.get("affiliation", []) if a in affiliations),
            esi=codes[0] if codes else None,
        )
        return issue_token(key, principal, issuer="urn:microcredentials:test:web", ttl_seconds=300)

    return token


def main() -> None:
    settings = WebSettings()
    configure_logging(settings.service_name, settings.log_format)
    upgrade(settings, HERE / "migrations")
    key = Path(os.environ["AUTH_PRIVATE_KEY_FILE"]).read_bytes()
    uvicorn.run(create_app(settings, node_token(key)), host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    main()
