"""The learner's PDF certificate: one A4 page, every Annex I element, the status, and a QR code to the verify page."""

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from fastapi import FastAPI

from services.certification import certificate
from services.certification.certificate import certificate_pdf
from services.certification.models import Credential, MicroCredentialRecord
from services.certification.routes import router
from services.certification.settings import CertificationSettings
from services.certification.tests.test_vc import sample_record

CREDENTIAL_ID = "cred-0f3c9a1e"
VERIFY_URL = f"https://credentials.example.eu/verify?id={CREDENTIAL_ID}"

MANDATORY_LABELS = [
    "Identification of the learner",
    "Title of the micro-credential",
    "Country(ies) of the issuer",
    "Awarding body(ies)",
    "Date of issuing",
    "Learning outcomes",
    "Language(s)",
    "Notional workload",
    "Level (EQF)",
    "Type of assessment",
    "Form of participation",
    "Type of quality assurance",
]
OPTIONAL_LABELS = ["Grade achieved", "Supervision and identity verification", "Integration / stackability"]


def record(**changes: Any) -> MicroCredentialRecord:
    """The signing tests' sample, without the optional elements a certificate leaves out when absent."""
    return sample_record(**{"prerequisites": None, "contact": None} | changes)


@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-in Helvetica and an uncompressed page: the text and drawing can be read from the bytes themselves."""
    monkeypatch.setattr(certificate, "FONT", "Helvetica")
    monkeypatch.setattr(certificate, "BOLD", "Helvetica-Bold")
    monkeypatch.setattr(certificate, "PAGE_COMPRESSION", 0)


def shown_text(pdf: bytes) -> str:
    """The strings the page shows (from an uncompressed page in a built-in font), joined by single spaces."""
    strings = re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", pdf)
    text = " ".join(_unescape(string).decode("cp1252") for string in strings)
    return " ".join(text.split())


def _unescape(string: bytes) -> bytes:
    """A PDF literal string's bytes: octal escapes (the letters beyond ASCII) and escaped characters."""
    return re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit() else m[1], string)


def drawn_qr_runs(pdf: bytes) -> set[tuple[int, int, int]]:
    """The QR code's dark runs as drawn, in module units: (row from the top, first column, length)."""
    rects = [tuple(map(int, found)) for found in re.findall(rb"(?<![\d.])(\d+) (\d+) (\d+) 1 re", pdf)]
    modules = max(y for _, y, _ in rects) + 1
    return {(modules - 1 - y, x, width) for x, y, width in rects}


def segno_runs(url: str) -> set[tuple[int, int, int]]:
    runs = set()
    for row, modules in enumerate(segno.make_qr(url, error="m").matrix):
        for match in re.finditer(r"1+", "".join(str(module) for module in modules)):
            runs.add((row, match.start(), len(match.group())))
    return runs


def test_one_a4_page_of_pdf() -> None:
    pdf = certificate_pdf(record(), "valid", VERIFY_URL, CREDENTIAL_ID)
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    assert re.search(rb"/Count 1\b", pdf)
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf


def test_shows_every_annex_i_element_and_the_verify_url(plain: None) -> None:
    text = shown_text(certificate_pdf(record(), "valid", VERIFY_URL, CREDENTIAL_ID))
    for label in MANDATORY_LABELS + OPTIONAL_LABELS:
        assert label in text
    for value in [
        "Ethics of AI",
        "Ada Lovelace",
        record().identification_of_the_learner.esi,
        "Saarland University (DE)",
        "Sofia University (BG)",
        "BG, DE",
        "1 July 2025",
        "Assess an AI system against the EU AI Act",
        "Argue a position on algorithmic fairness",
        "EN, BG",
        "5 ECTS credits (125 hours)",
        "EQF level 7",
        "written exam, supervised on site",
        "Blended (online and on site)",
        "internal QA of Saarland University, accredited by ACQUIN",
        "1.3",
        "Supervised on site, with identity verification",
        "Stackable into a larger credential",
        "VALID",
        VERIFY_URL,
        CREDENTIAL_ID,
    ]:
        assert value in text
    assert "ada@example.org" not in text  # a certificate is shown around: no email address on it


def test_in_the_learners_language_german_or_french_else_english(plain: None) -> None:
    learner = record().identification_of_the_learner.model_copy(update={"preferred_language": "de-AT"})
    german = shown_text(certificate_pdf(record(identification_of_the_learner=learner), "revoked", VERIFY_URL, "c-1"))
    for words in ["verliehen an", "Titel des Microcredentials", "1. Juli 2025", "5 ECTS-Punkte (125 Stunden)",
                  "EQR-Niveau 7", "Hybrid (online und in Präsenz)", "WIDERRUFEN", "vom Aussteller widerrufen"]:
        assert words in german
    assert "awarded to" not in german

    french = shown_text(certificate_pdf(record(), "valid", VERIFY_URL, "c-1", language="fr"))
    for words in ["décernée à", "Intitulé de la microcertification", "1er juillet 2025", "crédits ECTS", "VALIDE"]:
        assert words in french

    italian = shown_text(certificate_pdf(record(), "valid", VERIFY_URL, "c-1", language="it"))
    assert "awarded to" in italian and "Title of the micro-credential" in italian


