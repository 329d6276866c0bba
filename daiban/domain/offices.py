"""The office tree: cities, their townships, community service centers and villages.

One deployment may serve several county-level cities (docs/design.md §6), so nothing here names a
city: every rule asks the tree. The tiers, top to bottom:

- ``city``: a city administrative service center (市行政服务中心), the root of its tree;
- ``township``: a township or street convenience service center (镇/街道便民服务中心);
- ``community``: a community service center (管区社区服务中心) grouping villages — a grouping for
  lists and statistics only: a village's proxy room hands off to its township, never to it;
- ``village``: a village or residential community proxy room (村/居为民服务代理室), under its
  community service center or, in a city without that level, directly under its township.

``OfficeTree`` checks those shapes when it is built, so a tree that exists is well formed. The
demo data (the seed city with its 119 community service centers) is ``daiban.domain.seed_city``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal, get_args

OfficeTier = Literal["city", "township", "community", "village"]
TIERS: Final[tuple[OfficeTier, ...]] = get_args(OfficeTier)
# The tiers an office of each tier may hang under (a city under none).
PARENT_TIERS: Final[dict[str, frozenset[str]]] = {
    "city": frozenset(),
    "township": frozenset({"city"}),
    "community": frozenset({"township"}),
    "village": frozenset({"township", "community"}),
}
CODE_MAX: Final = 32  # the API's office code fields take up to 32 characters


class UnknownOfficeError(KeyError):
    """The code names no office of the tree."""


class InvalidOfficeTree(ValueError):
    """The offices do not form a tree of the allowed shape; the message is one line."""


@dataclass(frozen=True, slots=True)
class Office:
    """One service office. ``urban`` marks a residential community (社区), and a community
    service center or street office (街道) that holds some; rural villages, towns (镇) and cities
    are not."""

    code: str
    name: str
    tier: OfficeTier
    parent: str | None
    urban: bool


def make_office(code: str, name: str, tier: str, parent: str | None, urban: bool) -> Office:
    """An office from plain values (a database row, a file), checked on its own."""
    for known in TIERS:  # the tier as its Literal, for the type checker
        if tier == known:
            office = Office(code, name, known, parent, urban)
            check_office(office)
            return office
    raise InvalidOfficeTree(f"office {code!r}: tier must be one of {', '.join(TIERS)}")


def check_office(office: Office) -> None:
    """One office on its own: a printable code and name, a known tier, a parent unless a city."""
    where = f"office {office.code!r}"
    if not office.code or len(office.code) > CODE_MAX or not office.code.isprintable():
        raise InvalidOfficeTree(f"{where}: a code is 1 to {CODE_MAX} printable characters")
    if not office.code.strip() or office.code != office.code.strip():
        raise InvalidOfficeTree(f"{where}: a code has no surrounding spaces")
    if not office.name.strip() or not office.name.isprintable():
        raise InvalidOfficeTree(f"{where}: the name must be printable and not empty")
    if office.tier not in TIERS:
        raise InvalidOfficeTree(f"{where}: tier must be one of {', '.join(TIERS)}")
    if (office.tier == "city") != (office.parent is None):
        raise InvalidOfficeTree(f"{where}: a city and only a city has no parent")


class OfficeTree:
    """Offices by code, checked to form trees rooted at cities (see the module docstring).

    Immutable once built; lookups are dictionary reads, and the walks up the tree are at most
    three steps long.
    """

    __slots__ = ("_by_code", "_children")

    def __init__(self, offices: Iterable[Office]) -> None:
        by_code: dict[str, Office] = {}
        for office in offices:
            check_office(office)
            if office.code in by_code:
                raise InvalidOfficeTree(f"office {office.code!r} is listed twice")
            by_code[office.code] = office
        children: dict[str, list[str]] = {}
        for office in by_code.values():
            if office.parent is None:
                continue
            parent = by_code.get(office.parent)
            if parent is None:
                raise InvalidOfficeTree(
                    f"office {office.code!r}: parent {office.parent!r} is not an office"
                )
            if parent.tier not in PARENT_TIERS[office.tier]:
                raise InvalidOfficeTree(
                    f"office {office.code!r}: a {office.tier} cannot hang under a {parent.tier}"
                )
            children.setdefault(parent.code, []).append(office.code)
        self._by_code = by_code
        self._children = {code: tuple(codes) for code, codes in children.items()}

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Office]:
        """Every office, in the order it was given."""
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def find(self, code: str) -> Office | None:
        return self._by_code.get(code)

    def get(self, code: str) -> Office:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownOfficeError(code) from None

    def children(self, code: str) -> list[Office]:
        """The offices directly under ``code``, in the order they were given."""
        return [self._by_code[child] for child in self._children.get(self.get(code).code, ())]

    def cities(self) -> list[Office]:
        return [office for office in self._by_code.values() if office.tier == "city"]

    def parent_chain(self, code: str) -> list[str]:
        """The office and its ancestors up to its city: ``[code, parent, …, city]``."""
        office: Office | None = self.get(code)
        chain: list[str] = []
        while office is not None:
            chain.append(office.code)
            office = None if office.parent is None else self._by_code[office.parent]
        return chain

    def _ancestor(self, code: str, tier: OfficeTier) -> str | None:
        for ancestor in self.parent_chain(code):
            if self._by_code[ancestor].tier == tier:
                return ancestor
        return None

    def city_of(self, code: str) -> str:
        """The city an office belongs to (a city itself)."""
        return self.parent_chain(code)[-1]

    def township_of(self, code: str) -> str | None:
        """The township of an office: walking up past its community service center for a
        village; a township itself; None for a city."""
        return self._ancestor(code, "township")

    def community_of(self, code: str) -> str | None:
        """The community service center of a village (or the center itself); None above it or
        for a village hanging directly under its township."""
        return self._ancestor(code, "community")

    def villages_under(self, code: str) -> list[str]:
        """Codes of the villages at or under ``code``."""
        found: list[str] = []
        stack = [code]
        while stack:
            office = self.get(stack.pop())
            if office.tier == "village":
                found.append(office.code)
            stack.extend(reversed(self._children.get(office.code, ())))
        return found


def demo_offices() -> list[Office]:
    """The seed city's offices: the city, then per township the township, its community service
    centers and its villages (a fresh list; the offices themselves are immutable)."""
    return list(demo_tree())


@cache
def demo_tree() -> OfficeTree:
    """The seed city as a tree (built once: generation is pure and deterministic)."""
    # Imported here: the seed builds its offices with this module's types.
    from daiban.domain.seed_city import seed_offices

    return OfficeTree(seed_offices())


def demo_city() -> Office:
    """The seed city's administrative service center (the demo's and the tools' one city)."""
    (city,) = demo_tree().cities()
    return city
