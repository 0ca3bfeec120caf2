"""Emails in the learner's language: German, French, Bulgarian, Italian and Lithuanian besides English, English when there is no template in theirs,
and a node's own templates (TEMPLATES_DIR) before the built-in ones."""

from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from services.notifications.domain import (
    TEMPLATES,
    render,
    template_environment,
    template_for,
    template_language,
    to_message,
)
from shared.events.catalogue import AwardingBody
from shared.events.certification import CredentialCompleted, CredentialIssued, CredentialRevoked
from shared.events.common import LearnerIdentity, Money, language_code
from shared.events.enrolment import EnrolmentWithdrawn, FeeStatus, LearnerEnrolled, LearnerWaitlisted

TEMPLATE_NAMES = (
    "credential_completed",
    "credential_issued",
    "credential_revoked",
    "enrolment_withdrawn",
    "learner_enrolled",
    "learner_promoted",
    "learner_waitlisted",
)


def learner(language: str | None) -> LearnerIdentity:
    return LearnerIdentity(
        learner_id="learner-lea", name="Léa Müller", email="lea@example.eu", preferred_language=language
    )


def events(language: str | None) -> dict[str, object]:
    """One event per template, for a learner with this preferred language."""
    who = learner(language)
    enrolment = dict(
        enrolment_id="application-7",
        course_id="course-ai-ethics",
        course_version=1,
        course_title="Ethik der KI",
        learner=who,
        enrolled_at=datetime(2025, 3, 1, tzinfo=UTC),
        offering_id="offering-1",
        fee=Money(amount=120, currency="EUR"),
        fee_status=FeeStatus.DUE,
    )
    return {
        "credential_issued": CredentialIssued(
            credential_id="credential-42",
            learner_id=who.learner_id,
            learner=who,
            course_id="course-ai-ethics",
            course_version=2,
            title="Ethik der KI",
            awarding_bodies=[AwardingBody(name="Universität des Saarlandes", country="DE")],
            issued_at=datetime(2025, 7, 1, tzinfo=UTC),
            grade="1.3",
            credential_url="https://cert.example/credentials/credential-42",
        ),
        "credential_completed": CredentialCompleted(
            credential_id="credential-43",
            learner_id=who.learner_id,
            learner=who,
            course_id="course-just-transition",
            course_version=1,
            title="Ethik der KI",
            awarding_bodies=[
                AwardingBody(name="Universität des Saarlandes", country="DE"),
                AwardingBody(name="University of Silesia in Katowice", country="PL"),
            ],
            endorsed_by=["University of Silesia in Katowice"],
            completed_at=datetime(2025, 7, 2, tzinfo=UTC),
            credential_url="https://cert.example/credentials/credential-43",
            download_url="https://cert.example/credentials/credential-43/credential.json",
            verify_url="https://cert.example/verify?id=credential-43",
        ),
        "credential_revoked": CredentialRevoked(
            credential_id="credential-42",
            learner_id=who.learner_id,
            learner=who,
            course_id="course-ai-ethics",
            title="Ethik der KI",
            reason="Plagiat in der Projektarbeit",
            changed_by="registrar@uni-saarland.de",
            changed_at=datetime(2025, 8, 1, tzinfo=UTC),
            credential_url="https://cert.example/credentials/credential-42",
            verify_url="https://cert.example/verify/credential-42",
        ),
        "learner_enrolled": LearnerEnrolled(**enrolment),
        "learner_promoted": LearnerEnrolled(**enrolment | {"promoted_from_waitlist": True}),
        "learner_waitlisted": LearnerWaitlisted(
            enrolment_id="application-8",
            course_id="course-ai-ethics",
            course_version=1,
            course_title="Ethik der KI",
            offering_id="offering-1",
            learner=who,
            position=3,
            waitlisted_at=datetime(2025, 3, 1, tzinfo=UTC),
        ),
        "enrolment_withdrawn": EnrolmentWithdrawn(
            enrolment_id="application-9",
            course_id="course-ai-ethics",
            course_title="Ethik der KI",
            learner=who,
            was_enrolled=True,
            withdrawn_at=datetime(2025, 3, 2, tzinfo=UTC),
        ),
    }


