"""The demo's identity provider: a Keycloak realm with a person for every role at each university, and the client the
web front end signs people in with (authorization code with PKCE).

`python -m deploy.keycloak_realm --out realm.json` writes the realm as Keycloak imports it (`deploy/keycloak/
keycloak.sh start` does, when the realm is new or this module changed). The demo prints the logins from `DEMO_USERS`;
the browser tests sign in as them. Every password here is for the demo only.

Tokens carry what the node's services read (shared/auth.py): `sub` (Keycloak's user id, which is the learner id),
`name`, `email`, `roles` (the realm roles), `institution` and `affiliation` (user attributes, eduPerson's values),
`schacPersonalUniqueCode` (a learner's ESI, when known) and `microcredentials` in `aud`.
"""

import argparse
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.auth import AUDIENCE, Role

REALM = "microcredentials"
WEB_CLIENT_ID = "microcredentials-web"
# The web front end's client secret, for the demo's realm only; a university's IdP issues its own (WEB_OIDC_CLIENT_SECRET).
WEB_CLIENT_SECRET = "demo-web-client-secret"
DEMO_PASSWORD = "demo-password"
# Keycloak lets a registered loopback address without a port match any port (RFC 8252, 7.3): the demo's and the tests'
# front ends run on whatever port is free.
LOOPBACK_REDIRECTS = ("http://127.0.0.1/*", "http://localhost/*")
LANGUAGES = ("en", "de", "fr", "bg", "it", "lt")


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    email: str
    roles: tuple[Role, ...]
    institution: str | None = None
    affiliation: tuple[str, ...] = ()
    esi: str | None = None
    locale: str | None = None
    password: str = DEMO_PASSWORD
    # Stable ids, so that a learner's id (the token's `sub`) is the same each time the realm is made.
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:microcredentials:demo:{self.username}")))

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def as_keycloak(self) -> dict[str, Any]:
        attributes: dict[str, list[str]] = {}
        if self.institution:
            attributes["institution"] = [self.institution]
        if self.affiliation:
            attributes["affiliation"] = list(self.affiliation)
        if self.esi:
            attributes["schacPersonalUniqueCode"] = [self.esi]
        if self.locale:
            attributes["locale"] = [self.locale]
        return {
            "id": self.id,
            "username": self.username,
            "enabled": True,
            "email": self.email,
            "emailVerified": True,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "attributes": attributes,
            "realmRoles": [str(role) for role in self.roles],
            "credentials": [{"type": "password", "value": self.password, "temporary": False}],
        }


def _staff(username: str, first: str, last: str, domain: str, role: Role, institution: str) -> DemoUser:
    return DemoUser(username, first, last, f"{username}@{domain}", (role,), institution, ("staff", "employee", "member"))


DEMO_USERS: tuple[DemoUser, ...] = (
    # Learners: students of three alliance universities, a staff member of one, and someone from outside.
    DemoUser("ana.horvat", "Ana", "Horvat", "ana.horvat@student.upr.si", (Role.LEARNER,), "upr", ("student", "member"),
             esi="urn:schac:personalUniqueCode:int:esi:si:63000123"),
    DemoUser("lena.fischer", "Lena", "Fischer", "lena.fischer@stud.uni-saarland.de", (Role.LEARNER,), "uni-saarland",
             ("student", "member"), locale="de"),
    DemoUser("mila.georgieva", "Mila", "Georgieva", "mila.georgieva@uni-sofia.bg", (Role.LEARNER,), "uni-sofia",
             ("student", "member"), locale="bg"),
    DemoUser("marko.novak", "Marko", "Novak", "marko.novak@upr.si", (Role.LEARNER,), "upr", ("staff", "employee", "member")),
    DemoUser("sam.taylor", "Sam", "Taylor", "sam.taylor@example.com", (Role.LEARNER,)),
    # Staff of Saarland University, Sofia University and the University of Primorska, one for each role.
    _staff("julia.becker", "Julia", "Becker", "uni-saarland.de", Role.COURSE_DESIGNER, "uni-saarland"),
    _staff("thomas.wagner", "Thomas", "Wagner", "uni-saarland.de", Role.QA_OFFICER, "uni-saarland"),
    _staff("petra.klein", "Petra", "Klein", "uni-saarland.de", Role.REGISTRAR, "uni-saarland"),
    _staff("maria.schmidt", "Maria", "Schmidt", "uni-saarland.de", Role.ASSESSOR, "uni-saarland"),
    _staff("elena.dimitrova", "Elena", "Dimitrova", "uni-sofia.bg", Role.COURSE_DESIGNER, "uni-sofia"),
    _staff("georgi.ivanov", "Georgi", "Ivanov", "uni-sofia.bg", Role.QA_OFFICER, "uni-sofia"),
    _staff("boryana.stoyanova", "Boryana", "Stoyanova", "uni-sofia.bg", Role.REGISTRAR, "uni-sofia"),
    _staff("nikolay.kolev", "Nikolay", "Kolev", "uni-sofia.bg", Role.ASSESSOR, "uni-sofia"),
    _staff("maja.kralj", "Maja", "Kralj", "upr.si", Role.COURSE_DESIGNER, "upr"),
    _staff("luka.zupan", "Luka", "Zupan", "upr.si", Role.QA_OFFICER, "upr"),
    _staff("nina.kos", "Nina", "Kos", "upr.si", Role.REGISTRAR, "upr"),
    _staff("tomaz.vidmar", "Tomaž", "Vidmar", "upr.si", Role.ASSESSOR, "upr"),
    DemoUser("node.admin", "Node", "Administrator", "node.admin@microcredentials.local", (Role.NODE_ADMIN,)),
)


