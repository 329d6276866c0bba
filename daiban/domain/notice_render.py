"""A written notice as people read it: printable HTML and PDF, from the same document.

The kind's body template (``data/notices/<kind>.txt.j2``) turns a notice's canonical content into
paragraphs; ``notice.html.j2`` lays them out on an A4 page for the browser's print, and
``render_pdf`` lays out the same paragraphs with fpdf2, so the two copies cannot say different
things. Both print the office as issuer, the number and, at the foot, the SHA-256 of the content.

Why fpdf2 and Noto CJK: the notices are printed on a county's intranet, where nothing may be
downloaded at run time and no browser or office suite runs on the server. fpdf2 is pure Python
(on fontTools, well kept, no system libraries), embeds a subset of an OpenType font so that every
printer and viewer shows the same glyphs, and writes a ToUnicode map, so the PDF's text can be
searched and extracted (a test reads it back with ``pdftotext``). The font is Noto Serif CJK SC
from Debian's ``fonts-noto-cjk`` (SIL Open Font License; a serif face, as official documents
use), configured by ``DAIBAN_NOTICE_FONT`` / ``DAIBAN_NOTICE_FONT_INDEX`` (the face in the
collection) and checked at start-up with a one-line error. WeasyPrint (HTML to PDF) would need
Pango and its system libraries; ReportLab's built-in CJK fonts are not embedded, so a printer
without them prints boxes.

Loading and subsetting a CJK font takes seconds, so a PDF is rendered when it is asked for, not
when the notice is issued, and the last ones rendered are kept (a notice never changes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fontTools.ttLib import TTFont, TTLibError
from fpdf import FPDF
from fpdf.enums import TextMode, XPos, YPos
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from daiban.domain.notices import NOTICES_DIR, PROCEDURES, notice_kind, notice_kinds, parse_date

# What every notice prints, beyond its fields: checked in the font at start-up.
_PRINTED: Final = (
    "〔〕号（）：；，。“”、年月日时印章核验码特此通知告知理由出具编号一二三四五六七八九十"
)
_DIGITS: Final = "〇一二三四五六七八九"
PDF_CACHE_SIZE: Final = 32


class NoticeFontError(Exception):
    """The notice font cannot be used; the message is one line naming the file."""


@dataclass(frozen=True)
class NoticeFont:
    path: Path
    index: int  # the face of a font collection (.ttc): 2 is Simplified Chinese in Noto CJK


@dataclass(frozen=True)
class NoticeDocument:
    """What a notice says, laid out by neither renderer yet."""

    title: str
    number: str
    addressee: str
    paragraphs: tuple[str, ...]
    issuer: str
    date: str  # 2026年12月1日
    issued_at: str  # ISO 8601 with offset, as in the content
    sha256: str


def check_notice_font(path: Path, index: int) -> NoticeFont:
    """The font at ``path`` (face ``index``), if it opens and has the glyphs notices print."""
    if not path.is_file():
        raise NoticeFontError(
            f"notice font {path} not found: install fonts-noto-cjk or set DAIBAN_NOTICE_FONT"
        )
    try:
        font = TTFont(path, fontNumber=index, lazy=True)
        cmap = font.getBestCmap()
    except (TTLibError, OSError, AssertionError, IndexError) as error:
        raise NoticeFontError(
            f"notice font {path} (face {index}) cannot be read: {error}"
        ) from None
    wanted = _PRINTED + "".join(kind.title for kind in notice_kinds().values())
    missing = sorted({ch for ch in wanted if ord(ch) not in cmap})
    if missing:
        raise NoticeFontError(
            f"notice font {path} (face {index}) lacks Chinese glyphs: {''.join(missing[:10])}"
        )
    return NoticeFont(path, index)


# --- the document ------------------------------------------------------------------------------


def cn_date(value: Any) -> str:
    day = value if isinstance(value, date) else parse_date("date", value)
    return f"{day.year}年{day.month}月{day.day}日"


def cn_number(value: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (list items of a notice)."""
    tens, ones = divmod(value, 10)
    if value < 10:
        return _DIGITS[value]
    head = "" if tens == 1 else _DIGITS[tens]
    return f"{head}十{_DIGITS[ones] if ones else ''}"


@lru_cache(maxsize=1)
def _text_templates() -> Environment:
    # Plain text (no escaping here): the HTML template escapes every paragraph it prints.
    env = Environment(
        loader=FileSystemLoader(NOTICES_DIR),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(cn_date=cn_date, cn_number=cn_number, procedure_name=PROCEDURES.get)
    return env


@lru_cache(maxsize=1)
def _html_templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(NOTICES_DIR), autoescape=True, undefined=StrictUndefined
    )


def notice_document(content: Mapping[str, Any], sha256: str) -> NoticeDocument:
    """The notice of this canonical content: title, addressee, paragraphs, issuer, date."""
    kind = notice_kind(str(content["kind"]))
    fields = {"order_number": None, **content}
    body = _text_templates().get_template(f"{kind.code}.txt.j2").render(fields)
    paragraphs = tuple(line.strip() for line in body.splitlines() if line.strip())
    addressee = content["resident_name" if kind.addressee == "resident" else "to_office_name"]
    issued_at = datetime.fromisoformat(str(content["issued_at"]))
    return NoticeDocument(
        title=kind.title,
        number=str(content["number"]),
        addressee=str(addressee),
        paragraphs=paragraphs,
        issuer=str(content["issuer"]),
        date=cn_date(issued_at.date()),
        issued_at=str(content["issued_at"]),
        sha256=sha256,
    )


def render_html(doc: NoticeDocument) -> str:
    return _html_templates().get_template("notice.html.j2").render(doc=doc)


# --- PDF ---------------------------------------------------------------------------------------

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
