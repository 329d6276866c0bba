"""The demo city's offices: exact counts, stable codes and names, a well-formed hierarchy."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from daiban.domain.offices import (
    CITY_CODE,
    Office,
    OfficeTier,
    UnknownOfficeError,
    demo_offices,
    office_index,
    parent_chain,
    township_of,
)

# Pinned once from the generator. A change here means every stored code or name of the demo data
# moves: change the pin only on purpose, together with a data migration.
CODES_SHA256 = "a1602b40b9a041ba18ab76d035c363b16ab52f0344e0886faf5483f81db0a65b"
RECORDS_SHA256 = "f070485cd000c63a24d1eb982b4f0c212f4c81cfe912e6b41a59b72d95c3fe24"

TOWNSHIPS = {
    "370285001": ("水集街道", 70, 12),
    "370285002": ("望城街道", 81, 9),
    "370285003": ("沽河街道", 93, 5),
    "370285004": ("姜山镇", 115, 0),
    "370285005": ("夏格庄镇", 70, 0),
    "370285006": ("院上镇", 92, 0),
    "370285007": ("日庄镇", 86, 0),
    "370285008": ("南墅镇", 68, 0),
    "370285009": ("河头店镇", 70, 0),
    "370285010": ("店埠镇", 88, 0),
    "370285011": ("马连庄镇", 54, 0),
}


def of_tier(tier: str) -> list[Office]:
    return [office for office in demo_offices() if office.tier == tier]


def test_counts() -> None:
    assert Counter(office.tier for office in demo_offices()) == {
        "city": 1,
        "township": 11,
        "village": 887,
    }
    villages = of_tier("village")
    assert sum(village.urban for village in villages) == 26
    assert sum(not village.urban for village in villages) == 861


def test_codes_and_village_names_are_unique() -> None:
    codes = [office.code for office in demo_offices()]
    assert len(set(codes)) == len(codes)
    names = [village.name for village in of_tier("village")]
    assert len(set(names)) == len(names)


def test_code_shapes() -> None:
    assert CITY_CODE == "370285000"
    for office in demo_offices():
        assert office.code.isdigit()
        assert office.code.startswith("370285")
        assert len(office.code) == {"city": 9, "township": 9, "village": 12}[office.tier]


def test_generation_is_pinned() -> None:
    offices = sorted(demo_offices(), key=lambda office: office.code)
    codes = "\n".join(office.code for office in offices)
    records = "\n".join(f"{o.code}\t{o.name}\t{o.tier}\t{o.parent}\t{o.urban}" for o in offices)
    assert hashlib.sha256(codes.encode()).hexdigest() == CODES_SHA256
    assert hashlib.sha256(records.encode()).hexdigest() == RECORDS_SHA256


@pytest.mark.parametrize(
    ("code", "name", "tier", "parent", "urban"),
    [
        ("370285000", "莱西市行政服务中心", "city", None, False),
        ("370285001", "水集街道", "township", "370285000", True),
        ("370285004", "姜山镇", "township", "370285000", False),
        ("370285011", "马连庄镇", "township", "370285000", False),
        ("370285001001", "文化路社区", "village", "370285001", True),
        ("370285001013", "王家庄村", "village", "370285001", False),
        ("370285002009", "幸福社区", "village", "370285002", True),
        ("370285003005", "辽河社区", "village", "370285003", True),
        ("370285003006", "东吴家村", "village", "370285003", False),
        ("370285004001", "阎家疃村", "village", "370285004", False),
        ("370285011054", "南袁家村", "village", "370285011", False),
    ],
)
def test_specific_offices(
    code: str, name: str, tier: OfficeTier, parent: str | None, urban: bool
) -> None:
    assert office_index()[code] == Office(code, name, tier, parent, urban)


def test_per_township_counts_and_urban_first() -> None:
    villages = of_tier("village")
    index = office_index()
    assert {code: index[code].name for code in TOWNSHIPS} == {
        code: name for code, (name, _, _) in TOWNSHIPS.items()
    }
    for code, (_, total, urban) in TOWNSHIPS.items():
        mine = [village for village in villages if village.parent == code]
        assert len(mine) == total
        assert [village.urban for village in mine] == [True] * urban + [False] * (total - urban)
        assert [village.code for village in mine] == [f"{code}{n:03d}" for n in range(1, total + 1)]


def test_hierarchy() -> None:
    index = office_index()
    for village in of_tier("village"):
        assert village.parent is not None
        township = index[village.parent]
        assert township.tier == "township"
        assert township.parent == CITY_CODE
    assert index[CITY_CODE].parent is None


def test_township_of() -> None:
    assert township_of("370285004017") == "370285004"
    assert township_of("370285004") == "370285004"
    assert township_of(CITY_CODE) is None
    with pytest.raises(UnknownOfficeError):
        township_of("370285099001")


def test_parent_chain() -> None:
    assert parent_chain("370285002003") == ["370285002003", "370285002", CITY_CODE]
    assert parent_chain("370285002") == ["370285002", CITY_CODE]
    assert parent_chain(CITY_CODE) == [CITY_CODE]
    with pytest.raises(UnknownOfficeError):
        parent_chain("nope")


def test_results_are_stable_and_private_copies() -> None:
    first = demo_offices()
    first.clear()
    index = office_index()
    index.clear()
    assert len(demo_offices()) == 899
    assert len(office_index()) == 899
    assert demo_offices() == demo_offices()
