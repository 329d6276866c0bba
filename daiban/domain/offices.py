"""The offices of the demo city (docs/design.md §1), modelled on the seed city 莱西市 (code 370285).

One city center, 11 townships and street offices, 887 village/residential communities (26 urban,
861 rural). Generation is pure and deterministic: no randomness, only fixed tables and index
arithmetic, so every code and name is the same on every machine and in every release (tests pin a
hash of the codes). Codes: city ``370285000``; township ``370285001``…``370285011``; village =
township code + a 3-digit serial, urban communities first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from typing import Final, Literal

CITY_CODE: Final = "370285000"
CITY_NAME: Final = "莱西市行政服务中心"
_CITY_PREFIX: Final = CITY_CODE[:6]

OfficeTier = Literal["village", "township", "city"]


class UnknownOfficeError(KeyError):
    """The code names no office of the demo city."""


@dataclass(frozen=True, slots=True)
class Office:
    """One service office. ``urban`` marks a residential community (社区) and a street office
    (街道) that holds some; rural villages, towns (镇) and the city center are not urban."""

    code: str
    name: str
    tier: OfficeTier
    parent: str | None
    urban: bool


@dataclass(frozen=True, slots=True)
class _Township:
    name: str
    urban: tuple[str, ...]  # urban community names, serials 001… in this order
    rural: int  # number of rural villages after them


# The 3 street offices hold all 26 urban communities plus their rural villages; the 8 towns are
# rural. Counts are fixed data: 26 urban + 861 rural = 887.
_TOWNSHIPS: Final[tuple[_Township, ...]] = (
    _Township(
        "水集街道",
        (
            "文化路社区",
            "烟台路社区",
            "石岛路社区",
            "上海路社区",
            "黄海路社区",
            "北京路社区",
            "长岛路社区",
            "月湖社区",
            "重庆路社区",
            "威海路社区",
            "青岛路社区",
            "济南路社区",
        ),
        58,
    ),
    _Township(
        "望城街道",
        (
            "望城社区",
            "城北社区",
            "龙水社区",
            "长广路社区",
            "兴业社区",
            "人民路社区",
            "昌阳社区",
            "泰山路社区",
            "幸福社区",
        ),
        72,
    ),
    _Township("沽河街道", ("沽河社区", "滨河社区", "福州路社区", "杭州路社区", "辽河社区"), 88),
    _Township("姜山镇", (), 115),
    _Township("夏格庄镇", (), 70),
    _Township("院上镇", (), 92),
    _Township("日庄镇", (), 86),
    _Township("南墅镇", (), 68),
    _Township("河头店镇", (), 70),
    _Township("店埠镇", (), 88),
    _Township("马连庄镇", (), 54),
)

# Rural names follow the common patterns of the Jiaodong countryside (王家庄, 前李家, 张家疃 …):
# 67 surnames x 16 patterns = 1072 distinct names, of which 861 are drawn in a scattered but fixed
# order (a stride coprime with 1072), so that no two villages of the city share a name.
_SURNAMES: Final = (
    "王张李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋"
    "蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹"
)
_PATTERNS: Final = (
    "{}家庄",
    "{}家夼",
    "{}家疃",
    "{}家屯",
    "{}家沟",
    "{}家埠",
    "{}家岭",
    "{}家河",
    "前{}家",
    "后{}家",
    "东{}家",
    "西{}家",
    "南{}家",
    "北{}家",
    "大{}家",
    "小{}家",
)
_STRIDE: Final = 397  # prime and not a factor of 1072 = 16 x 67: visits every name once


def _rural_names(count: int) -> list[str]:
    pool = [pattern.format(surname) for surname in _SURNAMES for pattern in _PATTERNS]
    if count > len(pool) or gcd(_STRIDE, len(pool)) != 1:
        raise ValueError(f"cannot draw {count} distinct rural names from {len(pool)}")
    return [pool[(i * _STRIDE) % len(pool)] + "村" for i in range(count)]


def _generate() -> tuple[Office, ...]:
    rural_total = sum(township.rural for township in _TOWNSHIPS)
    rural_names = iter(_rural_names(rural_total))
    offices = [Office(CITY_CODE, CITY_NAME, "city", None, urban=False)]
    for t_serial, township in enumerate(_TOWNSHIPS, start=1):
        t_code = f"{_CITY_PREFIX}{t_serial:03d}"
        urban_township = bool(township.urban)
        offices.append(Office(t_code, township.name, "township", CITY_CODE, urban_township))
        names = [(name, True) for name in township.urban]
        names += [(next(rural_names), False) for _ in range(township.rural)]
        for v_serial, (name, urban) in enumerate(names, start=1):
            offices.append(Office(f"{t_code}{v_serial:03d}", name, "village", t_code, urban))
    return tuple(offices)


@lru_cache(maxsize=1)
def _offices() -> tuple[Office, ...]:
    return _generate()


@lru_cache(maxsize=1)
def _index() -> dict[str, Office]:
    return {office.code: office for office in _offices()}


def demo_offices() -> list[Office]:
    """Every office: the city, then each township followed by its villages, in code order."""
    return list(_offices())


def office_index() -> dict[str, Office]:
    """Offices by code (a fresh dict; the offices themselves are immutable)."""
    return dict(_index())


def get_office(code: str) -> Office:
    try:
        return _index()[code]
    except KeyError:
        raise UnknownOfficeError(code) from None


def township_of(code: str) -> str | None:
    """The township of an office: a village's parent, a township itself, None for the city."""
    office = get_office(code)
    if office.tier == "village":
        return office.parent
    if office.tier == "township":
        return office.code
    return None


def parent_chain(code: str) -> list[str]:
    """The office and its ancestors up to the city: ``[code, parent, …, CITY_CODE]``."""
    office: Office | None = get_office(code)
    chain: list[str] = []
    while office is not None:
        chain.append(office.code)
        office = None if office.parent is None else _index()[office.parent]
    return chain
