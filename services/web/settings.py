"""The web front end's settings, from the environment (WEB_... names are the front end's own)."""

from pydantic import Field, SecretStr

from shared.settings import ServiceSettings


class WebSettings(ServiceSettings):
    service_name: str = "web"
    http_port: int = 8000
    # Where people reach the front end: the sign-in's redirect address (<public_url>/auth/callback) and the links it
    # gives out (share links) are made from it. With https, its cookies are sent over https only.
    public_url: str = "http://127.0.0.1:8000"

    # The node's services, as the front end reaches them (server to server).
    catalogue_url: str = "http://127.0.0.1:8001"
    enrolment_url: str = "http://127.0.0.1:8002"
    assessment_url: str = "http://127.0.0.1:8003"
    certification_url: str = "http://127.0.0.1:8004"
    notifications_url: str = "http://127.0.0.1:8005"
    # Each call to a service ends after this long (then the page says the service does not answer).
    service_timeout_seconds: float = Field(default=10.0, gt=0)
    # The largest public document (DID document, status list, credential, certificate PDF) passed on from
    # certification under the front end's origin (services/web/routes/documents.py); larger answers get a 502.
    forwarded_document_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # The university's OpenID Connect provider: its issuer URL (the front end reads
    # <issuer>/.well-known/openid-configuration), and this front end's client there (authorization code with PKCE).
    # Without an issuer, nobody can sign in: the public pages (catalogue, verify) still work.
    oidc_issuer: str | None = None
    oidc_client_id: str = "microcredentials-web"
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"

    # A signed-in session ends after this long without a request, and in any case this long after signing in (the
    # identity provider's own session may end it sooner: then its tokens cannot be refreshed).
    session_idle_minutes: float = Field(default=30, gt=0)
    session_max_hours: float = Field(default=10, gt=0)
    # Signs the forms' CSRF tokens and the pages' notices; by default a random secret the first migration stored.
    web_secret_key: SecretStr | None = None
    # Dates and times are shown in this time zone (an IANA name), in the reader's language's format.
    web_timezone: str = "Europe/Brussels"