@pytest.mark.parametrize("language", ["en", "de", "fr", "bg", "it", "lt"])
def test_every_template_exists_in_each_language_of_the_alliance(language: str) -> None:
    for name in TEMPLATE_NAMES:
        for part in ("subject.txt", "txt", "html"):
            assert (TEMPLATES / language / f"{name}.{part}").is_file(), f"{language}/{name}.{part}"


@pytest.mark.parametrize("preferred", ["de", "DE", "de-AT", "de_CH"])
def test_a_german_speaking_learner_gets_german_templates(preferred: str) -> None:
    assert template_language(template_environment(), "credential_issued", preferred) == "de"


@pytest.mark.parametrize("preferred", [None, "", "cs", "xx", "deutsch", "123"])
def test_no_preference_or_a_language_without_templates_falls_back_to_english(preferred: str | None) -> None:
    assert language_code("deutsch") is None
    assert template_language(template_environment(), "credential_issued", preferred) == "en"


EXPECTED = {
    # What each email must say in each language: the key fact and a word only that language uses.
    "de": {
        "credential_completed": ("vollständig", "University of Silesia in Katowice", "gemeinsam mit Universität des Saarlandes"),
        "credential_issued": ("ausgestellt", "Note 1.3", "Guten Tag Léa Müller"),
        "credential_revoked": ("widerrufen", "Grund: Plagiat", "https://cert.example/verify/credential-42"),
        "learner_enrolled": ("eingeschrieben", "120,00 EUR", "Einschreibungsnummer: application-7"),
        "learner_promoted": ("frei geworden", "Warteliste", "120,00 EUR"),
        "learner_waitlisted": ("Warteliste", "Platz 3", "Bewerbungsnummer: application-8"),
        "enrolment_withdrawn": ("Abmeldung", "Einschreibung in das", "zurückgezogen"),
    },
    "fr": {
        "credential_completed": ("complète", "University of Silesia in Katowice", "avec Universität des Saarlandes"),
        "credential_issued": ("délivrée", "note 1.3", "Bonjour Léa Müller"),
        "credential_revoked": ("révoquée", "Motif\u00a0: Plagiat", "https://cert.example/verify/credential-42"),
        "learner_enrolled": ("inscription", "120,00\u00a0EUR", "Référence de votre inscription"),
        "learner_promoted": ("libérée", "liste d'attente", "120,00\u00a0EUR"),
        "learner_waitlisted": ("liste d'attente", "position\n3", "Référence de votre candidature"),
        "enrolment_withdrawn": ("retrait", "inscription à", "annulée"),
    },
    # Draft translations (a native speaker reviews them): the same facts and links as the English.
    "bg": {
        "credential_completed": ("пълен", "University of Silesia in Katowice", "заедно с Universität des Saarlandes"),
        "credential_issued": ("издаден", "оценка 1.3", "Здравейте, Léa Müller"),
        "credential_revoked": ("отменен", "Причина: Plagiat", "https://cert.example/verify/credential-42"),
        "learner_enrolled": ("записани", "120,00 EUR", "Номер на записването Ви: application-7"),
        "learner_promoted": ("Освободи се място", "списъка на чакащите", "120,00 EUR"),
        "learner_waitlisted": ("списъка на чакащите", "номер 3", "Номер на кандидатурата Ви: application-8"),
        "enrolment_withdrawn": ("Оттеглихте се", "Записването Ви за", "оттеглено"),
    },
    "it": {
        "credential_completed": ("completa", "University of Silesia in Katowice", "insieme a Universität des Saarlandes"),
        "credential_issued": ("rilasciata", "voto 1.3", "Gentile Léa Müller"),
        "credential_revoked": ("revocata", "Motivo: Plagiat", "https://cert.example/verify/credential-42"),
        "learner_enrolled": ("iscritto/a", "120,00 EUR", "Numero della tua iscrizione: application-7"),
        "learner_promoted": ("liberato un posto", "lista d'attesa", "120,00 EUR"),
        "learner_waitlisted": ("lista d'attesa", "posizione 3", "Numero della tua candidatura: application-8"),
        "enrolment_withdrawn": ("ritirato/a", "La tua iscrizione alla micro-credenziale", "è stata ritirata"),
    },
    "lt": {
        "credential_completed": ("išsamus", "University of Silesia in Katowice", "kartu su Universität des Saarlandes"),
        "credential_issued": ("išduotas", "įvertinimas 1.3", "Sveiki, Léa Müller"),
        "credential_revoked": ("atšauktas", "Priežastis: Plagiat", "https://cert.example/verify/credential-42"),
        "learner_enrolled": ("priimti", "120,00 EUR", "Jūsų registracijos numeris: application-7"),
        "learner_promoted": ("atsilaisvino vieta", "laukiančiųjų sąrašo", "120,00 EUR"),
        "learner_waitlisted": ("laukiančiųjų sąraše", "esate 3", "Jūsų paraiškos numeris: application-8"),
        "enrolment_withdrawn": ("Atsiėmėte", "Jūsų registracija į", "atsiimta"),
    },
}


