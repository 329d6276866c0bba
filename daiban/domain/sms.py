"""Notification texts as a county sends them by SMS: templates as data, rendered here.

The workflow records each notification with a plain text of its own (its history must never
change, so that text stays as it is); what leaves for the gateway is rendered from the county's
templates in ``data/sms.json`` — 提示/黄牌/红牌, the clock in words, the office and item names, the
deadline as 12月1日17:00 — when the transition is recorded. A county edits the file, or points
``DAIBAN_SMS_TEMPLATES`` at its own; nothing here needs a code change for new wording.

One SMS segment holds 70 Chinese characters. A text longer than ``max_length`` drops the
signature first, then shortens the item's name, so it always fits one segment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from functools import cache
from pathlib import Path

from daiban.domain import labels
from daiban.domain.offices import demo_tree
from models.contracts import Notification, TransitionRecord

DEFAULT_FILE = Path(__file__).parent / "data" / "sms.json"
TEMPLATES_VARIABLE = "DAIBAN_SMS_TEMPLATES"
# A refusal's reason is a staff note, which may name the resident: the text says where to read it
# (the request's page) and never quotes it. A county file without its own wording gets this one.
REFUSAL = "{signature}不予受理：{office}对“{item}”不予受理，理由请在代办系统查看并告知申请人。"
REFUSAL_PREFIX = "申请不予受理："
# A decision to deliver: the workflow's text names it by code (approved/denied).
RESULT = "{signature}待送达：“{item}”已办结（{decision}），请及时将结果送达申请人。"
RESULT_PREFIX = "办理结果（"
DECISIONS = {"approved": "准予", "denied": "不予批准"}
# Texts to the resident's own phone (docs/design.md §4): the rating link sent at delivery, and the
# code that confirms a rating given on the agent's device. The link's address is short (a base
# URL, ``/pj/`` and ten characters), so the item's name is what gives way.
RATING_LINK = "{signature}“{item}”已办结，请您本人评价：{link}"
RATING_CODE = "{signature}“{item}”评价确认码{code}，{minutes}分钟内有效。"


@dataclass(frozen=True)
class Templates:
    signature: str
    max_length: int
    rungs: dict[str, str]
    arrival: str
    clocks: dict[str, str]
    refusal: str = REFUSAL
    result: str = RESULT
    rating_link: str = RATING_LINK
    rating_code: str = RATING_CODE

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Templates:
        rungs, clocks = data["rungs"], data.get("clocks", {})
        if not isinstance(rungs, dict) or not isinstance(clocks, dict):
            raise ValueError("rungs and clocks must be objects")
        return cls(
            signature=str(data.get("signature", "")),
            max_length=int(str(data.get("max_length", 70))),
            rungs={str(k): str(v) for k, v in rungs.items()},
            arrival=str(data["arrival"]),
            clocks={str(k): str(v) for k, v in clocks.items()},
            refusal=str(data.get("refusal", REFUSAL)),
            result=str(data.get("result", RESULT)),
            rating_link=str(data.get("rating_link", RATING_LINK)),
            rating_code=str(data.get("rating_code", RATING_CODE)),
        )


@cache
def templates(path: str | None = None) -> Templates:
    """The county's templates: ``path``, else ``DAIBAN_SMS_TEMPLATES``, else the shipped file."""
    chosen = Path(path or os.environ.get(TEMPLATES_VARIABLE) or DEFAULT_FILE)
    data = json.loads(chosen.read_text(encoding="utf-8"))
    return Templates.from_json(data)


def when(moment: datetime, tz: tzinfo) -> str:
    """``12月1日17:00``, as an SMS says it (the offices' time)."""
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def office_name(code: str) -> str:
    office = demo_tree().find(code)
    return office.name if office is not None else code


def fit(template: str, t: Templates, **fields: str) -> str:
    """The template filled in within ``t.max_length`` characters: without the signature if need
    be, then with the item's name shortened (``…``)."""
    text = template.format(signature=t.signature, **fields)
    if len(text) <= t.max_length:
        return text
    text = template.format(signature="", **fields)
    item = fields.get("item", "")
    while len(text) > t.max_length and len(item) > 2:
        item = item[:-2] + "…"
        text = template.format(signature="", **(fields | {"item": item}))
    return text


def rating_link_text(item: str, link: str, t: Templates | None = None) -> str:
    """The rating invitation sent to the resident's phone at delivery."""
    t = t or templates()
    return fit(t.rating_link, t, item=item, link=link)


def rating_code_text(item: str, code: str, minutes: int, t: Templates | None = None) -> str:
    """The one-time code that confirms a rating on the agent's device."""
    t = t or templates()
    return fit(t.rating_code, t, item=item, code=code, minutes=str(minutes))


def rung_text(
    level: str, clock: str, item: str, office: str, deadline: datetime, tz: tzinfo, t: Templates
) -> str:
    """The text of one rung of the ladder (docs/design.md §3)."""
    return fit(
        t.rungs[level],
        t,
        item=item,
        office=office_name(office),
        clock=t.clocks.get(clock, labels.name(labels.CLOCKS, clock)),
        deadline=when(deadline, tz),
    )


def county_texts(
    record: TransitionRecord, tz: tzinfo, t: Templates | None = None
) -> list[Notification]:
    """The transition's notifications with the texts the county sends: each rung's from its
    ledger event, an arrival at an office (``<item> 待办：<stage>``) from the arrival template;
    a refusal from the refusal template, without its note; any other text is already in words
    and stays."""
    t = t or templates()
    state = record.state
    rungs = [e for e in record.events if e.kind == "escalation" and e.level in t.rungs]
    arrival_prefix = f"{state.item_name} 待办："
    out = []
    for n in record.notifications:
        text = n.message
        event = next((e for e in rungs if e.level == n.level), None)
        if event is not None and event.clock and event.deadline:
            text = rung_text(
                event.level or "", event.clock, state.item_name, event.office, event.deadline, tz, t
            )
        elif n.message.startswith(REFUSAL_PREFIX):
            refusal = next((e for e in record.events if e.action == "refuse"), None)
            office = refusal.office if refusal is not None else state.township
            text = fit(t.refusal, t, item=state.item_name, office=office_name(office))
        elif n.message.startswith(RESULT_PREFIX):
            decision = DECISIONS.get(state.decision or "", state.decision or "")
            text = fit(t.result, t, item=state.item_name, decision=decision)
        elif n.message.startswith(arrival_prefix):
            stage = n.message.removeprefix(arrival_prefix)
            text = fit(
                t.arrival,
                t,
                item=state.item_name,
                office=office_name(n.recipient_office),
                stage=labels.name(labels.STAGES, stage),
            )
        out.append(replace(n, message=text))
    return out
