"""The console's words: stages, actions, rungs, clocks and fields in Chinese, names for codes, and
dates as people read them (12月3日 17:00, 还剩2个工作日, 已超期1天).

Everything here is presentation: the rules (which action is allowed, what it requires) come from
``models.actions`` and the API's own validation; this module only puts them into words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from daiban.domain.offices import OfficeTree
from daiban.domain.workdays import WorkdayCalendar

STAGES: Final = {
    "village_intake": "村代办中",
    "township_review": "乡镇受理中",
    "city_review": "市中心办理中",
    "awaiting_supplement": "等待补正材料",
    "result_delivery": "待送达",
    "awaiting_rating": "待评价",
    "rectification": "整改中",
    "completed": "已办结",
    "refused": "不予受理",
    "withdrawn": "已撤回",
    "lapsed": "已失效",
}

ACTIONS: Final = {
    "handoff": "交件到乡镇",
    "accept": "受理",
    "accept_with_gap": "容缺受理",
    "request_supplement": "一次性告知补正",
    "supplement": "材料已补齐",
    "refuse": "不予受理",
    "forward": "转报市中心",
    "approve": "批准",
    "deny": "不予批准",
    "pause": "中止计时",
    "resume": "恢复计时",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "deliver": "已送达群众",
    "withdraw": "撤回申请",
    "rate": "评价",
    "rectify": "整改回访",
    "appeal_rating": "申诉评价",
    "review_appeal": "审核申诉",
    "submit": "登记",
}

# The agent's next step, in the words the agent would use.
NEXT_STEP: Final = {
    "village_intake": "把材料送到乡镇便民服务中心",
    "awaiting_supplement": "收齐补正材料后交回",
    "result_delivery": "把结果送到群众手中",
    "awaiting_rating": "请群众扫码评价",
}

LEVELS: Final = {
    "none": "正常",
    "reminder": "提示",
    "warning": "预警",
    "yellow": "黄牌",
    "red": "红牌",
    "statutory": "超法定时限",
}

CLOCKS: Final = {
    "handoff": "代办交件",
    "acceptance": "受理期限",
    "step": "乡镇预审转报",
    "official": "办件时限",
    "supplement": "补正期限",
    "gap": "容缺补交",
    "delivery": "送达期限",
    "rating": "评价期限",
    "rectification": "整改期限",
    "fix_rating": "整改评价",
}

ROLES: Final = {
    "agent": "代办员",
    "township_staff": "乡镇窗口",
    "city_staff": "市中心窗口",
    "supervisor": "电子监察",
    "admin": "系统管理员",
    "rating_link": "群众",
    "system": "系统",
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

FIELDS: Final = {
    "note": "说明",
    "missing_materials": "缺少的材料",
    "due": "补交日期",
    "reason": "中止原因",
    "days": "天数",
    "upheld": "申诉是否成立",
    "score": "评分",
    "comment": "意见",
    "item": "办理事项",
    "resident.name": "姓名",
    "resident.id_number": "身份证号码",
    "resident.phone": "手机号码",
    "materials": "已收材料",
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
}

# What the note is, for the actions whose note is required.
NOTE_LABELS: Final = {
    "refuse": "不予受理的理由",
    "deny": "不予批准的理由",
    "request_extension": "延期理由",
    "rectify": "回访和整改情况",
    "appeal_rating": "申诉理由",
}


def office_name(offices: OfficeTree, code: str | None) -> str:
    if not code:
        return ""
    office = offices.find(code)
    return office.name if office is not None else code


def field_message(field: str, message: str, action: str | None = None) -> str:
    """A field's error in words: the hint for that field, else '请填写…' for a missing one."""
    if field == "note" and action in NOTE_LABELS:
        return f"请填写{NOTE_LABELS[action]}"
    if field in FIELD_HINTS:
        return FIELD_HINTS[field]
    label = FIELDS.get(field, field)
    if "required" in message or "empty" in message or "missing" in message:
        return f"请填写{label}"
    return f"{label}填写有误"


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
