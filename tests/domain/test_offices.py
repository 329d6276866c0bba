"""The office tree: its shape rules, the walks up it, and the seed city's offices (exact counts,
stable codes and names, 119 community service centers between townships and villages)."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from daiban.domain.offices import (
    InvalidOfficeTree,
    Office,
    OfficeTier,
    OfficeTree,
    UnknownOfficeError,
    demo_city,
    demo_offices,
    demo_tree,
    make_office,
)

# Pinned once from the generator. A change here means every stored code or name of the demo data
# moves: change the pin only on purpose, together with a data migration. The first two are the
# pins from before the community service centers: the city, townships and villages kept their
# codes and names, and a village's township is still the same (now found up past its center).
CODES_SHA256 = "a1602b40b9a041ba18ab76d035c363b16ab52f0344e0886faf5483f81db0a65b"
RECORDS_SHA256 = "f070485cd000c63a24d1eb982b4f0c212f4c81cfe912e6b41a59b72d95c3fe24"
ALL_RECORDS_SHA256 = "263d0643d689345db50a18ad9daaa68085c20bc4074f07930cd4366975332847"
CITY = "370285000"

# code: name, villages, urban villages, urban centers, rural centers
TOWNSHIPS = {
    "370285001": ("水集街道", 70, 12, 2, 8),
    "370285002": ("望城街道", 81, 9, 1, 10),
    "370285003": ("沽河街道", 93, 5, 1, 12),
    "370285004": ("姜山镇", 115, 0, 0, 15),
    "370285005": ("夏格庄镇", 70, 0, 0, 9),
    "370285006": ("院上镇", 92, 0, 0, 12),
    "370285007": ("日庄镇", 86, 0, 0, 12),
    "370285008": ("南墅镇", 68, 0, 0, 9),
    "370285009": ("河头店镇", 70, 0, 0, 9),
    "370285010": ("店埠镇", 88, 0, 0, 12),
    "370285011": ("马连庄镇", 54, 0, 0, 7),
}


def of_tier(tier: str) -> list[Office]:
    return [office for office in demo_offices() if office.tier == tier]


def office(code: str, tier: OfficeTier, parent: str | None) -> Office:
    return Office(code, f"name {code}", tier, parent, urban=False)


# --- the tree's rules --------------------------------------------------------------------------


def two_cities() -> list[Office]:
    """Two small cities: one with a community service center level, one without."""
    return [
        office("A", "city", None),
        office("A1", "township", "A"),
        office("A1-C", "community", "A1"),
        office("A1-C-v", "village", "A1-C"),
        office("B", "city", None),
        office("B1", "township", "B"),
        office("B1-v", "village", "B1"),
    ]


def test_walks_up_the_tree_past_the_community_level() -> None:
    tree = OfficeTree(two_cities())
    assert tree.township_of("A1-C-v") == "A1"  # the township the proxy room hands off to
    assert tree.community_of("A1-C-v") == "A1-C"
    assert tree.city_of("A1-C-v") == "A"
    assert tree.parent_chain("A1-C-v") == ["A1-C-v", "A1-C", "A1", "A"]
    assert tree.township_of("B1-v") == "B1"
    assert tree.community_of("B1-v") is None  # a city without centers: villages under townships
    assert tree.city_of("B1-v") == "B"
    assert tree.township_of("A1-C") == "A1"
    assert tree.township_of("A") is None and tree.city_of("A") == "A"
    assert [city.code for city in tree.cities()] == ["A", "B"]
    assert tree.villages_under("A") == ["A1-C-v"]
    assert tree.villages_under("B") == ["B1-v"]
    assert [child.code for child in tree.children("A1")] == ["A1-C"]
    with pytest.raises(UnknownOfficeError):
        tree.township_of("C1")


@pytest.mark.parametrize(
    ("offices", "message"),
    [
        ([office("A", "city", None), office("A", "city", None)], "listed twice"),
        ([office("A", "city", None), office("T", "township", "X")], "parent 'X' is not"),
        ([office("A", "city", None), office("V", "village", "A")], "village cannot hang under"),
        (
            [
                office("A", "city", None),
                office("T", "township", "A"),
                office("T2", "township", "T"),
            ],
            "township cannot hang under a township",
        ),
        ([office("A", "city", None), office("C", "community", "A")], "community cannot hang"),
        ([office("A", "city", "B"), office("B", "city", None)], "a city and only a city"),
        ([office("T", "township", None)], "a city and only a city"),
        ([office(" A", "city", None)], "no surrounding spaces"),
        ([office("A\x00", "city", None)], "printable"),
        ([office("A" * 33, "city", None)], "1 to 32"),
        ([Office("A", " ", "city", None, False)], "name must be printable and not empty"),
    ],
)
def test_a_tree_of_the_wrong_shape_is_refused(offices: list[Office], message: str) -> None:
    with pytest.raises(InvalidOfficeTree, match=message):
        OfficeTree(offices)


def test_make_office_checks_the_tier() -> None:
    assert make_office("A", "n", "community", "T", True).tier == "community"
    with pytest.raises(InvalidOfficeTree, match="tier must be one of"):
        make_office("A", "n", "province", None, False)


# --- the seed city -----------------------------------------------------------------------------


def test_counts() -> None:
    assert Counter(office.tier for office in demo_offices()) == {
        "city": 1,
        "township": 11,
        "community": 119,
        "village": 887,
    }
    villages = of_tier("village")
    assert sum(village.urban for village in villages) == 26
    assert sum(not village.urban for village in villages) == 861
    centers = of_tier("community")
    assert sum(center.urban for center in centers) == 4  # "1+X": 4 urban centers for 26
    assert sum(not center.urban for center in centers) == 115  # and 115 rural ones for 861


def test_codes_and_names_are_unique() -> None:
    codes = [office.code for office in demo_offices()]
    assert len(set(codes)) == len(codes)
    for tier in ("village", "community"):
        names = [office.name for office in of_tier(tier)]
        assert len(set(names)) == len(names)


def test_code_shapes() -> None:
    assert demo_city().code == CITY
    for office in demo_offices():
        assert office.code.startswith("370285")
        if office.tier == "community":
            assert office.code[:9] == office.parent and office.code[9] == "S"
            assert office.code[10:].isdigit() and len(office.code) == 12
        else:
            assert office.code.isdigit()
            assert len(office.code) == {"city": 9, "township": 9, "village": 12}[office.tier]


def test_generation_is_pinned() -> None:
    tree = demo_tree()
    offices = sorted(demo_offices(), key=lambda office: office.code)
    before = [office for office in offices if office.tier != "community"]

    def township_parent(o: Office) -> str | None:
        return tree.township_of(o.code) if o.tier == "village" else o.parent

    codes = "\n".join(office.code for office in before)
    records = "\n".join(
        f"{o.code}\t{o.name}\t{o.tier}\t{township_parent(o)}\t{o.urban}" for o in before
    )
    assert hashlib.sha256(codes.encode()).hexdigest() == CODES_SHA256
    assert hashlib.sha256(records.encode()).hexdigest() == RECORDS_SHA256
    everything = "\n".join(f"{o.code}\t{o.name}\t{o.tier}\t{o.parent}\t{o.urban}" for o in offices)
    assert hashlib.sha256(everything.encode()).hexdigest() == ALL_RECORDS_SHA256


@pytest.mark.parametrize(
    ("code", "name", "tier", "parent", "urban"),
    [
        ("370285000", "莱西市行政服务中心", "city", None, False),
        ("370285001", "水集街道", "township", "370285000", True),
        ("370285004", "姜山镇", "township", "370285000", False),
        ("370285011", "马连庄镇", "township", "370285000", False),
        ("370285001S01", "文化路社区服务中心", "community", "370285001", True),
        ("370285001S03", "王家庄社区服务中心", "community", "370285001", False),
        ("370285004S01", "阎家疃社区服务中心", "community", "370285004", False),
        ("370285001001", "文化路社区", "village", "370285001S01", True),
        ("370285001013", "王家庄村", "village", "370285001S03", False),
        ("370285002009", "幸福社区", "village", "370285002S01", True),
        ("370285003005", "辽河社区", "village", "370285003S01", True),
        ("370285003006", "东吴家村", "village", "370285003S02", False),
        ("370285004001", "阎家疃村", "village", "370285004S01", False),
        ("370285011054", "南袁家村", "village", "370285011S07", False),
    ],
)
def test_specific_offices(
    code: str, name: str, tier: OfficeTier, parent: str | None, urban: bool
) -> None:
    assert demo_tree().get(code) == Office(code, name, tier, parent, urban)


def test_per_township_villages_and_centers() -> None:
    tree = demo_tree()
    assert {code: tree.get(code).name for code in TOWNSHIPS} == {
        code: row[0] for code, row in TOWNSHIPS.items()
    }
    for code, (_, total, urban, urban_centers, rural_centers) in TOWNSHIPS.items():
        villages = tree.villages_under(code)
        assert villages == [f"{code}{n:03d}" for n in range(1, total + 1)]
        assert [tree.get(v).urban for v in villages] == [True] * urban + [False] * (total - urban)
        centers = tree.children(code)
        assert {center.tier for center in centers} == {"community"}
        assert [center.urban for center in centers] == [True] * urban_centers + [False] * (
            rural_centers
        )
        for center in centers:
            members = tree.children(center.code)
            # A center groups villages of its own kind, and is named after the first, its seat.
            assert {member.urban for member in members} == {center.urban}
            assert center.name.startswith(members[0].name.removesuffix("村").removesuffix("社区"))
            if not center.urban:
                assert 5 <= len(members) <= 9


def test_hierarchy() -> None:
    tree = demo_tree()
    for village in of_tier("village"):
        assert village.parent is not None
        assert tree.get(village.parent).tier == "community"
        assert tree.parent_chain(village.code)[1:] == [
            village.parent,
            village.code[:9],
            CITY,
        ]
    assert tree.get(CITY).parent is None
    assert tree.township_of(CITY) is None


def test_results_are_stable_and_private_copies() -> None:
    first = demo_offices()
    first.clear()
    assert len(demo_offices()) == 1018
    assert len(demo_tree()) == 1018
    assert demo_offices() == demo_offices()
