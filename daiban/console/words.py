"""The console's words: stages, actions, rungs, clocks and fields in Chinese, names for codes, and
dates as people read them (12月3日 17:00, 还剩2个工作日, 已超期1天).

The names of stages, actions, rungs, clocks and roles are the product's one vocabulary
(``daiban.domain.labels``), which the command line and the notifications speak too. Everything
here is presentation: the rules (which action is allowed, what it requires) come from
``models.actions`` and the API's own validation; this module only puts them into words.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from daiban.domain import labels
from daiban.domain.notices import notice_kinds
from daiban.domain.offices import OfficeTree
from daiban.domain.workdays import WorkdayCalendar

# The product's one vocabulary (the command line and the notifications speak it too).
STAGES: Final = labels.STAGES
ACTIONS: Final = labels.ACTIONS
LEVELS: Final = labels.LEVELS
CLOCKS: Final = labels.CLOCKS
ROLES: Final = labels.ROLES
OUTCOMES: Final = labels.OUTCOMES
APPEALS: Final = labels.APPEALS


# The agent's next step, in the words the agent would use.
NEXT_STEP: Final = {
    "village_intake": "把材料送到乡镇便民服务中心",
    "awaiting_supplement": "收齐补正材料后交回",
    "result_delivery": "把结果送到群众手中",
    "awaiting_rating": "请群众本人评价（短信链接、扫码或本机验证码）",
}


TIERS: Final = {"village": "村(居)代理室", "township": "乡镇便民服务中心", "city": "市行政服务中心"}

PAUSE_REASONS: Final = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "inspection": "检验检测",
    "appraisal": "鉴定",
    "public_notice": "公示",
}

SCORES: Final = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}

# How a rating was given, as the request page says it; an unconfirmed one is marked plainly, since
# it is not counted in the satisfaction rate.
RATING_CHANNELS: Final = {
    "link": "群众本人用手机评价",
    "sms_code": "群众本人短信验证码确认",
    "agent_unconfirmed": "未经本人确认",
    "default": "到期未评价，按默认评价",
}

FIELDS: Final = {
    "note": "说明",
    "missing_materials": "缺少的材料",
    "due": "补交日期",
    "reason": "中止原因",
    "days": "天数",
    "upheld": "申诉是否成立",
    "outcome": "整改方式",
    "reached": "是否联系上群众",
    "score": "评分",
    "tiers": "分级评价",
    "confirmation_code": "验证码",
    "comment": "意见",
    "item": "办理事项",
    "resident.name": "姓名",
    "resident.id_number": "身份证号码",
    "resident.phone": "手机号码",
    "materials": "已收材料",
    "commitment": "承诺书",
    "commitment_by": "承诺书签署人",
    "authorisation": "授权委托书",
}

# Who signed a gap's written commitment (承诺书).
COMMITMENT_BY: Final = {"resident": "申请人本人", "agent": "代办员（持申请人授权委托书）"}

# The notes the workflow itself writes in a history, as the timeline says them.
SYSTEM_NOTES: Final = {"gap not supplied": "容缺材料逾期未补齐，申请终止"}

# Why approving or forwarding waits (409): the gap is still open.
GAP_OPEN: Final = "容缺材料尚未补齐：补齐前不能批准或转报。"

# What became of a gap (容缺受理).
GAP_STATUS: Final = {
    "open": "待补齐",
    "supplied": "已补齐",
    "lapsed": "逾期未补齐，申请已终止",
    "closed": "随办件结束",
}

# Why a field was refused, keyed by field: the API's messages are for programs, these for people.
FIELD_HINTS: Final = {
    "resident.name": "请填写群众姓名",
    "resident.id_number": "身份证号码不正确：应为18位，校验位和出生日期须正确",
    "resident.phone": "手机号码不正确：应为11位，以13至19开头",
    "item": "请选择办理事项",
    "due": "请填写补交日期，且不能早于今天",
    "reason": "请选择中止原因",
    "days": "请填写天数（至少1天）",
    "score": "请选择评分",
    "commitment": "请填写承诺书编号或内容",
    "commitment_by": "请选择承诺书由谁签署",
    "authorisation": "代办员签署承诺书的，请填写申请人的授权委托书",
    "outcome": "请选择整改方式",
    "reached": "请选择是否联系上群众",
}

# A field's hint where the same field means something else in another action.
ACTION_FIELD_HINTS: Final = {
    ("rectify", "due"): "限期整改须填写完成日期：不能早于今天，也不能太远；其他整改方式不填日期",
    ("rectify", "outcome"): "请选择整改方式；已限期整改的，整改完成后选“立行立改”",
}

# What the note is, for the actions whose note is required.
NOTE_LABELS: Final = {
    "refuse": "不予受理的理由",
    "deny": "不予批准的理由",
    "request_extension": "延期理由",
    "callback": "回访情况",
    "rectify": "整改情况",
    "appeal_rating": "申诉理由",
}


def office_name(offices: OfficeTree, code: str | None) -> str:
    if not code:
        return ""
    office = offices.find(code)
    return office.name if office is not None else code


# The confirmation code's refusals, by what the API's message says (``routes_rating.REFUSALS``).
CODE_HINTS: Final = (
    ("too many", "验证码输错次数太多，已经失效。请重新发送验证码"),
    ("expired", "验证码已过期，请重新发送验证码"),
    ("used already", "这个验证码已经用过，请重新发送验证码"),
    ("no confirmation code", "还没有给群众发送验证码，请先发送"),
    ("needs no", "用链接评价不需要验证码"),
)


RATING_NOTE = re.compile(
    r"^(?P<fix>fix )?score (?P<score>[1-5])(?P<default> \(default\))?(?P<tiers>(, \w+ [1-5])*)"
    r"( \[(?P<channel>\w+)\])?$"
)


def _rating_note(note: str) -> str | None:
    """A rating's ``score 2, township 1 [link]`` in words; None for another note."""
    found = RATING_NOTE.match(note)
    if found is None:
        return None
    score = int(found["score"])
    text = ("整改评价 " if found["fix"] else "") + f"{score}分 {SCORES[score]}"
    for part in filter(None, (found["tiers"] or "").split(", ")):
        tier, value = part.split()
        text += f"；{TIERS.get(tier, tier)} {value}分"
    channel = found["channel"] or ("default" if found["default"] else None)
    return text + (f"（{RATING_CHANNELS.get(channel, channel)}）" if channel else "")


