"""The seed city 莱西市 (code 370285) as demo data (docs/design.md §1): one city center, 11
townships and street offices, 119 community service centers and 887 village/residential
communities (26 urban, 861 rural).

Generation is pure and deterministic: no randomness, only fixed tables and index arithmetic, so
every code and name is the same on every machine and in every release (tests pin a hash of the
codes). Codes: city ``370285000``; township ``370285001``…``370285011``; village = township code +
a 3-digit serial, urban communities first; community service center = township code + ``S`` + a
2-digit serial, urban centers first (``S`` keeps them apart from the statistical codes of
villages, which they are not). A center groups a run of consecutive villages and is named after
the first of them, its seat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from math import gcd
from typing import Final

from daiban.domain.offices import Office

SEED_CITY: Final = "370285000"
SEED_CITY_NAME: Final = "莱西市行政服务中心"
_CITY_PREFIX: Final = SEED_CITY[:6]
CENTER_SUFFIX: Final = "社区服务中心"


@dataclass(frozen=True, slots=True)
class _Township:
    name: str
    urban: tuple[str, ...]  # urban community names, serials 001… in this order
    rural: int  # number of rural villages after them
    urban_centers: tuple[int, ...]  # how many urban communities each urban center groups, in order
    rural_centers: int  # rural community service centers, sharing the rural villages out in order


# The 3 street offices hold all 26 urban communities plus their rural villages; the 8 towns are
# rural. Counts are fixed data: 26 urban + 861 rural = 887 villages; 4 urban + 115 rural = 119
# community service centers ("1+X"). The seed gives only the totals: the rural centers are shared
# out in proportion to each township's rural villages (largest remainders), the urban ones so that
# no center groups more than 9 communities.
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
        (6, 6),
        8,
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
        (9,),
        10,
    ),
    _Township(
        "沽河街道", ("沽河社区", "滨河社区", "福州路社区", "杭州路社区", "辽河社区"), 88, (5,), 12
    ),
    _Township("姜山镇", (), 115, (), 15),
    _Township("夏格庄镇", (), 70, (), 9),
    _Township("院上镇", (), 92, (), 12),
    _Township("日庄镇", (), 86, (), 12),
    _Township("南墅镇", (), 68, (), 9),
    _Township("河头店镇", (), 70, (), 9),
    _Township("店埠镇", (), 88, (), 12),
    _Township("马连庄镇", (), 54, (), 7),
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


def _shares(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` runs as even as possible, the longer runs first."""
    size, extra = divmod(total, parts)
    return [size + 1] * extra + [size] * (parts - extra)


def _center_name(seat: str) -> str:
    return seat.removesuffix("村").removesuffix("社区") + CENTER_SUFFIX


def _township(serial: int, township: _Township, rural_names: Iterator[str]) -> list[Office]:
    code = f"{_CITY_PREFIX}{serial:03d}"
    villages = [(name, True) for name in township.urban]
    villages += [(next(rural_names), False) for _ in range(township.rural)]
    runs = [(size, True) for size in township.urban_centers]
    runs += [(size, False) for size in _shares(township.rural, township.rural_centers)]
    offices = [Office(code, township.name, "township", SEED_CITY, bool(township.urban))]
    first = 0
    for c_serial, (size, urban) in enumerate(runs, start=1):
        center = f"{code}S{c_serial:02d}"
        offices.append(Office(center, _center_name(villages[first][0]), "community", code, urban))
        for v_serial in range(first + 1, first + size + 1):
            name, urban_village = villages[v_serial - 1]
            offices.append(Office(f"{code}{v_serial:03d}", name, "village", center, urban_village))
        first += size
    if first != len(villages):
        raise ValueError(f"{township.name}: the centers group {first} of {len(villages)} villages")
    return offices


def seed_offices() -> list[Office]:
    """The city, then per township: the township, and each center followed by its villages."""
    rural_names = iter(_rural_names(sum(township.rural for township in _TOWNSHIPS)))
    offices = [Office(SEED_CITY, SEED_CITY_NAME, "city", None, urban=False)]
    for serial, township in enumerate(_TOWNSHIPS, start=1):
        offices += _township(serial, township, rural_names)
    return offices
