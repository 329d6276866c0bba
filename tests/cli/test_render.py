"""The text people read, checked on the rendered text: names instead of codes, 80 columns in a
pipe, and nothing cut off (a Chinese character takes two columns)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from daiban.cli import render
from daiban.cli.text import Column, cells, table, wrap

NOTICE = (
    "您的城乡居民基本养老保险参保登记申请已由姜山镇便民服务中心受理，承诺于2026年12月1日17:00前办结。"
    "如需补正材料，代办员将一次性告知。如对办理结果有异议，可依法申请行政复议或者提起行政诉讼。"
)


def state(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "3f2a9c0d1e2f4a5b6c7d8e9f0a1b2c3d",
        "item": "yanglao-dengji",
        "item_name": "城乡居民养老保险参保登记",
        "village": "370285004001",
        "township": "370285004",
        "responsible_office": "370285004",
        "stage": "township_review",
        "status": "open",
        "deadline": "2026-12-01T17:00:00+08:00",
        "deadline_provisional": False,
        "expected_at": "2026-12-01T17:00:00+08:00",
        "overdue": "red",
        "red_flag": True,
        "resident": {"name": "王*英", "id_number": "370285********0024", "phone": "138****1234"},
        "materials": ["城乡居民基本养老保险参保登记表", "居民身份证", "户口簿"],
        "missing_materials": [],
        "paused": None,
        "decision": None,
        "rating": None,
        "service_notice": NOTICE,
        "allowed_actions": ["approve", "deny", "refuse", "pause", "request_extension"],
        "history": [
            {
                "at": "2026-12-01T09:02:00+08:00",
                "actor": "agent-370285004001",
                "role": "agent",
                "action": "handoff",
                "from": "village_intake",
                "to": "township_review",
                "note": "材料齐全，已送交姜山镇便民服务中心综合受理窗口，请尽快受理",
            }
        ],
        "escalations": [
            {
                "at": "2026-12-01T17:00:00+08:00",
                "clock": "official",
                "level": "red",
                "deadline": "2026-12-01T17:00:00+08:00",
                "office": "370285004",
            }
        ],
    }
    return base | changes


@pytest.fixture(autouse=True)
def pipe_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # a pipe without COLUMNS: 80


def squeezed(text: str) -> str:
    """The text without line breaks and runs of spaces: what wrapping may have split."""
    return re.sub(r"\s+", "", text)


def column(text: str, index: int) -> str:
    """The text of one table column, its wrapped lines joined (positions from the dashes line)."""
    lines = text.splitlines()
    rule = next(n for n, line in enumerate(lines) if line and set(line) <= {"-", " "})
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    start = spans[index][0]
    end = spans[index + 1][0] if index + 1 < len(spans) else 10_000
    pieces = []
    for line in lines[rule + 1 :]:
        if line.startswith(("* ", "more:")):  # the notes under the table
            break
        at, piece = 0, ""
        for char in line:
            if start <= at < end:
                piece += char
            at += cells(char)
        pieces.append(piece.strip())
    return "".join(pieces)


def test_show_is_in_names_within_80_columns_and_keeps_the_whole_notice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    render.print_request(state())
    out = capsys.readouterr().out
    assert max(cells(line) for line in out.splitlines()) <= 80, out
    assert squeezed(NOTICE) in squeezed(out)
    names = ("城乡居民养老保险参保登记", "阎家疃村", "姜山镇", "乡镇受理中", "红牌", "办件时限")
    for name in names:
        assert name in out, name
    assert "approve批准,deny不予批准" in squeezed(out)
    for code in ("township_review", "370285004001", "official"):
        assert code not in out, code
    assert "12月1日 17:00" in out


def test_a_list_fits_80_columns_with_every_name_whole(capsys: pytest.CaptureFixture[str]) -> None:
    summary = {
        key: state()[key]
        for key in ("id", "item", "village", "township", "stage", "overdue", "deadline")
    }
    other = summary | {
        "id": "4f2a9c0d1e2f4a5b6c7d8e9f0a1b2c3d",
        "item": "dibao",
        "stage": "awaiting_supplement",
        "overdue": "statutory",
        "deadline": "2027-01-05T17:00:00+08:00",
        "deadline_provisional": True,
    }
    items = [summary | {"resident": {"name": "王*英"}}, other | {"resident": {"name": "欧阳*华"}}]
    render.print_page({"items": items, "next_cursor": None}, "Requests")
    out = capsys.readouterr().out
    assert max(cells(line) for line in out.splitlines()) <= 80, out
    listed = column(out, 1)
    for whole in ("城乡居民养老保险参保登记", "最低生活保障审核确认", "阎家疃村王*英", "欧阳*华"):
        assert whole in listed, whole
    assert column(out, 2) == "乡镇受理中待补正"
    assert "2027年1月5日17:00*" in column(out, 4) and "法定逾期" in out
    assert all(item["id"] in out for item in items)  # an id is never wrapped: it is copied


def test_stats_fit_80_columns(capsys: pytest.CaptureFixture[str]) -> None:
    row = {
        "office": "370285004",
        "name": "姜山镇",
        "total": 1234,
        "completed": 1200,
        "on_time_rate": 0.955,
        "avg_working_days": 12.5,
        "reminder": 140,
        "yellow": 30,
        "red": 12,
        "ratings": {"1": 10, "2": 20, "3": 100, "4": 300, "5": 800},
        "satisfaction_rate": 0.97,
        "rectified_rate": 1.0,
    }
    render.print_stats({"offices": [row]})
    out = capsys.readouterr().out
    assert max(cells(line) for line in out.splitlines()) <= 80, out
    assert "姜山镇" in out and "10/20/100/300/800" in out and "140/30/12" in out


def test_wrap_counts_a_chinese_character_as_two_columns() -> None:
    assert wrap("姜山镇便民服务中心", 6) == ["姜山镇", "便民服", "务中心"]
    assert wrap("due 12月1日 17:00", 12) == ["due 12月1日", "17:00"]
    assert cells("姜山镇 ab") == 9


def test_a_table_never_cuts_a_cell() -> None:
    rows = [["1", "莱西市行政服务中心民政局窗口", "x"]]
    text = table([Column("n", narrows=False), Column("office"), Column("y")], rows, 20)
    assert max(cells(line) for line in text.splitlines()) <= 20
    assert column(text, 1) == "莱西市行政服务中心民政局窗口"
    assert "…" not in text
