"""Registries for the tests: a valid one to start from, and publishing it signed as the secretariat's commands do."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from joserfc.jwk import OKPKey

from shared.alliance.commands import serialize, write_atomically
from shared.alliance.models import AllianceRegistry
from shared.alliance.signing import SIGNATURE_SUFFIX, sign

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN_KEY = OKPKey.generate_key("Ed25519")


def alliance_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def write_public_key(path: Path, *keys: OKPKey) -> Path:
    """What the secretariat gives nodes (ALLIANCE_PUBLIC_KEY_FILE): the public keys, as a JWK Set."""
    path.write_text(json.dumps({"keys": [key.as_dict(private=False) for key in keys]}))
    return path


def trusted(*keys: OKPKey) -> dict[str, OKPKey]:
    """What a node pins: the public halves, by key id."""
    return {key.thumbprint(): OKPKey.import_key(key.as_dict(private=False)) for key in keys}


def did_of(base_url: str, institution: str) -> str:
    """The did:web a node at `base_url` signs an institution's credentials with (as services/certification names it)."""
    return f"did:web:{quote(urlsplit(base_url).netloc, safe='')}:institutions:{institution}"


def registry_data(
    serial: int = 1,
    days: int = 90,
    issued: datetime = ISSUED,
    saarland: str = "https://mc.uni-saarland.de",
    silesia: str = "https://mc.us.edu.pl",
) -> dict[str, Any]:
    """Three institutions on two nodes (Saarbrücken hosts two), in three countries; `saarland` and `silesia` are the
    nodes' base URLs (a test's local nodes, say: http://127.0.0.1:<port>)."""
    return {
        "alliance": {"id": "t4eu", "name": "Transform4Europe"},
        "serial": serial,
        "issued": issued.isoformat(),
        "expires": (issued + timedelta(days=days)).isoformat(),
        "nodes": [
            {
                "id": "saarland",
                "base_url": saarland,
                "kafka_principal": "User:saarland",
                "event_source": "urn:microcredentials:node:saarland",
            },
            {
                "id": "silesia",
                "base_url": silesia,
                "kafka_principal": "User:silesia",
                "event_source": "urn:microcredentials:node:silesia",
            },
        ],
        "members": [
            {
                "institution": "uni-saarland",
                "legal_name": "Universität des Saarlandes",
                "country": "DE",
                "node": "saarland",
                "credential_dids": [did_of(saarland, "uni-saarland")],
                "token_issuers": [
                    {
                        "issuer": "https://sso.uni-saarland.de/realms/uds",
                        "jwks": {"keys": [TOKEN_KEY.as_dict(private=False) | {"kid": "uds-2026"}]},
                        "jwks_uri": "https://sso.uni-saarland.de/realms/uds/protocol/openid-connect/certs",
                    }
                ],
            },
            {
                "institution": "htw-saar",
                "legal_name": "Hochschule für Technik und Wirtschaft des Saarlandes",
                "country": "DE",
                "node": "saarland",
                "credential_dids": [did_of(saarland, "htw-saar")],
            },
            {
                "institution": "uni-silesia",
                "legal_name": "University of Silesia in Katowice",
                "country": "PL",
                "node": "silesia",
                "credential_dids": [did_of(silesia, "uni-silesia")],
                "token_issuers": [
                    {
                        "issuer": "https://login.us.edu.pl/idp/shibboleth",
                        "jwks_uri": "https://login.us.edu.pl/idp/profile/oidc/keyset",
                    }
                ],
            },
        ],
    }


def document(data: dict[str, Any]) -> bytes:
    return serialize(AllianceRegistry.model_validate(data))


def publish(path: Path, data: dict[str, Any], key: OKPKey) -> bytes:
    """Write the registry and its detached signature, as `sign` does; returns the document's bytes."""
    signed = document(data)
    write_atomically(path, signed)
    write_atomically(Path(f"{path}{SIGNATURE_SUFFIX}"), sign(signed, key).encode())
    return signed


def three_nodes(
    urls: dict[str, str], principal_prefix: str = "", serial: int = 1, issued: datetime = ISSUED, without: str | None = None
) -> dict[str, Any]:
    """`registry_data` with a third node (Koper, hosting the University of Primorska), the nodes' base URLs from
    `urls` (by node id), their Kafka principals under `principal_prefix` (a test session's own), and `without` a
    node and its members."""
    data = registry_data(serial=serial, issued=issued, saarland=urls["saarland"], silesia=urls["silesia"])
    data["nodes"].append({"id": "primorska", "base_url": urls["primorska"], "kafka_principal": "User:primorska",
                          "event_source": "urn:microcredentials:node:primorska"})
    data["members"].append({"institution": "upr", "legal_name": "Univerza na Primorskem", "country": "SI",
                            "node": "primorska", "credential_dids": [did_of(urls["primorska"], "upr")]})
    for node in data["nodes"]:
        node["kafka_principal"] = f"User:{principal_prefix}{node['id']}"
    data["nodes"] = [node for node in data["nodes"] if node["id"] != without]
    data["members"] = [member for member in data["members"] if member["node"] != without]
    return data
