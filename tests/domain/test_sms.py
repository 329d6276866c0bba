"""Notification texts as the county sends them: every rung of every clock for every item and
office fits one SMS segment, in words (no codes, no ISO times), from templates a county can
replace."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daiban.domain import sms
from daiban.domain.catalog import load_catalog
from daiban.domain.offices import demo_offices
from models.contracts import LedgerEvent, Notification, RequestState, TransitionRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEADLINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
LEVELS = ("reminder", "warning", "yellow", "red", "statutory")
CODE = re.compile(r"[a-z_]{4,}|\d{4}-\d{2}-\d{2}|T\d{2}:")


def test_every_rung_of_every_item_and_office_fits_one_segment_in_words() -> None:
    t = sms.templates()
    items = [item.name for item in load_catalog().items]
    offices = {office.code for office in demo_offices()}
    longest = max(offices, key=lambda code: len(sms.office_name(code)))
    for level in LEVELS:
        for clock in t.clocks:
            for item in items:
                for office in (longest, "370285004"):
                    text = sms.rung_text(level, clock, item, office, DEADLINE, SHANGHAI, t)
                    assert len(text) <= t.max_length, text
                    assert not CODE.search(text), text
    text = sms.rung_text("red", "official", "临时救助", "370285004", DEADLINE, SHANGHAI, t)
    expected = (
        "【莱西便民代办】红牌：姜山镇“临时救助”已超办件时限（12月1日17:00到期），"
        + "请立即办理并说明情况。"
    )
    assert text == expected


def test_a_long_text_drops_the_signature_then_shortens_the_item() -> None:
    t = sms.Templates(
        "【很长的县级政务服务短信签名】", 20, {"red": "{signature}红牌：{item}"}, "", {}
    )
    text = sms.fit(t.rungs["red"], t, item="城乡居民养老保险参保登记城乡居民养老保险参保登记")
    assert len(text) <= 20 and text.startswith("红牌：城乡居民") and text.endswith("…")


def test_a_county_replaces_the_templates(tmp_path: Path) -> None:
    data = json.loads(sms.DEFAULT_FILE.read_text(encoding="utf-8"))
    data["signature"] = "【即墨代办】"
    data["rungs"]["reminder"] = "{signature}{office}请注意：{item}{clock}{deadline}到期"
    path = tmp_path / "sms.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    t = sms.templates(str(path))
    text = sms.rung_text("reminder", "acceptance", "临时救助", "370285004", DEADLINE, SHANGHAI, t)
    assert text == "【即墨代办】姜山镇请注意：临时救助受理期限12月1日17:00到期"


def record(events: list[LedgerEvent], notifications: list[Notification]) -> TransitionRecord:
    state = RequestState.__new__(RequestState)
    state.item_name = "最低生活保障审核确认"
    return TransitionRecord(state=state, events=events, notifications=notifications)


@pytest.mark.parametrize("level", ["yellow", "red"])
def test_the_recorded_notifications_get_the_county_text(level: str) -> None:
    rung = LedgerEvent(
        key="k1",
        at=DEADLINE,
        kind="escalation",
        actor="system",
        role="system",
        office="370285000",
        level=level,
        clock="official",
        deadline=DEADLINE,
    )
    raw = f"【{level}】最低生活保障审核确认 official 期限 2026-12-01T17:00:00+08:00"
    notifications = [
        Notification("n0", "370285000", "staff", raw, level=level),
        Notification("n1", "370285004", "staff", "最低生活保障审核确认 待办：city_review"),
        Notification("n2", "370285004001", "agent", "请通知申请人补正材料：户口簿"),
    ]
    texts = [n.message for n in sms.county_texts(record([rung], notifications), SHANGHAI)]
    card = "黄牌" if level == "yellow" else "红牌"
    assert texts[0].startswith(f"【莱西便民代办】{card}：莱西市行政服务中心“最低生活保障审核确认”")
    assert "办件时限" in texts[0] and "12月1日17:00" in texts[0]
    assert (
        texts[1]
        == "【莱西便民代办】待办：“最低生活保障审核确认”已到姜山镇，现为市中心办理中，请按期办理。"
    )
    assert texts[2] == "请通知申请人补正材料：户口簿"  # already in words: unchanged
    assert all(len(text) <= 70 for text in texts)


def test_a_refusal_never_quotes_its_note() -> None:
    """A refusal's reason is a staff note that may name the resident: the SMS (and the outbox row
    it is kept in) says where to read it instead."""
    note = "王秀英身份证复印件不清晰，电话13805321234联系"
    refuse = LedgerEvent(
        key="k1",
        at=DEADLINE,
        kind="action",
        actor="staff-1",
        role="township_staff",
        office="370285004",
        action="refuse",
        note=note,
    )
    notification = Notification("n0", "370285004001", "agent", "申请不予受理：" + note)
    (sent,) = sms.county_texts(record([refuse], [notification]), SHANGHAI)
    assert sent.message == (
        "【莱西便民代办】不予受理：姜山镇对“最低生活保障审核确认”不予受理，"
        + "理由请在代办系统查看并告知申请人。"
    )
    assert "王秀英" not in sent.message and "13805321234" not in sent.message
    assert len(sent.message) <= 70


@pytest.mark.parametrize(("decision", "word"), [("approved", "准予"), ("denied", "不予批准")])
def test_a_decision_to_deliver_is_named_in_words(decision: str, word: str) -> None:
    rec = record(
        [], [Notification("n0", "370285004001", "agent", f"办理结果（{decision}）待送达申请人")]
    )
    rec.state.decision = decision
    (sent,) = sms.county_texts(rec, SHANGHAI)
    assert sent.message == (
        f"【莱西便民代办】待送达：“最低生活保障审核确认”已办结（{word}），请及时将结果送达申请人。"
    )
    assert len(sent.message) <= 70 and decision not in sent.message


def test_texts_to_the_resident_fit_one_segment_for_every_item() -> None:
    t = sms.templates()
    link = "https://daiban.laixi.gov.cn/pj/" + "x" * 10
    for item in (item.name for item in load_catalog().items):
        invitation = sms.rating_link_text(item, link, t)
        assert len(invitation) <= t.max_length and invitation.endswith(link), invitation
        code = sms.rating_code_text(item, "381906", 10, t)
        assert len(code) <= t.max_length and "381906" in code and "10分钟" in code, code
    assert sms.rating_code_text("临时救助", "381906", 10, t) == (
        "【莱西便民代办】“临时救助”评价确认码381906，10分钟内有效。"
    )