def demo_user(username: str) -> DemoUser:
    return next(user for user in DEMO_USERS if user.username == username)


def _claim(name: str, mapper: str, attribute: str | None = None, multivalued: bool = False) -> dict[str, Any]:
    """A protocol mapper putting a user attribute (or the realm roles) into the ID and access tokens and userinfo."""
    config = {
        "claim.name": name,
        "jsonType.label": "String",
        "id.token.claim": "true",
        "access.token.claim": "true",
        "userinfo.token.claim": "true",
        "introspection.token.claim": "true",
        "multivalued": str(multivalued).lower(),
    }
    if attribute:
        config["user.attribute"] = attribute
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "config": config}


def _profile_attribute(name: str, display: str, multivalued: bool = False) -> dict[str, Any]:
    # What the identity provider attests: administrators set it, people see it but never change it themselves.
    return {
        "name": name,
        "displayName": display,
        "multivalued": multivalued,
        "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
        "annotations": {},
    }


def _user_profile() -> dict[str, Any]:
    """Keycloak keeps only the attributes its user profile declares: the usual four, and those the tokens carry."""

    def own(name: str, display: str, validations: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "displayName": display,
            "validations": validations,
            "required": {"roles": ["user"]},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        }

    return {
        "attributes": [
            {"name": "username", "displayName": "${username}", "validations": {"length": {"min": 3, "max": 255}},
             "permissions": {"view": ["admin", "user"], "edit": ["admin"]}, "multivalued": False},
            own("email", "${email}", {"email": {}, "length": {"max": 255}}),
            own("firstName", "${firstName}", {"length": {"max": 255}}),
            own("lastName", "${lastName}", {"length": {"max": 255}}),
            _profile_attribute("institution", "Home institution"),
            _profile_attribute("affiliation", "Affiliation (eduPersonAffiliation)", multivalued=True),
            _profile_attribute("schacPersonalUniqueCode", "European Student Identifier", multivalued=True),
        ],
        "groups": [],
        # The login page's language choice (kept as the `locale` attribute) stays the person's own.
        "unmanagedAttributePolicy": "ADMIN_VIEW",
    }


def realm(users: tuple[DemoUser, ...] = DEMO_USERS, web_redirects: tuple[str, ...] = LOOPBACK_REDIRECTS) -> dict[str, Any]:
    """The realm as Keycloak's import reads it."""
    return {
        "realm": REALM,
        "displayName": "Transform4Europe (demo)",
        "enabled": True,
        "sslRequired": "external",
        "registrationAllowed": False,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "resetPasswordAllowed": False,
        "bruteForceProtected": True,
        "internationalizationEnabled": True,
        "supportedLocales": list(LANGUAGES),
        "defaultLocale": "en",
        # Access tokens are short-lived; the front end refreshes them while the person's SSO session lasts.
        "accessTokenLifespan": 300,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "roles": {
            "realm": [{"name": str(role), "description": f"micro-credentials: {role}"} for role in Role],
        },
        "users": [user.as_keycloak() for user in users],
        "clients": [
            {
                "clientId": WEB_CLIENT_ID,
                "name": "Micro-credentials web front end",
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": WEB_CLIENT_SECRET,
                "standardFlowEnabled": True,
                "implicitFlowEnabled": False,
                "directAccessGrantsEnabled": False,
                "serviceAccountsEnabled": False,
                "frontchannelLogout": False,
                "redirectUris": list(web_redirects),
                "webOrigins": [],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": "##".join(web_redirects),
                },
                "protocolMappers": [
                    _claim("roles", "oidc-usermodel-realm-role-mapper", multivalued=True),
                    _claim("institution", "oidc-usermodel-attribute-mapper", "institution"),
                    _claim("affiliation", "oidc-usermodel-attribute-mapper", "affiliation", multivalued=True),
                    _claim("schacPersonalUniqueCode", "oidc-usermodel-attribute-mapper", "schacPersonalUniqueCode",
                           multivalued=True),
                    {
                        "name": "audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "config": {
                            "included.custom.audience": AUDIENCE,
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                            "introspection.token.claim": "true",
                        },
                    },
                ],
            }
        ],
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(_user_profile())]},
                }
            ]
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the demo's Keycloak realm (demo users and the web client).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(realm(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
