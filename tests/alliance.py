"""Registries for the tests: a valid one to start from, and publishing it signed as the secretariat's commands do."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from shared.alliance.commands import serialize, write_atomically
from shared.alliance.models import AllianceRegistry
from shared.alliance.signing import SIGNATURE_SUFFIX, sign

ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN_KEY = OKPKey.generate_key("Ed25519")


def alliance_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519")


def trusted(*keys: OKPKey) -> dict[str, OKPKey]:
    """What a node pins: the public halves, by key id."""
    return {key.thumbprint(): OKPKey.import_key(key.as_dict(private=False)) for key in keys}


def registry_data(serial: int = 1, days: int = 90) -> dict[str, Any]:
    """Three institutions on two nodes (Saarbrücken hosts two), in three countries."""
    return {
        "alliance": {"id": "t4eu", "name": "Transform4Europe"},
        "serial": serial,
        "issued": ISSUED.isoformat(),
        "expires": (ISSUED + timedelta(days=days)).isoformat(),
        "nodes": [
            {
                "id": "saarland",
                "base_url": "https://mc.uni-saarland.de",
                "kafka_principal": "User:saarland",
                "event_source": "urn:microcredentials:node:saarland",
            },
            {
                "id": "silesia",
                "base_url": "https://mc.us.edu.pl",
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
                "credential_dids": ["did:web:mc.uni-saarland.de:institutions:uni-saarland"],
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
                "credential_dids": ["did:web:mc.uni-saarland.de:institutions:htw-saar"],
            },
            {
                "institution": "uni-silesia",
                "legal_name": "University of Silesia in Katowice",
                "country": "PL",
                "node": "silesia",
                "credential_dids": ["did:web:mc.us.edu.pl:institutions:uni-silesia"],
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
