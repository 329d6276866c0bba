"""A year's holiday schedule as an administrator types it from the State Council's notice."""

from __future__ import annotations

from datetime import date

import pytest

from daiban.console.schedule import MAX_STRETCH_DAYS, schedule_days, year_schedule


def test_days_and_stretches_are_read_as_the_notice_writes_them() -> None:
    text = "1月1日\n2031-02-10~2031-02-12、4月5日至6日；2031年5月1日到5月3日\n\n"
    assert schedule_days(text, 2031, "放假日期") == [
        date(2031, 1, 1),
        date(2031, 2, 10), date(2031, 2, 11), date(2031, 2, 12),
        date(2031, 4, 5), date(2031, 4, 6),
        date(2031, 5, 1), date(2031, 5, 2), date(2031, 5, 3),
    ]  # fmt: skip
    # A stretch across a month's end, its end written with the month.
    assert schedule_days("1月30日至2月2日", 2031, "放假日期")[-1] == date(2031, 2, 2)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("明天", "放假日期“明天”看不懂"),
        ("2月30日", "没有2月30日这一天"),
        ("2032-01-01", "不在2031年"),
        ("2月16日至10日", "结束日期早于开始日期"),
        (f"1月1日至{MAX_STRETCH_DAYS + 1}日", f"一段不能超过{MAX_STRETCH_DAYS}天"),
    ],
)
def test_what_cannot_be_a_day_of_the_year_is_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        schedule_days(text, 2031, "放假日期")


def test_a_year_needs_days_off_and_names_no_day_twice() -> None:
    off, worked = year_schedule("2月10日至12日\n1月1日", "2月8日", 2031)
    assert off == [date(2031, 1, 1), date(2031, 2, 10), date(2031, 2, 11), date(2031, 2, 12)]
    assert worked == [date(2031, 2, 8)]
    with pytest.raises(ValueError, match="请填写放假日期"):
        year_schedule(" \n", "2月8日", 2031)
    with pytest.raises(ValueError, match="放假日期中2月11日写了两次"):
        year_schedule("2月10日至12日\n2月11日", "", 2031)
    with pytest.raises(ValueError, match="2月8日既写在放假日期里，又写在调休上班日期里"):
        year_schedule("2月8日", "2月8日", 2031)
