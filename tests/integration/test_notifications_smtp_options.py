"""The mailer against a relay like a university's: STARTTLS required, then authentication (aiosmtpd in process, with a
self-signed certificate), and the From address of the node's MAIL_FROM."""

import datetime as dt
import ssl
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notifications.domain import Email, Message, to_message
from services.notifications.mailer import Mailer, is_permanent
from services.notifications.settings import NotificationsSettings
from tests.stack import free_port

pytestmark = pytest.mark.integration


def self_signed(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class Relay:
    """Requires STARTTLS, then AUTH as mailer/secret; offers PIPELINING, as Postfix does; keeps what it accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes, bool]] = []

    async def handle_EHLO(self, server, session, envelope, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content, session.ssl is not None))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"secret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def relay(tmp_path: Path):
    handler = Relay()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=self_signed(tmp_path),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    yield handler, port
    controller.stop()


def message() -> Message:
    email = Email("ada@example.eu", "Your micro-credential has been issued", "Congratulations", "<p>Congratulations</p>",
                  "credential_issued")
    return to_message(email, "Saarland University <no-reply@uni-saarland.example>", "<m@uni-saarland.example>")


def settings(port: int, **overrides: object) -> NotificationsSettings:
    values: dict[str, object] = dict(
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=True, smtp_validate_certs=False,
        smtp_username="mailer", smtp_password="secret", smtp_timeout_seconds=5,
    )
    return NotificationsSettings(**(values | overrides))


async def test_starttls_and_authentication_from_the_settings_get_the_email_through(relay):
    handler, port = relay
    sent = message()
    await Mailer(settings(port)).send(sent)

    [(sender, recipients, data, encrypted)] = handler.received
    assert (sender, recipients, encrypted) == ("no-reply@uni-saarland.example", ["ada@example.eu"], True)
    assert data == sent.data, "pipelined over TLS, after STARTTLS and AUTH"


async def test_without_starttls_or_with_a_wrong_password_the_relay_refuses_and_the_email_is_retried(relay):
    handler, port = relay
    for wrong in (settings(port, smtp_starttls=False), settings(port, smtp_password="guess")):
        with pytest.raises(aiosmtplib.SMTPException) as refused:
            await Mailer(wrong).send(message())
        assert not is_permanent(refused.value), "the node's settings to fix, not the email to drop"
    assert handler.received == []


async def test_certificates_are_checked_unless_told_otherwise(relay):
    _, port = relay
    with pytest.raises((aiosmtplib.SMTPException, ssl.SSLError)):
        await Mailer(settings(port, smtp_validate_certs=True)).send(message())
