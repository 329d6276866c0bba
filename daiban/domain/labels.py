"""The names people read for the codes the API speaks: stages, actions, rungs, clocks, roles.

The API and ``--json`` keep the codes (they are the contract); the command line and the
notification texts show these names. Names follow the county's own words for the steps of the
proxy service (代办, 受理, 转报, 送达, 好差评, 整改) and for the electronic supervision's cards.
"""

from __future__ import annotations

STAGES = {
    "village_intake": "村代办中",
    "township_review": "乡镇受理中",
    "city_review": "市中心办理中",
    "awaiting_supplement": "待补正",
    "result_delivery": "待送达",
    "awaiting_rating": "待评价",
    "rectification": "整改中",
    "completed": "已办结",
    "refused": "不予受理",
    "withdrawn": "已撤回",
    "lapsed": "已终止",
}

ACTIONS = {
    "submit": "登记",
    "handoff": "送交乡镇",
    "accept": "受理",
    "accept_with_gap": "容缺受理",
    "supply_gap": "材料已补齐",
    "request_supplement": "一次性告知补正",
    "supplement": "补齐材料",
    "refuse": "不予受理",
    "forward": "转报市中心",
    "approve": "批准",
    "deny": "不予批准",
    "pause": "中止计时",
    "resume": "恢复计时",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "deliver": "送达",
    "withdraw": "撤回",
    "rate": "评价",
    "callback": "回访",
    "rectify": "整改",
    "appeal_rating": "差评申诉",
    "review_appeal": "复核申诉",
    "issue_order": "下发督办单",
    "reply_order": "答复督办单",
    "review_order": "审核督办答复",
    "close_order": "督办单随件办结",
    "deemed_accept": "视为受理",
    "lapse": "逾期未补正",
    "default_rating": "默认评价",
}

# The rungs of the ladder (none = on time).
LEVELS = {
    "none": "正常",
    "reminder": "提示",
    "warning": "预警",
    "yellow": "黄牌",
    "red": "红牌",
    "statutory": "法定逾期",
}

# Each clock as the limit it measures.
CLOCKS = {
    "handoff": "代办送交时限",
    "acceptance": "受理期限",
    "step": "转报环节时限",
    "official": "办件时限",
    "supplement": "补正期限",
    "gap": "容缺补齐期限",
    "delivery": "送达时限",
    "rating": "评价期限",
    "rectification": "整改时限",
    "fix_rating": "整改评价期限",
    "callback": "差评回访期限",
    "rectify_due": "限期整改期限",
    "appeal": "差评申诉期限",
    "order": "督办答复期限",  # a supervision order's response deadline (its red card)
}

ROLES = {
    "agent": "代办员",
    "township_staff": "乡镇窗口",
    "city_staff": "市中心窗口",
    "supervisor": "电子监察",
    "admin": "系统管理员",
    "rating_link": "群众",
    "system": "系统",
}

DECISIONS = {"approved": "批准", "denied": "不予批准"}

# How a bad rating was settled (整改方式).
OUTCOMES = {"fixed": "立行立改", "explained": "解释说明", "scheduled": "限期整改"}

# Where a rating's appeal stands (申诉).
APPEALS = {"pending": "申诉待复核", "upheld": "申诉成立", "rejected": "申诉不成立"}

PAUSE_REASONS = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "inspection": "检验检测",
    "appraisal": "鉴定",
    "public_notice": "公示",
}

STATUSES = {"open": "办理中", "closed": "已结束"}

TIERS = {"village": "村", "township": "镇", "city": "市"}

# Ledger event kinds (the supervision ledger's ``kind``).
EVENT_KINDS = {
    "stage": "环节",
    "action": "操作",
    "escalation": "督办",
    "rating": "评价",
    "rectification": "整改",
}


def name(table: dict[str, str], code: object) -> str:
    """The name of ``code`` in ``table``; an unknown code (a newer server) is shown as is."""
    text = "" if code is None else str(code)
    return table.get(text, text)