def code_message(message: str) -> str:
    """Why a confirmation code was refused, in words; a wrong one says how many tries are left."""
    for phrase, hint in CODE_HINTS:
        if phrase in message:
            return hint
    left = re.search(r"\((\d+) tries left\)", message)
    return "验证码不正确，请核对群众手机收到的短信" + (
        f"（还可以再试{left.group(1)}次）" if left else ""
    )


def field_message(field: str, message: str, action: str | None = None) -> str:
    """A field's error in words: the hint for that field, else '请填写…' for a missing one."""
    if field == "confirmation_code":
        return code_message(message)
    if field == "tiers" or field.startswith("tiers."):
        return "分级评价有误：只能评价办理过此件的单位"
    if field == "note" and action in NOTE_LABELS:
        return f"请填写{NOTE_LABELS[action]}"
    if field == "due" and "promised deadline" in message:
        return "补交日期不能晚于承诺办结期限" + message.rsplit(" ", 1)[-1]
    if field == "missing_materials" and "gap list" in message:
        return message.split(" is not on ", 1)[0] + "不在本事项的容缺材料清单内，不能容缺"
    hint = ACTION_FIELD_HINTS.get((action or "", field))
    if hint is not None:
        return hint
    if field in FIELD_HINTS:
        return FIELD_HINTS[field]
    label = FIELDS.get(field, field)
    if "required" in message or "empty" in message or "missing" in message:
        return f"请填写{label}"
    return f"{label}填写有误"


def history_note(action: str, note: str | None) -> str:
    """A history note as people read it: a rating's (``score 2, township 1 [link]``), a
    rectification step's (the workflow records ``reached: …``, ``fixed: …`` or ``scheduled by
    2030-03-15: …`` before what the office wrote) or one the system wrote (``SYSTEM_NOTES``); any
    other note as it was written."""
    text = note or ""
    rating = _rating_note(text) if action == "rate" else None
    if rating is not None:
        return rating
    head, sep, rest = text.partition(": ")
    if not sep or action not in ("callback", "rectify"):
        return SYSTEM_NOTES.get(text, text)
    if head in ("reached", "not reached"):
        return ("已联系上群众：" if head == "reached" else "未联系上群众：") + rest
    if head in OUTCOMES:
        return f"{OUTCOMES[head]}：{rest}"
    if head.startswith("scheduled by "):
        return f"限期整改（{head.removeprefix('scheduled by ')}前完成）：{rest}"
    return text


def notice_title(kind: str | None) -> str:
    """A written notice's kind as its title (受理通知书), for the ledger row that issued it."""
    found = notice_kinds().get(kind or "")
    return found.title if found is not None else kind or ""


def short_time(moment: datetime | None, tz: ZoneInfo) -> str:
    """``12月3日 17:00`` in the offices' zone."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def short_date(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


def remaining(
    deadline: datetime | None, now: datetime, calendar: WorkdayCalendar, tz: ZoneInfo
) -> str:
    """How long is left, as a clerk says it: 今天17:00到期, 还剩2个工作日, 已超期1天."""
    if deadline is None:
        return ""
    local_deadline, local_now = deadline.astimezone(tz), now.astimezone(tz)
    if local_deadline <= local_now:
        days = (local_now.date() - local_deadline.date()).days
        return "已超期" if days == 0 else f"已超期{days}天"
    if local_deadline.date() == local_now.date():
        return f"今天{local_deadline:%H:%M}到期"
    return f"还剩{calendar.working_days_between(local_now, local_deadline)}个工作日"
