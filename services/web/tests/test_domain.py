"""The front end's rules without a browser: sessions, CSRF tokens, where a sign-in may lead, the page's language."""

from datetime import UTC, datetime, timedelta

import pytest

from services.web import domain
from services.web.oidc import code_challenge, code_verifier
from shared.auth import Role

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LIFETIMES = domain.Lifetimes(idle=timedelta(minutes=30), maximum=timedelta(hours=10))


def test_pkce_challenge_is_rfc_7636s_s256() -> None:
    # RFC 7636, Appendix B.
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier = code_verifier()
    assert 43 <= len(verifier) <= 128 and verifier != code_verifier()


def test_a_csrf_token_belongs_to_one_browser_and_one_secret() -> None:
    token = domain.csrf_token(b"secret", "browser-a")
    assert domain.csrf_valid(b"secret", "browser-a", token)
    assert not domain.csrf_valid(b"secret", "browser-b", token), "another browser's cookie"
    assert not domain.csrf_valid(b"other secret", "browser-a", token)
    assert not domain.csrf_valid(b"secret", "browser-a", None), "a form without the token"
    assert not domain.csrf_valid(b"secret", None, token), "a request without the cookie"


def test_a_notice_is_shown_only_as_signed() -> None:
    value = domain.signed(b"secret", "success|Saved")
    assert domain.unsigned(b"secret", value) == "success|Saved"
    assert domain.unsigned(b"secret", value.replace("Saved", "Hacked")) is None
    assert domain.unsigned(b"secret", None) is None


def test_a_session_ends_when_idle_too_long_or_too_old() -> None:
    assert not domain.ended(NOW - timedelta(hours=1), NOW - timedelta(minutes=29), NOW, LIFETIMES)
    assert domain.ended(NOW - timedelta(hours=1), NOW - timedelta(minutes=31), NOW, LIFETIMES), "idle"
    assert domain.ended(NOW - timedelta(hours=11), NOW - timedelta(minutes=1), NOW, LIFETIMES), "too long ago"


def test_tokens_are_refreshed_before_they_expire_and_idling_is_written_once_a_minute() -> None:
    assert domain.refresh_due(NOW + timedelta(seconds=20), NOW)
    assert not domain.refresh_due(NOW + timedelta(minutes=4), NOW)
    assert not domain.touch_due(NOW - timedelta(seconds=10), NOW)
    assert domain.touch_due(NOW - timedelta(seconds=61), NOW)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/learner/wallet", "/learner/wallet"),
        ("/catalogue?q=ai&page=2", "/catalogue?q=ai&page=2"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_signing_in_returns_only_to_a_page_of_this_site(target: str | None, expected: str) -> None:
    assert domain.safe_return_to(target) == expected


@pytest.mark.parametrize(
    "chosen, header, expected",
    [
        ([None, None], "de-DE,de;q=0.9,en;q=0.8", "de"),
        ([None, None], "cs;q=1.0,lt;q=0.8,en;q=0.5", "lt"),
        ([None, None], "en;q=0.2,fr;q=0.9", "fr"),
        (["bg", None], "de", "bg"),
        ([None, "it"], "de", "it"),
        ([None, None], "ja,zh;q=0.9", "en"),
        ([None, None], None, "en"),
        (["xx", None], "garbage;q=x", "en"),
    ],
)
def test_the_page_language_is_the_readers_choice_then_their_browsers(chosen, header, expected) -> None:
    assert domain.page_language(chosen, header) == expected


def test_a_person_is_what_the_identity_providers_claims_say() -> None:
    person = domain.Person.from_claims({
        "sub": "u-1", "name": "Ana Horvat", "email": "ana@upr.si", "roles": ["learner", "offline_access"],
        "institution": "upr", "affiliation": "student",
    })
    assert person.roles == frozenset({Role.LEARNER}) and person.affiliation == ("student",)
    assert person.has(Role.LEARNER) and not person.has(Role.REGISTRAR)


def test_a_share_link_is_shown_on_the_front_end_and_partner_offerings_link_to_their_node() -> None:
    assert domain.share_page_url("https://mc.example/", "http://cert:8004/shared/abc") == "https://mc.example/shared/abc"
    assert domain.registration_elsewhere({"registration_url": "https://mc.upr.si/catalogue/x"}) == "https://mc.upr.si/catalogue/x"
    assert domain.registration_elsewhere({"node": {"base_url": "https://mc.upr.si"}}) == "https://mc.upr.si"
    assert domain.registration_elsewhere({"registration_url": "javascript:alert(1)"}) is None
    assert domain.registration_elsewhere({"id": "own"}) is None


def test_a_qa_officer_sees_which_elements_a_revision_changes_in_the_descriptions_order() -> None:
    approved = {"title": "Circular Economy", "ects": 3, "learning_outcomes": ["Map flows"], "skills": []}
    revised = {"title": "Circular Economy", "ects": 4, "learning_outcomes": ["Map flows", "Design loops"], "skills": [],
               "literature": ["Stahel 2019"]}
    assert domain.changed_fields(approved, revised) == ["ects", "learning_outcomes", "literature"]
    assert domain.changed_fields(approved, approved) == []
    assert domain.changed_fields(None, revised) == [], "a first version has nothing to compare with"


def test_the_version_to_compare_with_is_the_newest_approved_before_the_one_under_review() -> None:
    versions = [{"version": 1, "status": "approved"}, {"version": 2, "status": "rejected"},
                {"version": 3, "status": "approved"}, {"version": 4, "status": "submitted"}]
    assert domain.last_approved(versions) == {"version": 3, "status": "approved"}
    assert domain.last_approved([{"version": 1, "status": "submitted"}]) is None
    assert domain.last_approved([{"version": 1, "status": "rejected"}, {"version": 2, "status": "submitted"}]) is None


def test_four_eyes_names_what_the_reader_did_themselves() -> None:
    assert domain.own_part("thomas", designed_by="thomas", submitted_by="julia") == "designed"
    assert domain.own_part("thomas", designed_by="julia", submitted_by="thomas") == "submitted"
    assert domain.own_part("thomas", designed_by="julia", submitted_by="julia") is None


def test_the_grading_scheme_form_sends_only_the_chosen_kinds_fields_as_typed() -> None:
    form = {"kind": "numeric", "name": " German 1.0-5.0 ", "minimum": "1.0", "maximum": " 5.0", "pass_mark": "4,0",
            "lower_is_better": "yes", "grades": "A, B", "passing_word": "pass"}
    assert domain.grading_scheme(form) == {"kind": "numeric", "name": "German 1.0-5.0", "minimum": "1.0",
                                           "maximum": "5.0", "pass_mark": "4,0", "lower_is_better": True}
    assert domain.grading_scheme({"kind": "letters", "grades": "A; B ,C,, D", "passing_grades": "A,B"}) == {
        "kind": "letters", "name": None, "grades": ["A", "B", "C", "D"], "passing": ["A", "B"]}
    assert domain.grading_scheme({"kind": "pass-fail", "passing_word": "bestanden", "failing_word": ""}) == {
        "kind": "pass-fail", "name": None, "passing": "bestanden", "failing": ""}
    assert domain.grading_scheme({"kind": "ects", "minimum": "1"}) == {"kind": "ects", "name": None}
