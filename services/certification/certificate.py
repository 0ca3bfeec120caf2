"""The learner's PDF certificate: one A4 page with every Annex I element, the status, and a QR code to the verify page.

A plain function of the record (no I/O), drawn with reportlab; the QR code is segno's matrix drawn as vector squares.
The text font is DejaVu Sans when Debian's fonts-dejavu-core is installed (it covers Latin, Greek and Cyrillic, so
Sofia University's or a Polish learner's name prints as written); otherwise PDF's built-in Helvetica (Latin-1 only).
"""

import io
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Paragraph, Spacer, Table, TableStyle

from services.certification.certificate_wording import DEFAULT_LANGUAGE, certificate_language, long_date, wording
from services.certification.models import MicroCredentialRecord

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _register_fonts() -> tuple[str, str]:
    regular, bold = _DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
        return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


FONT, BOLD = _register_fonts()
# 1 compresses the page's content stream; the tests set 0 (with Helvetica) to read the text without a PDF parser.
PAGE_COMPRESSION = 1

INK = colors.HexColor("#1d2b3a")
MUTED = colors.HexColor("#5b6b7b")
RULE = colors.HexColor("#c9d3dd")
ACCENT = colors.HexColor("#003399")  # the EU flag's blue
STATUS_COLOURS = {
    "valid": colors.HexColor("#1e7b34"),
    "suspended": colors.HexColor("#b36b00"),
    "revoked": colors.HexColor("#b00020"),
}
STATUS_NOTES = {
    "suspended": "This credential is suspended: it is not valid until its issuer reinstates it.",
    "revoked": "This credential has been revoked by its issuer and is no longer valid.",
}
FORMS_OF_PARTICIPATION = {"onsite": "On site", "online": "Online", "blended": "Blended (online and on site)"}
IDENTITY_VERIFICATIONS = {
    "unsupervised-no-identity-verification": "Unsupervised, no identity verification",
    "supervised-no-identity-verification": "Supervised, no identity verification",
    "supervised-online": "Supervised online, with identity verification",
    "onsite-with-identity-verification": "Supervised on site, with identity verification",
}
STACKABILITY = {"stand-alone": "Stand-alone", "stackable": "Stackable into a larger credential"}

MARGIN = 18 * mm
QR_SIZE = 34 * mm


def certificate_pdf(
    record: MicroCredentialRecord, status: str, verify_url: str, credential_id: str, language: str | None = None
) -> bytes:
    """One A4 page: the learner, the title, every Annex I element, the status, and a QR code to `verify_url`.

    In `language` (or the learner's preferred one) when the certificate has its words (certificate_wording), else
    in English.
    """
    status = str(status)
    language = certificate_language(language or record.identification_of_the_learner.preferred_language)
    say = wording(language)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=PAGE_COMPRESSION, invariant=1)
    canvas.setTitle(f"{record.title} - {record.identification_of_the_learner.name}")
    canvas.setAuthor(", ".join(body.name for body in record.awarding_bodies))
    canvas.setSubject(f"Micro-credential {credential_id}")
    width, height = A4

    # Header: the awarding bodies, and the status on the right.
    canvas.setFillColor(ACCENT)
    canvas.rect(0, height - 9 * mm, width, 9 * mm, stroke=0, fill=1)
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT, 9)
    canvas.drawString(MARGIN, height - 17 * mm, say("MICRO-CREDENTIAL"))
    _status_badge(canvas, status, say(status), width - MARGIN, height - 19 * mm)

    # The footer: QR code to the verify page, its URL under it, and the credential id.
    footer_top = MARGIN + QR_SIZE + 12 * mm
    _qr_code(canvas, verify_url, width - MARGIN - QR_SIZE, MARGIN + 8 * mm, QR_SIZE)
    canvas.setFont(FONT, 7)
    canvas.setFillColor(INK)
    canvas.drawRightString(width - MARGIN, MARGIN + 3 * mm, verify_url)
    canvas.setFillColor(MUTED)
    canvas.setFont(FONT, 8)
    notes = [
        say("Scan the code, or open the address under it, to check"),
        say("that this credential is authentic and still valid."),
        f"{say('Credential')} {credential_id}",
        say("Elements as in Annex I of the Council Recommendation of 16 June 2022 on micro-credentials."),
    ]
    for line, text in enumerate(notes):
        canvas.drawString(MARGIN, MARGIN + 26 * mm - line * 5 * mm, text)
    canvas.setStrokeColor(RULE)
    canvas.line(MARGIN, footer_top, width - MARGIN, footer_top)

    # The body: title, learner and the elements, shrunk until they fit between header and footer.
    body_top = height - 24 * mm
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6):
        story = list(_story(record, status, language, scale, width - 2 * MARGIN))
        if _fits(story, width - 2 * MARGIN, body_top - footer_top - 2 * mm):
            break
    frame = Frame(MARGIN, footer_top + 2 * mm, width - 2 * MARGIN, body_top - footer_top - 2 * mm, 0, 0, 0, 0)
    frame.addFromList(story, canvas)  # whatever still would not fit is left off: the page stays one page
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _fits(story: list[Flowable], width: float, height: float) -> bool:
    return sum(flowable.wrap(width, height)[1] for flowable in story) <= height


