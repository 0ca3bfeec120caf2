"""What the learner is told, as plain functions: which template and language an event uses, the email it renders
to, and when a failed delivery is tried again."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path

import jinja2

from shared.events import Event
from shared.events.assessment import GradeRecorded
from shared.events.certification import CredentialIssued, CredentialRevoked
from shared.events.common import language_code
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled, LearnerWaitlisted

TEMPLATES = Path(__file__).parent / "templates"
# Every template exists in this language; any other falls back to it.
DEFAULT_LANGUAGE = "en"
PARTS = ("subject.txt", "txt", "html")

# The events a learner is told about; each names its learner in `event.learner`.
LEARNER_FACING = (
    LearnerEnrolled, LearnerWaitlisted, EnrolmentWithdrawn, GradeRecorded, CredentialIssued, CredentialRevoked
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
    }[type(event)]


def template_environment(folder: Path = TEMPLATES, override: Path | str | None = None) -> jinja2.Environment:
    """Templates as `<lang>/<name>.<part>`; a node's `override` folder (TEMPLATES_DIR) is searched first."""
    folders = [Path(override), folder] if override else [folder]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # A template naming a field the event lacks fails loudly, not blank.
        keep_trailing_newline=True,
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


def to_message(email: Email, sender: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    # Stable per event and recipient: a mail system that sees it twice can tell it is the same email.
    message["Message-ID"] = message_id
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    if email.unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients offer their own unsubscribe button, which POSTs to the link.
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # After the content: setting the content clears every Content-* header.
    message["Content-Language"] = email.language
    return message


def retry_delay(attempts: int, first: float, most: float) -> timedelta:
    """After the n-th failed attempt: first, 2 x first, 4 x first, ... at most `most`."""
    return timedelta(seconds=min(first * 2 ** (attempts - 1), most))


def gives_up(attempts: int, created_at: datetime, now: datetime, max_attempts: int, max_age_seconds: float) -> bool:
    """Whether a delivery that just failed transiently has had its chances: attempts used up, or too old."""
    return attempts >= max_attempts or (now - created_at).total_seconds() >= max_age_seconds
