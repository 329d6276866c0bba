"""Dates and reasons as people read them (pure: no server)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from daiban.console import words
from daiban.console.web import problem_words
from daiban.console.work import action_body, form_fields
from daiban.domain.workdays import WorkdayCalendar
from daiban.http.problems import ActionNotAllowed, InvalidInput, NotFound
from models.actions import ACTIONS

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar(tz="Asia/Shanghai", closing=time(17))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def test_times_read_as_month_day_and_clock() -> None:
    assert words.short_time(at("2026-12-03T17:00"), TZ) == "12月3日 17:00"
    assert words.short_time(datetime.fromisoformat("2026-12-03T01:00+00:00"), TZ) == "12月3日 09:00"
    assert words.short_date(at("2027-01-18T17:00"), TZ) == "2027年1月18日"
    assert words.short_time(None, TZ) == ""


def test_what_is_left_counts_working_days_and_says_how_late() -> None:
    now = at("2026-09-30T10:00")  # Wednesday before the National Day holiday (1–7 Oct)
    assert words.remaining(at("2026-09-30T17:00"), now, CAL, TZ) == "今天17:00到期"
    # Thursday 1 Oct to Thursday 8 Oct: the holiday week holds no working day, 8 Oct is one.
    assert words.remaining(at("2026-10-08T17:00"), now, CAL, TZ) == "还剩1个工作日"
    assert words.remaining(at("2026-09-29T17:00"), now, CAL, TZ) == "已超期1天"
    assert words.remaining(at("2026-09-30T09:00"), now, CAL, TZ) == "已超期"


def test_problems_are_said_in_words() -> None:
    refused = InvalidInput("note is required", [{"field": "note", "message": "note is required"}])
    assert problem_words(refused, "refuse") == ["请填写不予受理的理由"]
    wrong_id = InvalidInput("x", [{"field": "resident.id_number", "message": "fails"}])
    assert "身份证号码不正确" in problem_words(wrong_id)[0]
    late = ActionNotAllowed(
        "forward is not allowed", allowed_actions=["accept"], extra={"stage": "township_review"}
    )
    assert problem_words(late) == ["现在不能这样办理：此件乡镇受理中，现在可以：受理。"]
    assert problem_words(NotFound("no such request")) == ["没有这个办件，或不在您的权限范围内。"]


def test_the_gap_rules_are_said_in_words() -> None:
    late = "due must not be after the promised deadline: the latest allowed date is 2030-03-18"
    off_list = "户口簿 is not on the gap list of this item (may be missing: 遭遇困难情况证明)"
    refused = InvalidInput(
        late,
        [
            {"field": "due", "message": late, "latest": "2030-03-18"},
            {"field": "missing_materials", "message": off_list},
        ],
    )
    assert problem_words(refused, "accept_with_gap") == [
        "补交日期不能晚于承诺办结期限2030-03-18",
        "户口簿不在本事项的容缺材料清单内，不能容缺",
    ]
    waiting = ActionNotAllowed(
        "approve is not allowed: the gap materials have not been supplied (容缺材料未补齐)",
        allowed_actions=["deny"],
        extra={"stage": "township_review"},
    )
    assert problem_words(waiting)[0] == words.GAP_OPEN


def test_rectification_steps_are_said_in_words() -> None:
    assert words.history_note("callback", "reached: 已联系") == "已联系上群众：已联系"
    assert words.history_note("callback", "not reached: 无人接听") == "未联系上群众：无人接听"
    assert words.history_note("rectify", "fixed: 已更换") == "立行立改：已更换"
    assert words.history_note("rectify", "explained: 按政策") == "解释说明：按政策"
    assert words.history_note("rectify", "scheduled by 2030-03-15: 维修") == (
        "限期整改（2030-03-15前完成）：维修"
    )
    # Other steps, and a rectification recorded before outcomes, keep their notes as written.
    assert words.history_note("rectify", "已回访") == "已回访"
    assert words.history_note("approve", "fixed: x") == "fixed: x"
    due = InvalidInput("d", [{"field": "due", "message": "due is required for a scheduled …"}])
    assert problem_words(due, "rectify") == [words.ACTION_FIELD_HINTS[("rectify", "due")]]


def test_a_date_left_behind_by_another_outcome_is_not_sent() -> None:
    """The 限期整改 date is hidden, not emptied, when another outcome is chosen after it."""
    form = {"action": "rectify", "outcome": "fixed", "due": "2030-03-15", "note": "已修好"}
    assert action_body(form) == {"action": "rectify", "outcome": "fixed", "note": "已修好"}
    assert action_body(form | {"outcome": "scheduled"})["due"] == "2030-03-15"
    assert form_fields("rectify") == ["note", "outcome", "due"]


def test_every_form_asks_every_field_its_action_requires() -> None:
    """A form the console offers carries each field the API would refuse without (a pause its
    expected days, an accept-with-gap its commitment), so no clerk meets a 422 the form caused."""
    for action, rule in ACTIONS.items():
        assert set(rule.required) <= set(form_fields(action)), action
    assert form_fields("pause")[:2] == ["reason", "expected_days"]
