"""The front end as an OpenID Connect relying party (a confidential client): authorization code flow with PKCE
(RFC 7636, S256), the ID token checked against the provider's published keys (issuer, audience, expiry, nonce),
refreshing the access token, and RP-initiated logout.

The provider is found from its issuer URL (OpenID Connect Discovery); its configuration and keys are kept, and the
keys fetched again when a token names a key id they lack (the provider rotated its keys).
"""

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# Algorithms an ID token may be signed with; never "none", never HMAC with a key anyone could guess.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
# How long the provider's configuration is kept before it is read again.
DISCOVERY_SECONDS = 3600


class SignInFailed(Exception):
    """The provider refused, or answered with something this relying party must not believe (said in the message)."""


class ProviderUnavailable(Exception):
    """The provider did not answer."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None
    id_token: str | None


def code_verifier() -> str:
    """RFC 7636 4.1: 43 to 128 characters; 64 random bytes, base64url."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    """RFC 7636 4.2, S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class Provider:
    def __init__(self, http: httpx.AsyncClient, issuer: str, client_id: str, client_secret: str | None, scopes: str):
        self.http, self.issuer = http, issuer.rstrip("/")
        self.client_id, self.client_secret, self.scopes = client_id, client_secret, scopes
        self._configuration: dict[str, Any] | None = None
        self._read_at = 0.0
        self._keys: KeySet | None = None

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the identity provider at {self.issuer} does not answer: {error!r}") from error
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        return response.json()

    async def configuration(self) -> dict[str, Any]:
        if self._configuration is None or time.monotonic() - self._read_at > DISCOVERY_SECONDS:
            found = await self._get(f"{self.issuer}/.well-known/openid-configuration")
            if found.get("issuer", "").rstrip("/") != self.issuer:
                # OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
                raise SignInFailed(f"the provider's configuration names issuer {found.get('issuer')!r}, not {self.issuer}")
            self._configuration, self._read_at = found, time.monotonic()
        return self._configuration

    async def authorization_url(
        self, redirect_uri: str, state: str, nonce: str, verifier: str, language: str | None = None
    ) -> str:
        configuration = await self.configuration()
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if language:
            parameters["ui_locales"] = language  # The provider's login page in the reader's language, where it can.
        return f"{configuration['authorization_endpoint']}?{urlencode(parameters)}"

    async def _token_request(self, form: dict[str, str]) -> Tokens:
        configuration = await self.configuration()
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        if auth is None:
            form = form | {"client_id": self.client_id}
        try:
            response = await self.http.post(configuration["token_endpoint"], data=form, auth=auth)
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"the identity provider's token endpoint does not answer: {error!r}") from error
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or "access_token" not in body:
            reason = body.get("error_description") or body.get("error") or f"status {response.status_code}"
            raise SignInFailed(f"the identity provider refused: {reason}")
        return Tokens(
            access_token=body["access_token"],
            expires_in=int(body.get("expires_in") or 60),
            refresh_token=body.get("refresh_token"),
            id_token=body.get("id_token"),
        )

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> Tokens:
        """The authorization code for tokens, proving with the PKCE verifier that this is the client that asked."""
        tokens = await self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        )
        if not tokens.id_token:
            raise SignInFailed("the identity provider sent no ID token (is the scope 'openid' granted?)")
        return tokens

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _key_set(self, fresh: bool = False) -> KeySet:
        if self._keys is None or fresh:
            configuration = await self.configuration()
            self._keys = KeySet.import_key_set(await self._get(configuration["jwks_uri"]))  # type: ignore[arg-type]
        return self._keys

    async def id_claims(self, id_token: str, nonce: str | None) -> dict[str, Any]:
        """The ID token's claims once its signature (by the provider's published keys), issuer, audience, expiry and
        nonce check out (OpenID Connect Core 3.1.3.7)."""
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except JoseError:
                # A key id the kept keys lack: the provider may have rotated its keys since.
                token = jwt.decode(id_token, await self._key_set(fresh=True), algorithms=ALGORITHMS)
            expected: dict[str, Any] = {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "sub": {"essential": True},
            }
            if nonce is not None:
                expected["nonce"] = {"essential": True, "value": nonce}
            jwt.JWTClaimsRegistry(leeway=30, **expected).validate(token.claims)
        except (JoseError, ValueError) as error:
            raise SignInFailed(f"the ID token is not acceptable: {error}") from error
        return token.claims

    async def logout_url(self, id_token: str | None, after: str) -> str | None:
        """RP-initiated logout: the provider ends its own session too, then sends the browser to `after`."""
        endpoint = (await self.configuration()).get("end_session_endpoint")
        if not endpoint:
            return None
        parameters = {"client_id": self.client_id, "post_logout_redirect_uri": after}
        if id_token:
            parameters["id_token_hint"] = id_token
        return f"{endpoint}?{urlencode(parameters)}"
