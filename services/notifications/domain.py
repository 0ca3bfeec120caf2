"""What the learner is told, as plain functions: which template and language an event uses, the email it renders
to, and when a failed delivery is tried again."""

import binascii
import functools
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path

import jinja2

from shared.events import Event
from shared.events.assessment import GradeRecorded
from shared.events.certification import CredentialCompleted, CredentialIssued, CredentialRevoked
from shared.events.common import language_code
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled, LearnerWaitlisted

TEMPLATES = Path(__file__).parent / "templates"
# Every template exists in this language; any other falls back to it.
DEFAULT_LANGUAGE = "en"
PARTS = ("subject.txt", "txt", "html")

# The events a learner is told about; each names its learner in `event.learner`.
LEARNER_FACING = (
    LearnerEnrolled, LearnerWaitlisted, EnrolmentWithdrawn, GradeRecorded, CredentialIssued, CredentialRevoked,
    CredentialCompleted,
)


@dataclass(frozen=True)
class Email:
    recipient: str
    subject: str
    text: str
    html: str
    template: str
    language: str = DEFAULT_LANGUAGE
    # Optional emails carry the learner's unsubscribe link (footer and List-Unsubscribe header).
    unsubscribe_url: str | None = None


def template_for(event: Event) -> str:
    """The template that tells the learner about this event."""
    if isinstance(event, LearnerEnrolled):
        return "learner_promoted" if event.promoted_from_waitlist else "learner_enrolled"
    if isinstance(event, CredentialIssued) and event.programme:
        return "programme_credential_issued"
    return {
        LearnerWaitlisted: "learner_waitlisted",
        EnrolmentWithdrawn: "enrolment_withdrawn",
        GradeRecorded: "grade_recorded",
        CredentialIssued: "credential_issued",
        CredentialRevoked: "credential_revoked",
        CredentialCompleted: "credential_completed",
    }[type(event)]


def template_environment(folder: Path = TEMPLATES, override: Path | str | None = None) -> jinja2.Environment:
    """Templates as `<lang>/<name>.<part>`; a node's `override` folder (TEMPLATES_DIR) is searched first."""
    folders = [Path(override), folder] if override else [folder]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # A template naming a field the event lacks fails loudly, not blank.
        keep_trailing_newline=True,
        auto_reload=False,  # Templates change with a deployment, not while it runs: no stat() of the file per email.
    )
    environment.filters["amount"] = amount
    return environment


def amount(value: float, language: str = DEFAULT_LANGUAGE) -> str:
    """120.00 in English, 120,00 in the other languages of the templates (German, French, Bulgarian, Italian, Lithuanian)."""
    text = f"{value:.2f}"
    return text if language == DEFAULT_LANGUAGE else text.replace(".", ",")


def has_template(environment: jinja2.Environment, template: str, language: str) -> bool:
    try:
        for part in PARTS:
            environment.get_template(f"{language}/{template}.{part}")
    except jinja2.TemplateNotFound:
        return False
    return True


def template_language(environment: jinja2.Environment, template: str, preferred: str | None) -> str:
    """The learner's language when this template exists in it (in all its parts), else English."""
    code = language_code(preferred)
    if code and code != DEFAULT_LANGUAGE and has_template(environment, template, code):
        return code
    return DEFAULT_LANGUAGE


def render(
    environment: jinja2.Environment,
    template: str,
    recipient: str,
    event: Event,
    language: str | None = None,
    unsubscribe_url: str | None = None,
) -> Email:
    """Each template comes as `<lang>/<name>.subject.txt`, `.txt` and `.html`, all given the event.

    The language is the learner's preferred one (`event.learner.preferred_language`) unless given, falling back to
    English where the template does not exist in it. With an unsubscribe link, the footer `<lang>/_unsubscribe.txt`
    and `.html` is added (the html one before `</body>`).
    """
    if language is None:
        learner = getattr(event, "learner", None)
        language = getattr(learner, "preferred_language", None)
    chosen = template_language(environment, template, language)
    values = {"event": event, "language": chosen}

    def part(name: str) -> str:
        return environment.get_template(f"{chosen}/{template}.{name}").render(values)

    text, html = part("txt"), part("html")
    if unsubscribe_url:
        footer_values = values | {"unsubscribe_url": unsubscribe_url}

        def footer(name: str) -> str:
            found = environment.select_template([f"{chosen}/_unsubscribe.{name}", f"{DEFAULT_LANGUAGE}/_unsubscribe.{name}"])
            return found.render(footer_values)

        text = text.rstrip("\n") + "\n" + footer("txt")
        before, end, after = html.rpartition("</body>")
        html = before + footer("html") + end + after if end else html + footer("html")
    return Email(
        recipient=recipient,
        # One line, whatever the course title holds: a line break in a header would stop the email. (French keeps its
        # no-break spaces before the colon and inside the guillemets.)
        subject=re.sub(r"[^\S\u00a0]+", " ", part("subject.txt")).strip(),
        text=text,
        html=html,
        template=template,
        language=chosen,
        unsubscribe_url=unsubscribe_url,
    )


