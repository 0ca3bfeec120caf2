"""Opting out: which emails are optional, the signed unsubscribe token, the footer and the List-Unsubscribe header."""

from email import message_from_bytes, policy
from email.message import EmailMessage

from services.notifications.domain import Message, render, template_environment, to_message
from services.notifications.preferences import is_optional, learner_of, unsubscribe_token, unsubscribe_url
from services.notifications.settings import NotificationsSettings
from services.notifications.tests.test_languages import events

SECRET = b"node-secret"
LINK = "https://notifications.uni-saarland.example/unsubscribe?token=abc.def"


def received(message: Message) -> EmailMessage:
    """The message as a mail client reads it."""
    return message_from_bytes(message.data, policy=policy.default)  # type: ignore[return-value]


def test_every_email_but_the_credentials_own_is_optional() -> None:
    assert not is_optional("credential_issued") and not is_optional("credential_revoked")
    for name in ("learner_enrolled", "learner_promoted", "learner_waitlisted", "enrolment_withdrawn"):
        assert is_optional(name)


def test_a_token_names_its_learner_and_cannot_be_forged_or_altered() -> None:
    token = unsubscribe_token("learner-ada@uni.example", SECRET)
    assert learner_of(token, SECRET) == "learner-ada@uni.example"
    assert learner_of(token, b"another node") is None
    other = unsubscribe_token("learner-bob", SECRET)
    assert learner_of(other.split(".")[0] + "." + token.split(".")[1], SECRET) is None, "a signature for someone else"
    for broken in ("", ".", "x", token[:-2], token + "x", "!!!." + token.split(".")[1]):
        assert learner_of(broken, SECRET) is None


def test_the_link_points_at_this_services_public_address() -> None:
    settings = NotificationsSettings(unsubscribe_base_url="https://notifications.uni-saarland.example/")
    link = unsubscribe_url(settings, "learner-ada", SECRET)
    assert link.startswith("https://notifications.uni-saarland.example/unsubscribe?token=")


def test_an_optional_email_carries_the_link_in_its_language_and_in_the_header() -> None:
    for language, words in (("en", "Unsubscribe"), ("de", "abbestellen"), ("fr", "Ne plus recevoir")):
        event = events(language)["learner_waitlisted"]
        email = render(template_environment(), "learner_waitlisted", "lea@example.eu", event, unsubscribe_url=LINK)
        assert LINK in email.text
        assert f'href="{LINK}"' in email.html and words in email.html
        assert email.html.rstrip().endswith("</html>")
        message = received(to_message(email, "no-reply@uni.example", "<m@uni.example>"))
        assert message["List-Unsubscribe"] == f"<{LINK}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_email_without_a_link_has_no_footer_and_no_header() -> None:
    email = render(template_environment(), "credential_issued", "lea@example.eu", events("en")["credential_issued"])
    assert "unsubscribe" not in email.text.lower()
    assert received(to_message(email, "no-reply@uni.example", "<m@uni.example>"))["List-Unsubscribe"] is None