def _story(
    record: MicroCredentialRecord, status: str, language: str, scale: float, width: float
) -> Iterator[Flowable]:
    say = wording(language)

    def style(name: str, size: float, font: str = FONT, colour: colors.Color = INK, **more: object) -> ParagraphStyle:
        return ParagraphStyle(name, fontName=font, fontSize=size * scale, leading=size * scale * 1.3, textColor=colour,
                              **more)

    learner = record.identification_of_the_learner
    yield Paragraph(escape(record.title), style("title", 22, BOLD, ACCENT, spaceAfter=4))
    yield Paragraph(escape(say("awarded to")), style("to", 10, colour=MUTED))
    yield Paragraph(escape(learner.name), style("learner", 17, BOLD))
    yield Spacer(0, 3 * mm * scale)
    note = STATUS_NOTES.get(status)
    if note:
        yield Paragraph(escape(say(note)), style("status", 10, BOLD, STATUS_COLOURS.get(status, INK)))
        yield Spacer(0, 3 * mm * scale)

    label, value = style("label", 8.5, BOLD, MUTED), style("value", 9.5)
    rows = [[Paragraph(escape(say(name)), label), Paragraph(text, value)] for name, text in _elements(record, language)]
    table = Table(rows, colWidths=[52 * mm, width - 52 * mm])
    table.setStyle(
        TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (0, -1), 4 * mm),
            ("TOPPADDING", (0, 0), (-1, -1), 2.2 * scale),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2 * scale),
            ("LINEBELOW", (0, 0), (-1, -2), 0.4, RULE),
        ])
    )
    yield table


def _elements(record: MicroCredentialRecord, language: str) -> Iterator[tuple[str, str]]:
    """(English label, value as paragraph markup in `language`) for each Annex I element, mandatory ones first,
    optional ones when held."""
    say = wording(language)
    learner = record.identification_of_the_learner
    who = [f"<b>{escape(learner.name)}</b>"]
    if learner.esi:
        who.append(f"{escape(say('European Student Identifier'))} {escape(learner.esi)}")
    else:
        who.append(f"{escape(say('learner'))} {escape(learner.learner_id)}")
    if learner.home_institution:
        who.append(escape(learner.home_institution))
    yield "Identification of the learner", ", ".join(who)
    yield "Title of the micro-credential", escape(record.title)
    yield "Country(ies) of the issuer", escape(", ".join(record.countries_of_the_issuer))
    yield "Awarding body(ies)", "<br/>".join(
        escape(f"{body.name} ({body.country})") for body in record.awarding_bodies
    )
    yield "Date of issuing", escape(long_date(record.date_of_issuing, language))
    yield "Learning outcomes", "<br/>".join(f"\u2022 {escape(outcome)}" for outcome in record.learning_outcomes)
    yield "Language(s)", escape(", ".join(code.upper() for code in record.languages))
    workload = f"{_number(record.workload_ects, language)} {say('ECTS credits')}"
    if record.workload_hours is not None:
        workload += f" ({_number(record.workload_hours, language)} {say('hours')})"
    yield "Notional workload", escape(workload)
    level = f"{say('EQF level')} {record.eqf_level}" if record.eqf_level is not None else say("not applicable")
    yield "Level (EQF)", escape(level)
    yield "Type of assessment", escape(record.type_of_assessment)
    form = str(record.form_of_participation)
    yield "Form of participation", escape(say(FORMS_OF_PARTICIPATION.get(form, form)))
    yield "Type of quality assurance", escape(record.type_of_quality_assurance)
    if record.grade_achieved:
        yield "Grade achieved", escape(record.grade_achieved)
    if record.identity_verification is not None:
        verification = str(record.identity_verification)
        yield "Supervision and identity verification", escape(say(IDENTITY_VERIFICATIONS.get(verification, verification)))
    if record.stackability is not None:
        stackability = str(record.stackability)
        yield "Integration / stackability", escape(say(STACKABILITY.get(stackability, stackability)))


def _number(value: float, language: str) -> str:
    """7.5 in English, 7,5 in German and French."""
    text = f"{value:g}"
    return text if language == DEFAULT_LANGUAGE else text.replace(".", ",")


def _status_badge(canvas: Canvas, status: str, shown: str, right: float, bottom: float) -> None:
    text = shown.upper()
    canvas.setFont(BOLD, 10)
    text_width = canvas.stringWidth(text, BOLD, 10)
    badge_width, badge_height = text_width + 8 * mm, 7 * mm
    canvas.setFillColor(STATUS_COLOURS.get(status, INK))
    canvas.roundRect(right - badge_width, bottom, badge_width, badge_height, 1.5 * mm, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    canvas.drawCentredString(right - badge_width / 2, bottom + 2.3 * mm, text)


def qr_runs(url: str) -> list[tuple[int, int, int]]:
    """The QR code of `url` (segno, error correction M) as dark runs (row, first column, length), row 0 at the top."""
    matrix = segno.make_qr(url, error="m").matrix
    runs = []
    for row, modules in enumerate(matrix):
        column = 0
        while column < len(modules):
            if modules[column]:
                start = column
                while column < len(modules) and modules[column]:
                    column += 1
                runs.append((row, start, column - start))
            else:
                column += 1
    return runs


def _qr_code(canvas: Canvas, url: str, x: float, y: float, size: float) -> None:
    """Draws the QR code as squares in module units (its quiet zone of 4 modules inside `size`)."""
    runs = qr_runs(url)
    modules = segno.make_qr(url, error="m").symbol_size(border=0)[0]
    unit = size / (modules + 8)
    canvas.saveState()
    canvas.translate(x + 4 * unit, y + 4 * unit)
    canvas.scale(unit, unit)
    canvas.setFillColor(colors.black)
    path = canvas.beginPath()
    for row, column, length in runs:
        path.rect(column, modules - 1 - row, length, 1)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.restoreState()