def message_id(about_event_id: str, template: str, sender: str) -> str:
    """Stable per event and template (hence recipient): the same email always carries the same Message-ID."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "microcredentials.local"
    return f"<{about_event_id}.{template}@{domain}>"


@dataclass(frozen=True)
class Message:
    """An email as it goes over SMTP: the envelope's addresses and the message's bytes (RFC 5322 with MIME)."""

    sender: str
    recipient: str
    message_id: str
    data: bytes
    # An address that is not ASCII needs the relay's SMTPUTF8 (RFC 6531), its header raw UTF-8 (RFC 6532).
    smtputf8: bool = False


def to_message(email: Email, sender: str, message_id: str) -> Message:
    """The email as text and HTML alternatives, written straight to bytes: the `email` package's EmailMessage parsed
    every header and re-encoded every part on each email, a third of the service's CPU in a cohort
    (bench/bench_cohort.py). Non-ASCII header text is encoded as RFC 2047 words, bodies as quoted-printable UTF-8, so
    the message is 7-bit whatever the language and the relay's extensions."""
    plain = PLAIN_ADDRESS.fullmatch(email.recipient) is not None
    address = email.recipient if plain else parseaddr(email.recipient)[1]
    smtputf8 = not (address.isascii() and _envelope_sender(sender).isascii())
    boundary = f"=_{uuid.uuid4().hex}"  # "=" never occurs in quoted-printable text: no body can contain it.
    headers = [
        ("From", _sender_header(sender)),
        ("To", email.recipient if plain else _address_header(email.recipient)),
        ("Subject", _text_header("Subject", email.subject)),
        ("Date", _date(int(time.time()))),
        # Stable per event and recipient: a mail system that sees it twice can tell it is the same email.
        ("Message-ID", message_id),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ("Content-Language", email.language),
    ]
    if email.unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients offer their own unsubscribe button, which POSTs to the link.
        headers += [("List-Unsubscribe", f"<{email.unsubscribe_url}>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    for field, value in headers:
        if {"\r", "\n"} & set(value.replace("\r\n ", "")):  # Folded lines go on with a space; nothing else breaks.
            raise ValueError(f"{field} would break the email's header: {value!r}")
    head = "".join(f"{field}: {value}\r\n" for field, value in headers)
    data = head.encode("utf-8" if smtputf8 else "ascii") + b"".join(
        b"\r\n--" + boundary.encode() + b"\r\nContent-Type: text/" + subtype + b'; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + _quoted_printable(body)
        for subtype, body in ((b"plain", email.text), (b"html", email.html))
    ) + b"\r\n--" + boundary.encode() + b"--\r\n"
    return Message(_envelope_sender(sender), address, message_id, data, smtputf8)


@functools.lru_cache(maxsize=16)
def _envelope_sender(sender: str) -> str:
    return parseaddr(sender)[1]


# A bare address in ASCII (dot-atom@domain) is its own header and envelope address: no parsing needed (one email in
# a cohort spent more in parsing and re-formatting it than in the rest of its headers).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


@functools.lru_cache(maxsize=16)
def _sender_header(sender: str) -> str:
    return _address_header(sender)


def _address_header(value: str) -> str:
    name, address = parseaddr(value)
    if address.isascii():
        return formataddr((name, address), charset="utf-8")  # A name that is not ASCII as an RFC 2047 word.
    # RFC 6532: the address as it is, in UTF-8 (sent only through a relay that offers SMTPUTF8).
    return f"{Header(name, 'utf-8').encode()} <{address}>" if name else address


@functools.lru_cache(maxsize=1)
def _date(second: int) -> str:
    # A batch's emails are written within the same second or two: formatted once per second, not once per email.
    return formatdate(second, localtime=False)


# A cohort's emails share a few subjects (one per template, course and language): each encoded once, not once per
# email (the `email` package's Header was a third of a claim's CPU).
@functools.lru_cache(maxsize=256)
def _text_header(field: str, value: str) -> str:
    # Folded at 78 characters; words that are not ASCII become RFC 2047 encoded words.
    # ASCII that looks like an encoded word ("=?...?=", from a course title) is encoded too, so it reads as written.
    charset = "us-ascii" if value.isascii() and "=?" not in value else "utf-8"
    return Header(value, charset, header_name=field).encode(linesep="\r\n")


def _quoted_printable(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    encoded = binascii.b2a_qp(lines.encode(), istext=True)
    return encoded if encoded.endswith(b"\r\n") else encoded + b"\r\n"


def retry_delay(attempts: int, first: float, most: float) -> timedelta:
    """After the n-th failed attempt: first, 2 x first, 4 x first, ... at most `most`."""
    return timedelta(seconds=min(first * 2 ** (attempts - 1), most))


def gives_up(attempts: int, created_at: datetime, now: datetime, max_attempts: int, max_age_seconds: float) -> bool:
    """Whether a delivery that just failed transiently has had its chances: attempts used up, or too old."""
    return attempts >= max_attempts or (now - created_at).total_seconds() >= max_age_seconds
