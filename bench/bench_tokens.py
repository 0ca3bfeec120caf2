"""What verifying a bearer token costs a service, once its issuer's keys are known (shared.auth.TokenVerifier).

    .venv/bin/python bench/bench_tokens.py --count 5000

Prints the time of one verification, per kind of issuer: the node's own Ed25519 key; a member's identity provider
with a pinned Ed25519 key (the node's own key is tried first, so this includes one failed Ed25519 check); a provider
signing with RS256 (Keycloak's default) whose keys were fetched from a local HTTP server; and, as the baseline, the
bare signature check with `cryptography`. The provider's server counts requests: after the first, none. A benchmark:
nothing asserts a timing.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from joserfc.jwk import RSAKey  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from shared.alliance import AllianceRegistry  # noqa: E402
from shared.auth import TokenVerifier, create_keys, read_key  # noqa: E402
from shared.settings import ServiceSettings  # noqa: E402
from tests.alliance import TOKEN_KEY, registry_data  # noqa: E402
from tests.integration.test_independent_verifier import serving  # noqa: E402
from tests.unit.test_token_issuers import NOW, SAARLAND_SSO, signed  # noqa: E402


async def per_token(tokens: TokenVerifier, token: str, registry: AllianceRegistry | None, count: int) -> float:
    await tokens.verify(token, registry)  # keys fetched and kept
    started = time.perf_counter()
    for _ in range(count):
        await tokens.verify(token, registry)
    return (time.perf_counter() - started) / count


def bare_ed25519(count: int) -> float:
    key = Ed25519PrivateKey.generate()
    message, public = b"x" * 300, key.public_key()
    signature = key.sign(message)
    started = time.perf_counter()
    for _ in range(count):
        public.verify(signature, message)
    return (time.perf_counter() - started) / count


async def main(count: int) -> None:
    rsa = RSAKey.generate_key(2048, {"kid": "k1", "alg": "RS256"})
    with TemporaryDirectory() as folder, serving() as provider:
        issuer = f"{provider.url}/realms/t4eu"
        provider.documents["/realms/t4eu/.well-known/openid-configuration"] = {
            "issuer": issuer, "jwks_uri": f"{provider.url}/certs"
        }
        provider.documents["/certs"] = {"keys": [rsa.as_dict(private=False)]}
        private, public = create_keys(Path(folder))
        settings = ServiceSettings(auth_public_key_file=str(public), auth_oidc_issuers=(issuer,))
        tokens = TokenVerifier(settings, CollectorRegistry())
        members = AllianceRegistry.model_validate(registry_data(issued=NOW))
        figures = {
            "node's own key (Ed25519)": await per_token(
                tokens, signed(read_key(private.read_bytes()), "Ed25519", iss="urn:x"), members, count
            ),
            "member's provider, pinned Ed25519 key": await per_token(
                tokens, signed(TOKEN_KEY, "Ed25519", kid="uds-2026", iss=SAARLAND_SSO), members, count
            ),
            "node's OpenID Connect provider (RS256)": await per_token(
                tokens, signed(rsa, "RS256", kid="k1", iss=issuer), members, count
            ),
            "baseline: one bare Ed25519 signature check": bare_ed25519(count),
        }
        await tokens.close()
        print(json.dumps({name: f"{seconds * 1e6:.0f} µs" for name, seconds in figures.items()}, indent=2, ensure_ascii=False))
        print(f"requests to the provider: {len(provider.requested)} (discovery and keys, once)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    asyncio.run(main(parser.parse_args().count))