@pytest.mark.parametrize("language", ["de", "fr", "bg", "it", "lt"])
@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_email_renders_in_each_language(language: str, name: str) -> None:
    event = events(language)[name]
    assert template_for(event) == name
    email = render(template_environment(), name, "lea@example.eu", event)

    assert (email.language, email.template) == (language, name)
    subject_word, *text_words = EXPECTED[language][name]
    assert subject_word in email.subject.lower() or subject_word in email.subject
    assert "Ethik der KI" in email.subject and "\n" not in email.subject
    body = email.text.replace("\u00a0", " ")
    for word in text_words:
        assert word.replace("\u00a0", " ").replace("\n", " ") in " ".join(body.split()) or word in email.text, word
    assert f'<html lang="{language}">' in email.html and "Ethik der KI" in email.html
    sent = to_message(email, "Micro-credentials <no-reply@uni.example>", "<id@uni.example>")
    assert message_from_bytes(sent.data, policy=policy.default)["Content-Language"] == language


def test_french_keeps_its_no_break_spaces_in_the_subject() -> None:
    email = render(template_environment(), "learner_waitlisted", "lea@example.eu", events("fr")["learner_waitlisted"])
    assert "«\u00a0Ethik der KI\u00a0»" in email.subject


def test_english_subjects_keep_the_words_people_search_for() -> None:
    subjects = {
        name: render(template_environment(), name, "lea@example.eu", event).subject
        for name, event in events(None).items()
    }
    assert "enrolled" in subjects["learner_enrolled"]
    assert "place opened up" in subjects["learner_promoted"]
    assert "waitlist" in subjects["learner_waitlisted"]
    assert "withdrawn" in subjects["enrolment_withdrawn"]
    assert "issued" in subjects["credential_issued"] and "micro-credential" in subjects["credential_issued"]
    assert "120.00 EUR" in render(template_environment(), "learner_enrolled", "x@y.eu", events("en")["learner_enrolled"]).text


def test_an_explicit_language_wins_over_the_learners(tmp_path: Path) -> None:
    email = render(template_environment(), "learner_waitlisted", "lea@example.eu", events("de")["learner_waitlisted"], "fr")
    assert email.language == "fr"


def test_a_nodes_own_templates_come_first_and_the_rest_falls_back(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "credential_issued.html").write_text('<p class="uni-brand">{{ event.title }}</p>')
    # A language the platform does not ship, complete in the node's folder.
    (tmp_path / "cs").mkdir()
    for part, text in (("subject.txt", "Mikrocertifikát {{ event.title }}"), ("txt", "Dobrý den"), ("html", "<p>Dobrý den</p>")):
        (tmp_path / "cs" / f"credential_issued.{part}").write_text(text)
    environment = template_environment(override=tmp_path)

    english = render(environment, "credential_issued", "lea@example.eu", events("en")["credential_issued"])
    assert english.html == '<p class="uni-brand">Ethik der KI</p>', "the node's branding"
    assert "issued" in english.subject, "the parts the node did not override are the built-in ones"
    czech = render(environment, "credential_issued", "lea@example.eu", events("cs")["credential_issued"])
    assert (czech.language, czech.subject) == ("cs", "Mikrocertifikát Ethik der KI")
    german = render(environment, "credential_issued", "lea@example.eu", events("de")["credential_issued"])
    assert german.language == "de" and "ausgestellt" in german.subject


def test_a_language_with_only_some_parts_falls_back_whole_to_english(tmp_path: Path) -> None:
    (tmp_path / "cs").mkdir()
    (tmp_path / "cs" / "credential_issued.subject.txt").write_text("Mikrocertifikát")
    email = render(template_environment(override=tmp_path), "credential_issued", "x@y.eu", events("cs")["credential_issued"])
    assert email.language == "en" and "issued" in email.subject
