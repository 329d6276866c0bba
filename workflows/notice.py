"""The ``service_notice``: one paragraph a resident can read, built from the state (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from models.contracts import RequestState, Stage

# China Standard Time, the service's time zone (no daylight saving): fixed here because workflow
# code reads no settings; the request workflow reads "today" in it as well.
CST = timezone(timedelta(hours=8))

PAUSE_REASON_TEXT = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "inspection": "检验检测",
    "appraisal": "鉴定",
    "public_notice": "公示",
}


_REVIEW = (Stage.TOWNSHIP_REVIEW, Stage.CITY_REVIEW)


def _day(moment: datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(CST)
    return f"{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def _date(iso: str) -> str:
    """``12月3日`` of an ISO date."""
    _, month, day = iso.split("-")
    return f"{int(month)}月{int(day)}日"


def local_time(moment: datetime) -> str:
    """``12月3日17:00``: an instant as the offices read it."""
    return _day(moment)


def _rectification_text(state: RequestState, item: str, due: str) -> str:
    """What the resident is told while a bad rating is answered: the callback, then the fix."""
    rect = state.rectification
    if rect is None or not any(c.reached for c in rect.callbacks):
        return f"{item}的评价已收到，承办单位将于{due}前回访并整改。"
    if rect.outcome == "scheduled":
        return f"{item}的评价已收到，承办单位已回访，正在限期整改，将于{due}前完成。"
    return f"{item}的评价已收到，承办单位已回访，将于{due}前整改。"


def service_notice(state: RequestState) -> str:
    item = f"您的【{state.item_name}】申请"
    due = _day(state.deadline)
    expected = f"预计{_day(state.expected_at)}前办结送达。" if state.expected_at else ""
    if state.paused is not None:
        reason = PAUSE_REASON_TEXT.get(state.paused.reason, state.paused.reason)
        return (
            f"{item}因{reason}程序自{_day(state.paused.since)}起中止计时，"
            "该程序所用时间不计入办理时限，恢复后期限相应顺延。"
        )
    ext = state.extension
    if ext is not None and ext.status == "approved" and state.lawful_extension is not None:
        # The lawful extension told to the resident (Licensing Law art. 42): reason and new date.
        expected = f"因{ext.reason}依法延期，办理期限延至{due}。" + expected
    gap = state.gap
    if gap is not None and gap.status == "open" and state.stage in _REVIEW:
        expected = (
            f"容缺受理：请于{_date(gap.due)}前将{'、'.join(gap.materials)}交村代办员，"
            "逾期未补齐的，申请将终止。" + expected
        )
    lapsed = f"{item}因未在期限内补正材料已终止，如需办理请重新申请。"
    if gap is not None and gap.status == "lapsed":
        lapsed = f"{item}因未在承诺期限内补齐容缺材料已终止，如需办理请重新申请。"
    texts = {
        Stage.VILLAGE_INTAKE: f"{item}已由村代办员登记，将于{due}前送交镇便民服务中心。{expected}",
        Stage.TOWNSHIP_REVIEW: f"{item}正在镇便民服务中心办理，本环节期限{due}。{expected}",
        Stage.CITY_REVIEW: f"{item}正在市行政服务中心办理，本环节期限{due}。{expected}",
        Stage.AWAITING_SUPPLEMENT: (
            f"{item}需补正材料：{'、'.join(state.missing_materials)}。"
            f"请于{due}前交村代办员，逾期未补正的，申请将终止。"
        ),
        Stage.RESULT_DELIVERY: (
            f"{item}已办理完毕（{'准予' if state.decision == 'approved' else '不予'}），"
            f"村代办员将于{due}前将结果送达。"
        ),
        Stage.AWAITING_RATING: f"{item}结果已送达，请对本次服务进行评价（{due}前）。",
        Stage.RECTIFICATION: _rectification_text(state, item, due),
        Stage.COMPLETED: f"{item}已办结，感谢您的评价。",
        Stage.REFUSED: f"{item}不予受理，理由见受理通知。",
        Stage.WITHDRAWN: f"{item}已按您的意愿撤回。",
        Stage.LAPSED: lapsed,
    }
    return texts.get(Stage(state.stage), "")
