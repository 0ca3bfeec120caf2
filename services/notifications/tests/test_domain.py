"""What the learner is told: the credential-issued email, rendered from the event."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from services.notifications.domain import Email, render, template_environment, template_for, to_message
from shared.events.assessment import GradeRecorded
from shared.events.catalogue import AwardingBody
from shared.events.certification import CredentialIssued
from shared.events.common import LearnerIdentity, Money
from shared.events.enrolment import EnrolmentWithdrawn, FeeStatus, LearnerEnrolled, LearnerWaitlisted

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
    sent = to_message(email(), "Micro-credentials <no-reply@microcredentials.local>", message_id)
    message = message_from_bytes(sent.data, policy=policy.default)  # as a mail client reads it

    assert message.get_content_type() == "multipart/alternative"
    assert message["Message-ID"] == message_id
    assert (message["To"], message["Subject"]) == ("ada@example.org", email().subject)
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert CREDENTIAL_URL in parts["text/plain"] and f'href="{CREDENTIAL_URL}"' in parts["text/html"]


def test_headers_and_bodies_in_any_language_reach_the_mail_client_as_written() -> None:
    subject = " ".join(["Votre micro-certification «\u00a0Éthique de l’IA\u00a0» a été délivrée"] * 2)
    sent = to_message(
        Email("zoe@example.org", subject, "Félicitations, Zoë !", "<p>Félicitations</p>", "credential_issued", "fr"),
        "Universität des Saarlandes <no-reply@uni-saarland.example>", "<m@uni-saarland.example>",
    )
    message = message_from_bytes(sent.data, policy=policy.default)
    assert (message["Subject"], message["From"], message["To"]) == (
        subject, "Universität des Saarlandes <no-reply@uni-saarland.example>", "zoe@example.org"
    )
    assert message.get_body(("plain",)).get_content().strip() == "Félicitations, Zoë !"


LEARNER = LearnerIdentity(learner_id="learner-jan", name="Jan Novák", email="jan@example.cz", category="external")


def enrolled(**changes: object) -> LearnerEnrolled:
    values = dict(
        enrolment_id="application-7",
        course_id="course-ai-ethics",
        course_version=1,
        course_title="Ethics of AI",
        learner=LEARNER,
        enrolled_at=datetime(2025, 3, 1, tzinfo=UTC),
        offering_id="offering-1",
    )
    return LearnerEnrolled(**values | changes)


def rendered_for(event: object) -> Email:
    return render(template_environment(), template_for(event), LEARNER.email, event)


def test_an_external_learner_is_told_the_fee_due_and_an_alliance_student_that_there_is_none() -> None:
    charged = rendered_for(enrolled(fee=Money(amount=120, currency="EUR"), fee_status=FeeStatus.DUE))
    free = rendered_for(enrolled(fee_status=FeeStatus.WAIVED))

    assert charged.template == "learner_enrolled" and "enrolled" in charged.subject
    assert "120.00 EUR" in charged.text and "120.00 EUR" in charged.html
    assert "120.00" not in free.text and "no fee" in free.text


def test_a_promotion_from_the_waitlist_has_its_own_email() -> None:
    promoted = rendered_for(enrolled(promoted_from_waitlist=True))

    assert promoted.template == "learner_promoted"
    assert "place opened up" in promoted.subject and "waitlist" in promoted.text


def test_a_waitlisted_learner_is_told_their_position() -> None:
    waitlisted = LearnerWaitlisted(
        enrolment_id="application-8",
        course_id="course-ai-ethics",
        course_version=1,
        course_title="Ethics of AI",
        offering_id="offering-1",
        learner=LEARNER,
        position=4,
        waitlisted_at=datetime(2025, 3, 1, tzinfo=UTC),
    )
    email = rendered_for(waitlisted)

    assert email.template == "learner_waitlisted" and "waitlist" in email.subject
    assert "number 4" in email.text


def test_a_withdrawal_says_whether_a_place_or_a_waitlist_position_was_given_up() -> None:
    common = dict(
        enrolment_id="application-9",
        course_id="course-ai-ethics",
        course_title="Ethics of AI",
        learner=LEARNER,
        withdrawn_at=datetime(2025, 3, 2, tzinfo=UTC),
    )
    from_place = rendered_for(EnrolmentWithdrawn(was_enrolled=True, **common))
    from_waitlist = rendered_for(EnrolmentWithdrawn(was_enrolled=False, **common))

    assert "enrolment in" in from_place.text and "waitlist" not in from_place.text
    assert "place on the waitlist" in from_waitlist.text


def grade_recorded(passed: bool) -> GradeRecorded:
    return GradeRecorded(
        grade_id="grade-1", enrolment_id="application-7", course_id="course-ai-ethics", course_version=1,
        learner_id="learner-jan", learner=LEARNER.model_copy(update={"preferred_language": "de"}),
        grade="1.3" if passed else "5.0", passed=passed, assessed_on=datetime(2025, 7, 1).date(),
        submission_id="submission-1", course_title="Ethik der KI",
    )


def test_a_recorded_grade_is_told_in_the_learners_language_with_what_comes_next() -> None:
    environment = template_environment()
    passed = render(environment, template_for(grade_recorded(True)), LEARNER.email, grade_recorded(True), language="de")
    failed = render(environment, template_for(grade_recorded(False)), LEARNER.email, grade_recorded(False), language="de")

    assert passed.template == "grade_recorded" and "Ethik der KI" in passed.subject and "erfasst" in passed.subject
    assert "1.3" in passed.text and "bestanden" in passed.text and "wird ausgestellt" in passed.text
    assert "nicht bestanden" in failed.text and "kein Credential" in failed.text


def test_a_programme_credential_has_its_own_email_with_the_links_to_view_download_and_verify() -> None:
    programme = credential_issued("Sustainable Entrepreneurship").model_copy(update={
        "programme": True, "parts": ["c-1", "c-2", "c-3"],
        "download_url": f"{CREDENTIAL_URL}/credential.json", "verify_url": "https://node.example/verify?id=credential-42",
    })
    email = rendered_for(programme)

    assert email.template == "programme_credential_issued" and "programme credential" in email.subject
    assert "stacks your 3 micro-credentials" in email.text
    for link in (CREDENTIAL_URL, f"{CREDENTIAL_URL}/credential.json", "https://node.example/verify?id=credential-42"):
        assert link in email.text and link in email.html


def test_a_subject_that_looks_like_an_encoded_word_reads_as_written() -> None:
    subject = "Your micro-credential =?utf-8?b?SGFja2Vk?= has been issued"
    sent = to_message(
        Email("ada@example.org", subject, "text", "<p>html</p>", "credential_issued"),
        "no-reply@uni.example", "<m@uni.example>",
    )
    assert message_from_bytes(sent.data, policy=policy.default)["Subject"] == subject


@pytest.mark.parametrize(
    ("recipient", "to_header", "envelope"),
    [
        ("ada@example.org", "ada@example.org", "ada@example.org"),
        ("o'brien+grades@mail.uni-saarland.example", "o'brien+grades@mail.uni-saarland.example",
         "o'brien+grades@mail.uni-saarland.example"),
        ("Ada Lovelace <ada@example.org>", "Ada Lovelace <ada@example.org>", "ada@example.org"),
        ("Zoë Ξένη <zoe@example.org>", "Zoë Ξένη <zoe@example.org>", "zoe@example.org"),
        ('"Lovelace, Ada" <ada@example.org>', '"Lovelace, Ada" <ada@example.org>', "ada@example.org"),
        ("jürgen@example.de", "jürgen@example.de", "jürgen@example.de"),
    ],
)
def test_each_kind_of_recipient_reaches_the_header_and_the_envelope_as_written(
    recipient: str, to_header: str, envelope: str
) -> None:
    sent = to_message(
        Email(recipient, "Grade", "text", "<p>html</p>", "grade_recorded"), "Micro-credentials <no-reply@uni.example>",
        "<m@uni.example>",
    )
    message = message_from_bytes(sent.data, policy=policy.default)

    assert (message["To"], sent.recipient) == (to_header, envelope)
    assert message["From"] == "Micro-credentials <no-reply@uni.example>"
    assert sent.smtputf8 == (not envelope.isascii())
