"""Written notices as people read them: numbers, the eight kinds' texts in HTML, the PDF's text
read back with pdftotext, Chinese line breaking, and the font check."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from daiban.core.settings import Settings
from daiban.domain.notice_pdf import break_lines, render_pdf
from daiban.domain.notice_render import (
    NoticeDocument,
    NoticeFontError,
    check_notice_font,
    cn_number,
    notice_document,
    render_html,
)
from daiban.domain.notices import (
    NoticeContentError,
    content_sha256,
    issuer_name,
    notice_content,
    notice_kinds,
    notice_number,
    office_short_name,
)

TZ = ZoneInfo("Asia/Shanghai")
JIANGSHAN = "370285004"
COMMON = {"item": "dibao", "item_name": "最低生活保障审核确认", "resident_name": "王秀英"}
# Per kind: its own fields and what its text must say because of them.
KINDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "acceptance": ({"promised_date": "2027-01-08"}, ["予以受理", "2027年1月8日前办结"]),
    "supplement": (
        {"missing_materials": ["收入证明", "户口簿"], "due_date": "2026-12-31"},
        ["一次性告知", "（一）收入证明；", "（二）户口簿。", "2026年12月31日前"],
    ),
    "refusal": (
        {"reason": "申请事项不属于本机关职权范围"},
        ["不予受理", "理由：申请事项不属于本机关职权范围", "六十日内", "行政复议", "六个月内",
         "行政诉讼"],
    ),
    "denial": (
        {"reason": "家庭人均收入高于当地低保标准"},
        ["不予批准", "理由：家庭人均收入高于当地低保标准", "六十日内", "行政复议", "六个月内",
         "行政诉讼"],
    ),
    "extension": (
        {"reason": "需入户核查家庭经济状况", "new_date": "2027-01-22"},
        ["延长至2027年1月22日", "延期理由：需入户核查家庭经济状况"],
    ),
    "special_procedure": (
        {"procedure": "public_notice", "expected_days": 7},
        ["进行公示", "预计需要7个工作日", "不计入办理时限"],
    ),
    "gap_acceptance": (
        {"missing_materials": ["结婚证"], "form": "复印件", "due_date": "2026-12-20"},
        ["容缺受理", "（一）结婚证。", "2026年12月20日前以复印件形式补交", "逾期未补齐的",
         "终止办理"],
    ),
    "supervision": (
        {"to_office_name": "姜山镇便民服务中心", "reason": "已超过承诺办结时限",
         "response_due": "2026-12-03T17:00:00+08:00", "order_number": "莱西督〔2026〕0012号"},
        ["督办单号：莱西督〔2026〕0012号", "已超过承诺办结时限", "2026年12月3日前", "红牌"],
    ),
}  # fmt: skip


def content(kind: str, **extra: Any) -> dict[str, Any]:
    fields, _ = KINDS[kind]
    given = {**COMMON, **fields, **extra}
    if kind == "supervision":
        given.pop("resident_name")
    return notice_content(
        number=notice_number("姜山镇", kind, 2026, 7),
        kind=kind,
        office=JIANGSHAN,
        issuer=issuer_name("姜山镇", "township"),
        issued_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        request_id="req-1",
        fields=given,
        tz=TZ,
    )


def document(kind: str, **extra: Any) -> NoticeDocument:
    canonical = content(kind, **extra)
    return notice_document(canonical, content_sha256(canonical))


def test_every_kind_of_the_data_file_is_tested() -> None:
    assert set(notice_kinds()) == set(KINDS)


@pytest.mark.parametrize(
    ("name", "short"),
    [("姜山镇", "姜山"), ("水集街道", "水集"), ("莱西市行政服务中心", "莱西"), ("某乡", "某乡")],
)
def test_offices_sign_numbers_with_their_short_name(name: str, short: str) -> None:
    assert office_short_name(name) == short


def test_numbers_name_office_kind_year_and_sequence() -> None:
    assert notice_number("姜山镇", "acceptance", 2026, 7) == "姜山受〔2026〕0007号"
    assert notice_number("莱西市行政服务中心", "denial", 2027, 12) == "莱西不批〔2027〕0012号"
    assert issuer_name("姜山镇", "township") == "姜山镇便民服务中心"
    assert issuer_name("莱西市行政服务中心", "city") == "莱西市行政服务中心"
    assert [cn_number(n) for n in (1, 9, 10, 12, 20, 35)] == ["一", "九", "十", "十二", "二十",
                                                              "三十五"]  # fmt: skip


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_says_what_the_law_asks_in_html(kind: str) -> None:
    doc = document(kind)
    html = render_html(doc)
    title = notice_kinds()[kind].title
    addressee = "姜山镇便民服务中心" if kind == "supervision" else "王秀英"
    for text in [title, doc.number, f"{addressee}：", "姜山镇便民服务中心（印章）", "2026年12月1日",
                 doc.sha256, "@page { size: A4", *KINDS[kind][1]]:  # fmt: skip
        assert text in html, text
    assert content_sha256(content(kind)) == doc.sha256


def test_the_hash_covers_every_field() -> None:
    assert content_sha256(content("refusal")) != content_sha256(content("refusal", reason="别的"))
    base = content("acceptance")
    assert content_sha256({**base, "resident_name": "王秀华"}) != content_sha256(base)
    # Canonical: the order of the keys does not matter.
    assert content_sha256(dict(reversed(list(base.items())))) == content_sha256(base)


def test_html_escapes_what_staff_typed() -> None:
    html = render_html(document("refusal", reason="<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    ("kind", "extra", "field"),
    [
        ("acceptance", {"promised_date": "2027-13-01"}, "promised_date"),
        ("acceptance", {"promised_date": "2027-01-08T17:00:00"}, "promised_date"),  # no offset
        ("refusal", {"reason": "  "}, "reason"),
        ("special_procedure", {"expected_days": 0}, "expected_days"),
        ("special_procedure", {"expected_days": True}, "expected_days"),
        ("supplement", {"missing_materials": ["户口簿", ""]}, "missing_materials"),
        ("acceptance", {"note": {"nested": "object"}}, "note"),
        ("acceptance", {"issued_at": "2020-01-01"}, "issued_at"),
    ],
)
def test_incomplete_content_is_refused_by_field(
    kind: str, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(NoticeContentError) as caught:
        content(kind, **extra)
    assert caught.value.field == field


def test_chinese_lines_never_start_with_a_closing_mark() -> None:
    def measure(text: str) -> float:
        return float(len(text))

    assert break_lines("一二三四五六", 3, measure) == ["一二三", "四五六"]
    # "。" may not start a line: "三" moves down with it.
    assert break_lines("一二三。四五", 3, measure) == ["一二", "三。四", "五"]
    # "（" may not end a line, "）" may not start one: the bracket stays with its word.
    assert break_lines("一二（三）四", 3, measure) == ["一二", "（三）", "四"]
    # A run of Latin letters and digits stays whole when it fits on a line ...
    assert break_lines("编号：req-1，已", 6, measure) == ["编号：", "req-1，", "已"]
    # ... and is broken where it must when it does not.
    assert break_lines("号abcdefgh", 4, measure) == ["号abc", "defg", "h"]


@pytest.fixture(scope="module")
def font() -> Any:
    settings = Settings()
    return check_notice_font(settings.notice_font, settings.notice_font_index)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def test_the_pdf_text_is_the_notice_in_chinese(font: Any, tmp_path: Path) -> None:
    doc = document("denial")
    pdf = render_pdf(doc, font)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path)
    flat = "".join(text.split())  # pdftotext breaks lines where the page does
    for expected in ["不予批准决定书", "姜山不批〔2026〕0007号", "王秀英：",
                     "姜山镇便民服务中心（印章）", "2026年12月1日", "六十日内", "行政诉讼",
                     doc.sha256]:  # fmt: skip
        assert expected in flat, expected
    # The same document gives the same bytes (the creation date is the issue time).
    render_pdf.cache_clear()
    assert render_pdf(doc, font) == pdf


def test_the_font_check_fails_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(NoticeFontError, match="not found: install fonts-noto-cjk"):
        check_notice_font(tmp_path / "missing.ttc", 2)
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font at all")
    with pytest.raises(NoticeFontError, match="cannot be read") as caught:
        check_notice_font(junk, 0)
    assert "\n" not in str(caught.value)
    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    with pytest.raises(NoticeFontError, match="lacks Chinese glyphs"):
        check_notice_font(latin, 0)
