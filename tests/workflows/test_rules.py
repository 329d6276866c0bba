"""The stage/action table and the pure clock functions, without a server."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from models import actions as rules
from models.contracts import (
    ActionCommand,
    Actor,
    CallbackInfo,
    Clock,
    Expiry,
    GapInfo,
    RatingInfo,
    RectificationInfo,
    RequestState,
    Resident,
)
from workflows import clocks

CST = timezone(timedelta(hours=8))
T = datetime(2030, 3, 4, 9, 0, tzinfo=CST)
AGENT = Actor("a", "agent", "370285004001")
TS = Actor("t", "township_staff", "370285004")
CS = Actor("c", "city_staff", "370285000")
SUP_TOWN = Actor("s", "supervisor", "370285004")
SUP_OTHER = Actor("s2", "supervisor", "370285005")


def state(**fields: object) -> RequestState:
    base = RequestState(
        id="r", item="dibao", item_name="低保", deciding_tier="city", village="370285004001",
        township="370285004", city="370285000", stage="township_review", status="open",
        responsible_office="370285004", resident=Resident("n", "i", "p"), agent="a",
        channel="proxy_room", created_at=T, updated_at=T,
    )  # fmt: skip
    for key, value in fields.items():
        setattr(base, key, value)
    return base


def test_every_action_names_stages_roles_and_an_office_rule() -> None:
    for name, rule in rules.ACTIONS.items():
        assert rule.stages and rule.roles and rule.summary, name
        assert rule.office in {
            "village",
            "stage",
            "handling",
            "scope",
            "head",
            "addressed",
            "issuer",
            "rated",
            "above",
        }, name


@pytest.mark.parametrize(
    ("fields", "actor", "allowed"),
    [
        ({}, TS, ["accept", "accept_with_gap", "request_supplement", "refuse"]),
        ({}, CS, []),  # the city has nothing to do before the forward
        ({}, AGENT, ["withdraw"]),
        ({"accepted_at": T}, TS, ["request_supplement", "forward", "pause"]),
        ({"accepted_at": T, "deciding_tier": "township"}, TS,
         ["request_supplement", "approve", "deny", "pause"]),
        ({"accepted_at": T, "paused": object()}, TS, ["resume"]),
        ({"stage": "city_review", "responsible_office": "370285000", "accepted_at": T}, CS,
         ["request_supplement", "approve", "deny", "pause"]),
        ({"stage": "city_review", "responsible_office": "370285000"}, TS, []),
        ({"stage": "result_delivery", "responsible_office": "370285004001"}, AGENT, ["deliver"]),
    ],
)  # fmt: skip
def test_allowed_actions(fields: dict[str, object], actor: Actor, allowed: list[str]) -> None:
    assert rules.allowed_actions(state(**fields), actor) == allowed


def test_supervisor_scope_for_extensions() -> None:
    s = state(accepted_at=T, deciding_tier="township")
    official = Clock(
        "official", "370285004", T, T + timedelta(days=10), statutory=T + timedelta(days=20)
    )
    s.clocks = [official]
    rules.check(s, ActionCommand("request_extension", TS, note="入户调查", days=3))
    from models.contracts import ExtensionInfo

    s.extension = ExtensionInfo(days=3, reason="x", requested_by="t", requested_at=T)
    assert rules.allowed_actions(s, SUP_TOWN) == ["approve_extension"]
    assert rules.allowed_actions(s, SUP_OTHER) == []
    # The head of the township center approves; the city's supervisor does not (docs/design.md §2),
    # except in workflows started before the rule (they replay with the old one).
    sup_city = Actor("sup-c", "supervisor", "370285000")
    assert rules.allowed_actions(s, sup_city) == []
    cmd = ActionCommand("approve_extension", sup_city)
    with pytest.raises(rules.ActionRejected):
        rules.check(s, cmd)
    rules.check(s, cmd, head_is_scope=True)


@pytest.mark.parametrize(
    ("cmd", "field"),
    [
        (ActionCommand("refuse", TS), "note"),
        (ActionCommand("request_supplement", TS, missing_materials=[]), "missing_materials"),
        (ActionCommand("accept_with_gap", TS, missing_materials=["x"]), "due"),
        (ActionCommand("accept_with_gap", TS, missing_materials=["x"], due="3 March"), "due"),
        (ActionCommand("unknown", TS), "action"),
    ],
)
def test_field_errors(cmd: ActionCommand, field: str) -> None:
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(state(), cmd, today=T.date())
    assert info.value.kind == "invalid" and info.value.errors[0]["field"] == field


def test_a_role_that_may_never_act_is_forbidden() -> None:
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(state(), ActionCommand("approve", AGENT))
    assert info.value.kind == "forbidden"


def test_recipients_climb_one_tier_for_red() -> None:
    s = state()
    assert clocks.recipients(s, s.village, "red") == [
        (s.village, "staff"),
        (s.township, "supervisor"),
    ]
    assert clocks.recipients(s, s.township, "red") == [
        (s.township, "staff"),
        (s.city, "supervisor"),
    ]
    assert clocks.recipients(s, s.township, "statutory")[-1] == (s.city, "supervision")


def test_overdue_level_ignores_an_expiring_windows_own_deadline() -> None:
    s = state()
    window = Clock("supplement", s.village, T, T, expiry=Expiry.LAPSE, fired=["red"])
    official = Clock("official", s.township, T, T, fired=["reminder", "yellow"])
    s.clocks = [window, official]
    assert clocks.overdue_level(s) == "yellow"
    s.paused = object()  # type: ignore[assignment]
    assert clocks.next_rung(s) is None


def gap_state(**fields: object) -> RequestState:
    """A township item accepted with a gap, under the gap rules."""
    gap = GapInfo(["收入证明"], "2030-03-08", "承诺书", "370285004", T)
    return state(deciding_tier="township", accepted_at=T, gap_rules=True, gap=gap, **fields)


def test_an_open_gap_holds_the_approval_but_not_the_denial() -> None:
    s = gap_state()
    assert rules.allowed_actions(s, TS) == ["request_supplement", "deny", "pause"]
    assert rules.allowed_actions(s, AGENT) == ["supply_gap", "withdraw"]
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(s, ActionCommand("approve", TS))
    assert info.value.kind == "not_allowed"
    assert "the gap materials have not been supplied" in info.value.message
    assert s.gap is not None
    s.gap.status = "supplied"
    assert "approve" in rules.allowed_actions(s, TS)
    assert "supply_gap" not in rules.allowed_actions(s, AGENT)


def test_the_gap_list_and_the_commitment_under_the_gap_rules() -> None:
    s = state(gap_rules=True, gap_materials=["家庭收入证明"])
    cmd = ActionCommand(
        "accept_with_gap", TS, missing_materials=["户口簿"], due="2030-03-08", commitment="承诺书"
    )
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(s, cmd, today=T.date())
    assert info.value.errors[0]["field"] == "missing_materials"
    assert "户口簿" in info.value.errors[0]["message"]
    ok = replace(cmd, missing_materials=["家庭收入证明"])
    rules.check(s, ok)
    for bad, field in (
        (replace(ok, commitment=None), "commitment"),
        (replace(ok, commitment_by="neighbour"), "commitment_by"),
        (replace(ok, commitment_by="agent"), "authorisation"),
    ):
        with pytest.raises(rules.ActionRejected) as info:
            rules.check(s, bad)
        assert info.value.errors[0]["field"] == field
    rules.check(s, replace(ok, commitment_by="agent", authorisation="授权委托书"))
    empty = state(gap_rules=True, gap_materials=[])
    assert "accept_with_gap" not in rules.allowed_actions(empty, TS)
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(empty, ok)
    assert "gap list is empty" in info.value.message


def test_before_the_gap_rules_any_material_may_be_missing_without_a_commitment() -> None:
    cmd = ActionCommand("accept_with_gap", TS, missing_materials=["x"], due="2030-03-08")
    rules.check(state(), cmd, today=T.date())


def rectifying(office: str = "370285004", **fields: object) -> RequestState:
    """A request in rectification for ``office``, rated under the callback rules."""
    rect = RectificationInfo(office=office, opened_at=T, appeal_reviewer=clocks.tier_above(
        state(), office))  # fmt: skip
    for key, value in fields.items():
        setattr(rect, key, value)
    return state(
        stage="rectification", responsible_office=office, handling_office=office,
        rating=RatingInfo(score=1, at=T), rectification=rect,
    )  # fmt: skip


def test_a_bad_rating_is_answered_by_the_rated_office_and_appealed_to_the_tier_above() -> None:
    township = rectifying()
    assert rules.allowed_actions(township, TS) == ["callback"]  # no appeal window clock here
    assert rules.allowed_actions(township, CS) == []
    village = rectifying("370285004001")
    assert rules.allowed_actions(village, AGENT) == ["callback"]  # the proxy room's agent
    assert rules.allowed_actions(village, TS) == []
    pending = rectifying("370285004001")
    assert pending.rating is not None
    pending.rating.appeal = "pending"
    assert "review_appeal" in rules.allowed_actions(pending, SUP_TOWN)  # the tier above
    city = rectifying("370285000")
    assert city.rating is not None
    city.rating.appeal = "pending"
    assert "review_appeal" not in rules.allowed_actions(city, SUP_TOWN)
    assert "review_appeal" in rules.allowed_actions(city, Actor("c", "supervisor", "370285000"))


def test_a_rectification_before_the_callback_says_why() -> None:
    cmd = ActionCommand("rectify", TS, note="n", outcome="fixed")
    with pytest.raises(rules.ActionRejected) as info:
        rules.check(rectifying(), cmd)
    assert info.value.kind == "not_allowed"
    assert info.value.message.endswith("call the resident back first (callback)")
    called = rectifying(callbacks=[CallbackInfo(at=T, by="t", reached=False)])
    rules.check(called, cmd)  # an attempt is a callback on record


def test_a_request_rated_before_callbacks_keeps_its_single_rectify() -> None:
    earlier = state(
        stage="rectification", handling_office="370285004", rating=RatingInfo(score=1, at=T)
    )
    assert rules.allowed_actions(earlier, TS) == ["rectify", "appeal_rating"]
    rules.check(earlier, ActionCommand("rectify", TS, note="已回访"))  # no outcome asked
    with pytest.raises(rules.ActionRejected):
        rules.check(rectifying(callbacks=[CallbackInfo(T, "t", True)]), ActionCommand(
            "rectify", TS, note="n"))  # fmt: skip
