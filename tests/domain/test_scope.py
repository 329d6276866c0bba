"""Who a token names, in a tree of two cities, and the scope rules over a workflow's state (the
read model's rules, for when it cannot answer): nothing crosses from one city to the other."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from daiban.domain.offices import Office, OfficeTree, demo_offices
from daiban.domain.scope import Principal, principal_from_claims, state_in_scope, supervised_field

CITY, TOWN, CENTER, VILLAGE = "370285000", "370285004", "370285004S01", "370285004001"
SECOND_CITY, SECOND_TOWN, SECOND_VILLAGE = "370283000", "370283001", "370283001001"
TREE = OfficeTree(
    [
        *demo_offices(),
        Office(SECOND_CITY, "平度市行政服务中心", "city", None, False),
        Office(SECOND_TOWN, "东阁街道", "township", SECOND_CITY, False),
        Office(SECOND_VILLAGE, "北关村", "village", SECOND_TOWN, False),
    ]
)


def principal(role: str, office: str, **claims: Any) -> Principal:
    return principal_from_claims({"sub": "s", "role": role, "office": office, **claims}, TREE)


def test_a_principal_carries_its_office_tier_from_the_tree() -> None:
    assert principal("supervisor", SECOND_CITY).tier == "city"
    assert principal("supervisor", SECOND_TOWN).tier == "township"
    assert principal("agent", SECOND_VILLAGE).tier == "village"
    assert principal("admin", CENTER).tier == "community"
    assert supervised_field(principal("supervisor", SECOND_CITY)) == "city"
    assert supervised_field(principal("supervisor", TOWN)) == "township"


@pytest.mark.parametrize(
    ("role", "office", "message"),
    [
        ("agent", CENTER, "cannot work at a community office"),  # centers hand nothing off
        ("township_staff", CENTER, "cannot work at a community office"),
        ("supervisor", CENTER, "cannot work at a community office"),
        ("agent", "370283001002", "unknown office"),  # not in this tree
        ("city_staff", SECOND_TOWN, "cannot work at a township office"),
    ],
)
def test_claims_outside_the_tree_or_its_tiers_name_nobody(
    role: str, office: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        principal(role, office)


def state(village: str, township: str, city: str, forwarded: bool) -> Any:
    history = [SimpleNamespace(action="forward")] if forwarded else []
    return SimpleNamespace(id="r", village=village, township=township, city=city, history=history)


@pytest.mark.parametrize(
    ("role", "office", "first", "second"),
    [
        ("supervisor", CITY, True, False),
        ("supervisor", SECOND_CITY, False, True),
        ("supervisor", TOWN, True, False),
        ("supervisor", SECOND_TOWN, False, True),
        ("city_staff", CITY, True, False),
        ("city_staff", SECOND_CITY, False, True),
        ("township_staff", SECOND_TOWN, False, True),
        ("agent", SECOND_VILLAGE, False, True),
        ("admin", SECOND_VILLAGE, True, True),
    ],
)
def test_state_scope_stays_in_its_city(role: str, office: str, first: bool, second: bool) -> None:
    viewer = principal(role, office)
    assert state_in_scope(viewer, state(VILLAGE, TOWN, CITY, forwarded=True)) == first
    assert state_in_scope(viewer, state(SECOND_VILLAGE, SECOND_TOWN, SECOND_CITY, True)) == second
