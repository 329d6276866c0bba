"""A written notice as people read it: the document, printable HTML, and the font of its PDF.

The kind's body template (``data/notices/<kind>.txt.j2``) turns a notice's canonical content into
paragraphs; ``notice.html.j2`` lays them out on an A4 page for the browser's print, and
``daiban.domain.notice_pdf`` lays out the same paragraphs with fpdf2, so the two copies cannot say
different things. Both print the office as issuer, the number and, at the foot, the SHA-256 of the
content.

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
when the notice is issued. The PDF code is a module of its own: importing fpdf2 takes seconds on a
busy machine, which only a PDF request should pay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from fontTools.ttLib import TTFont, TTLibError
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from daiban.domain.notices import NOTICES_DIR, PROCEDURES, notice_kind, notice_kinds, parse_date

# What every notice prints, beyond its fields: checked in the font at start-up.
_PRINTED: Final = (
    "〔〕号（）：；，。“”、年月日时印章核验码特此通知告知理由出具编号一二三四五六七八九十"
)
_DIGITS: Final = "〇一二三四五六七八九"


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