def test_optional_elements_only_when_held(plain: None) -> None:
    bare = record(grade_achieved=None, identity_verification=None, eqf_level=None, workload_hours=None)
    text = shown_text(certificate_pdf(bare, "valid", VERIFY_URL, CREDENTIAL_ID))
    assert "Grade achieved" not in text
    assert "Supervision and identity verification" not in text
    assert "Level (EQF) not applicable" in text
    assert "5 ECTS credits" in text and "hours" not in text
    for label in MANDATORY_LABELS:
        assert label in text


@pytest.mark.parametrize(
    ("status", "note"),
    [
        ("suspended", "This credential is suspended: it is not valid until its issuer reinstates it."),
        ("revoked", "This credential has been revoked by its issuer and is no longer valid."),
    ],
)
def test_says_when_not_valid(plain: None, status: str, note: str) -> None:
    text = shown_text(certificate_pdf(record(), status, VERIFY_URL, CREDENTIAL_ID))
    assert status.upper() in text
    assert note in text
    assert "VALID" not in text


def test_a_long_record_still_fits_one_page(plain: None) -> None:
    outcomes = [f"Outcome {n}: explain and apply a long and careful argument about topic {n}" for n in range(30)]
    pdf = certificate_pdf(record(learning_outcomes=outcomes), "valid", VERIFY_URL, CREDENTIAL_ID)
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    text = shown_text(pdf)
    assert VERIFY_URL in text and "Ethics of AI" in text


def test_the_qr_code_drawn_is_segnos_encoding_of_the_verify_url(plain: None) -> None:
    pdf = certificate_pdf(record(), "valid", VERIFY_URL, CREDENTIAL_ID)
    assert drawn_qr_runs(pdf) == segno_runs(VERIFY_URL)
    assert segno_runs(VERIFY_URL) != segno_runs(VERIFY_URL + "x")


def test_text_extracted_by_poppler(tmp_path: Path) -> None:
    """With the font as deployed (DejaVu Sans where installed): a PDF reader finds the text, names in Cyrillic too."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    learner = record().identification_of_the_learner.model_copy(update={"name": "Ada Łovelace"})
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf(record(identification_of_the_learner=learner), "valid", VERIFY_URL, CREDENTIAL_ID))
    extracted = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    text = " ".join(extracted.stdout.split())
    for expected in MANDATORY_LABELS + OPTIONAL_LABELS + ["Ethics of AI", "Ada Łovelace", VERIFY_URL]:
        assert expected in text


def test_qr_code_scans_to_the_verify_url(tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None:
        pytest.skip("pdftoppm (poppler-utils) or zbarimg (zbar-tools) is not installed")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(certificate_pdf(record(), "valid", VERIFY_URL, CREDENTIAL_ID))
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    scanned = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True, text=True)
    assert scanned.stdout.strip() == VERIFY_URL


class _Session:
    def __init__(self, credential: Credential) -> None:
        self.credential = credential

    async def get(self, model: type, key: str) -> Credential | None:
        return self.credential if key == self.credential.id else None


class _UnitOfWork:
    def __init__(self, credential: Credential) -> None:
        self.session = _Session(credential)

    async def __aenter__(self) -> "_UnitOfWork":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_route_serves_the_pdf_to_anyone() -> None:
    credential = Credential(
        id=CREDENTIAL_ID,
        learner_id="learner-ada",
        course_id="ethics-of-ai",
        course_version=1,
        record=record().model_dump(mode="json"),
        issued_at=datetime(2025, 7, 1, tzinfo=UTC),
        issuer_institution="uni-saarland",
        status_index=7,
        verifiable_credential={},
        suspended_at=datetime(2025, 8, 1, tzinfo=UTC),
    )
    app = FastAPI()
    app.include_router(router)
    app.state.settings = CertificationSettings(public_url="https://credentials.example.eu/")
    app.state.unit_of_work = lambda: _UnitOfWork(credential)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get(f"/credentials/{CREDENTIAL_ID}/certificate.pdf")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert f"certificate-{CREDENTIAL_ID}.pdf" in response.headers["content-disposition"]
        assert response.content.startswith(b"%PDF-")
        assert (await client.get("/credentials/nope/certificate.pdf")).status_code == 404
        refused = await client.get(f"/credentials/{CREDENTIAL_ID}/certificate.pdf", params={"lang": "Deutsch"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["query", "lang"]
        french = await client.get(f"/credentials/{CREDENTIAL_ID}/certificate.pdf", params={"lang": "fr"})
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=response.content, capture_output=True, check=True).stdout
        assert b"SUSPENDED" in text and VERIFY_URL.encode() in text
        french_text = subprocess.run(["pdftotext", "-", "-"], input=french.content, capture_output=True, check=True)
        assert "SUSPENDUE" in french_text.stdout.decode()
