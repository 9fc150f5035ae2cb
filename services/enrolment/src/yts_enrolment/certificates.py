"""The printable certificate: an A4 PDF (fpdf2) with the programme's and partners' names, the
trainer's name, the achievement, the date and a QR code (segno) to the credential's public
verification page, in Kazakh, Russian or English (DejaVu Sans, which has the Kazakh
letters). Put together here because names live only here."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import segno
from fpdf import FPDF

HERE = Path(__file__).parent
FONTS = HERE / "fonts"
LANGUAGES = ("kk", "ru", "en")
NAVY = (11, 61, 107)
GREY = (80, 90, 95)


@cache
def _words() -> dict[str, dict[str, str]]:
    words: dict[str, dict[str, str]] = json.loads(
        (HERE / "certificate_words.json").read_text(encoding="utf-8")
    )
    return words


def language_for(requested: str | None, trainer_languages: list[str]) -> str:
    """The language asked for, else the trainer's first language the certificate has, else
    Kazakh."""
    for lang in (requested, *trainer_languages):
        if lang in LANGUAGES:
            return lang
    return "kk"


@dataclass(frozen=True)
class Certificate:
    trainer_name: str
    achievement: str
    issued_on: date
    verification_url: str
    credential_id: str
    lang: str


def _day(value: date, lang: str) -> str:
    return value.isoformat() if lang == "en" else value.strftime("%d.%m.%Y")


def render(certificate: Certificate) -> bytes:
    words = _words()[certificate.lang]
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(f"{words['title']} · {words['programme']}")
    pdf.set_lang(certificate.lang)
    pdf.set_creator("Young Trainers' School platform")
    pdf.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    pdf.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    # A frame and the programme's name.
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 190, 277)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, 184, 271)
    pdf.set_text_color(*NAVY)
    pdf.set_y(30)
    pdf.set_font("DejaVu", "B", 20)
    pdf.cell(0, 10, words["programme"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(0, 4.5, words["partners"], align="C", new_x="LMARGIN", new_y="NEXT")

    pdf.set_y(78)
    pdf.set_text_color(*NAVY)
    pdf.set_font("DejaVu", "B", 38)
    pdf.cell(0, 18, words["title"].upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("DejaVu", "", 13)
    pdf.cell(0, 8, words["awarded_to"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 26)
    pdf.multi_cell(0, 12, certificate.trainer_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 14)
    pdf.multi_cell(
        0,
        7.5,
        words[f"achievement.{certificate.achievement}"],
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 12)
    day = _day(certificate.issued_on, certificate.lang)
    pdf.cell(0, 7, words["awarded_on"].format(day=day), align="C", new_x="LMARGIN", new_y="NEXT")

    # The QR code to the verification page, with the address in words beside it.
    qr = io.BytesIO()
    segno.make(certificate.verification_url, error="m").save(qr, kind="png", scale=8, border=2)
    pdf.image(qr, x=20, y=205, w=52)
    pdf.set_xy(78, 210)
    pdf.set_font("DejaVu", "", 9.5)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(112, 5, words["verify"], align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(78)
    pdf.set_text_color(*NAVY)
    pdf.multi_cell(112, 5, certificate.verification_url, link=certificate.verification_url)
    pdf.set_x(78)
    pdf.set_text_color(*GREY)
    pdf.multi_cell(112, 5, words["credential"].format(id=certificate.credential_id))
    return bytes(pdf.output())
