"""A written notice as a PDF: the paragraphs of its document laid out on A4 with fpdf2, the
notice font's used glyphs embedded (why fpdf2 and Noto CJK: ``daiban.domain.notice_render``).

Chinese lines are broken by hand (fpdf2 breaks at spaces, which Chinese text has none of):
between any two characters, never with a closing mark at the start of a line or an opening mark
at its end, and around runs of Latin letters and digits. The last PDFs rendered are kept: a
notice never changes, and rendering one takes seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Final

from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos

from daiban.domain.notice_render import NoticeDocument, NoticeFont

PDF_CACHE_SIZE: Final = 32
_FAMILY: Final = "notice"
_MARGINS: Final = (28.0, 37.0, 26.0)  # left, top, right in mm (GB/T 9704)
_BOTTOM: Final = 35.0
_BODY_PT: Final = 16.0  # 三号
_TITLE_PT: Final = 22.0  # 二号
_LINE_MM: Final = 28 * 25.4 / 72  # 28 pt lines, as official documents set them
_INDENT: Final = "\u3000\u3000"  # two ideographic spaces: the first-line indent of Chinese text


# Chinese line breaking (禁则): these never begin a line, and these never end one.
_NO_START: Final = "，。、；：？！）》〕」』”’…%"
_NO_END: Final = "（《〔「『“‘"
_LATIN_RUN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]*|.", re.DOTALL)


def _tokens(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Chinese characters one by one; a run of Latin letters and digits (a request id, a date)
    as one token, unless it is longer than a line."""
    tokens: list[str] = []
    for token in _LATIN_RUN.findall(text):
        tokens.extend(token if len(token) > 1 and measure(token) > width else [token])
    return tokens


def _forbidden_break(before: str, after: str) -> bool:
    return after[0] in _NO_START or before[-1] in _NO_END


def break_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Lines of at most ``width`` (as ``measure`` counts it), broken between any two Chinese
    characters and around runs of Latin letters and digits, never with a closing mark at the
    start of a line or an opening mark at its end: up to two tokens move down with it."""
    lines: list[str] = []
    line: list[str] = []
    for token in _tokens(text, width, measure):
        if not line or measure("".join(line) + token) <= width:
            line.append(token)
            continue
        head = [token]  # what the next line starts with
        while len(head) < 3 and len(line) > 1 and _forbidden_break(line[-1], head[0]):
            head.insert(0, line.pop())
        lines.append("".join(line))
        line = head
    if line:
        lines.append("".join(line))
    return lines


class _NoticePDF(FPDF):
    def __init__(self, doc: NoticeDocument) -> None:
        super().__init__(format="A4", unit="mm")
        self.doc = doc

    def footer(self) -> None:
        # On every page: a printed copy of any page can be checked.
        self.set_y(-20)
        self.set_font(_FAMILY, size=9)
        self.set_draw_color(0)
        self.line(self.l_margin, self.get_y() - 1, self.w - self.r_margin, self.get_y() - 1)
        lines = (
            f"文书编号：{self.doc.number}　出具时间：{self.doc.issued_at}　第{self.page_no()}页",
            f"核验码（SHA-256）：{self.doc.sha256}",
        )
        for line in lines:
            self.cell(0, 4.5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


@lru_cache(maxsize=PDF_CACHE_SIZE)
def render_pdf(doc: NoticeDocument, font: NoticeFont) -> bytes:
    """The notice as an A4 PDF with the font's used glyphs embedded (the same text as HTML)."""
    pdf = _NoticePDF(doc)
    pdf.set_margins(*_MARGINS)
    pdf.set_auto_page_break(auto=True, margin=_BOTTOM)
    pdf.add_font(_FAMILY, "", str(font.path), collection_font_number=font.index)
    pdf.set_title(f"{doc.title} {doc.number}")
    pdf.set_creator("daiban")
    # The issue time, not the rendering time: the same notice always gives the same bytes.
    pdf.set_creation_date(datetime.fromisoformat(doc.issued_at))
    pdf.add_page()
    # No bold face is loaded (a second CJK font doubles the rendering time): the title is drawn
    # filled and stroked, which prints as bold.
    with pdf.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.3):
        pdf.set_font(_FAMILY, size=_TITLE_PT)
        pdf.cell(0, 12, doc.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FAMILY, size=_BODY_PT)
    pdf.cell(0, _LINE_MM, doc.number, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(_LINE_MM / 2)
    pdf.multi_cell(0, _LINE_MM, f"{doc.addressee}：", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for paragraph in doc.paragraphs:
        for line in break_lines(_INDENT + paragraph, width, pdf.get_string_width):
            pdf.cell(0, _LINE_MM, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(_LINE_MM)
    for line in (f"{doc.issuer}（印章）", doc.date):
        pdf.cell(0, _LINE_MM, line + _INDENT, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
