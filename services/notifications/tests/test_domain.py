"""What the learner is told: the credential-issued email, rendered from the event."""

from datetime import UTC, datetime

from services.notifications.domain import Email, render, template_environment, to_message
from shared.events.catalogue import AwardingBody
from shared.events.certification import CredentialIssued
from shared.events.common import LearnerIdentity

CREDENTIAL_URL = "https://certification.uni-saarland.example/credentials/credential-42"


def credential_issued(title: str = "Ethics of AI") -> CredentialIssued:
    return CredentialIssued(
        credential_id="credential-42",
        learner_id="learner-ada",
        learner=LearnerIdentity(learner_id="learner-ada", name="Ada Lovelace", email="ada@example.org"),
        course_id="course-ai-ethics",
        course_version=2,
        title=title,
        awarding_bodies=[AwardingBody(name="Saarland University", country="DE")],
        issued_at=datetime(2025, 7, 1, 10, 30, tzinfo=UTC),
        grade="1.3",
        credential_url=CREDENTIAL_URL,
    )


def email(title: str = "Ethics of AI") -> Email:
    return render(template_environment(), "credential_issued", "ada@example.org", credential_issued(title))


def test_the_email_names_the_course_greets_the_learner_and_links_the_credential() -> None:
    rendered = email()

    assert "Ethics of AI" in rendered.subject and "\n" not in rendered.subject
    for part in (rendered.text, rendered.html):
        assert "Ada Lovelace" in part
        assert CREDENTIAL_URL in part
    assert f'href="{CREDENTIAL_URL}"' in rendered.html
    assert (rendered.recipient, rendered.template) == ("ada@example.org", "credential_issued")


def test_a_course_title_cannot_inject_markup_into_the_html_email() -> None:
    rendered = email(title="AI <script>alert(1)</script> Ethics")

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
    assert "AI <script>alert(1)</script> Ethics" in rendered.subject, "the subject is plain text, not HTML"


def test_the_message_offers_text_and_html_as_alternatives_with_the_given_message_id() -> None:
    message_id = "<event-1.credential_issued@microcredentials.local>"
    message = to_message(email(), "Micro-credentials <no-reply@microcredentials.local>", message_id)

    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == message_id
    assert (message["To"], message["Subject"]) == ("ada@example.org", email().subject)
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert CREDENTIAL_URL in parts["text/plain"] and f'href="{CREDENTIAL_URL}"' in parts["text/html"]
