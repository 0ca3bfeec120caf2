"""What the learner is told, as plain functions: which template an event uses and the email it renders to."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import jinja2

from shared.events import Event
from shared.events.certification import CredentialIssued
from shared.events.enrolment import EnrolmentWithdrawn, LearnerEnrolled, LearnerWaitlisted

TEMPLATES = Path(__file__).parent / "templates"

# The events a learner is told about; each names its learner in `event.learner`.
LEARNER_FACING = (LearnerEnrolled, LearnerWaitlisted, EnrolmentWithdrawn, CredentialIssued)


@dataclass(frozen=True)
class Email:
    recipient: str
    subject: str
    text: str
    html: str
    template: str


def template_for(event: Event) -> str:
    """The template that tells the learner about this event."""
    if isinstance(event, LearnerEnrolled):
        return "learner_promoted" if event.promoted_from_waitlist else "learner_enrolled"
    return {
        LearnerWaitlisted: "learner_waitlisted",
        EnrolmentWithdrawn: "enrolment_withdrawn",
        CredentialIssued: "credential_issued",
    }[type(event)]


def template_environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,  # A template naming a field the event lacks fails loudly, not blank.
        keep_trailing_newline=True,
    )


def render(environment: jinja2.Environment, template: str, recipient: str, event: Event) -> Email:
    """Each template comes as `<name>.subject.txt`, `<name>.txt` and `<name>.html`, all given the event."""
    values = {"event": event}
    return Email(
        recipient=recipient,
        # One line, whatever the course title holds: a line break in a header would stop the email.
        subject=" ".join(environment.get_template(f"{template}.subject.txt").render(values).split()),
        text=environment.get_template(f"{template}.txt").render(values),
        html=environment.get_template(f"{template}.html").render(values),
        template=template,
    )


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
    return message
