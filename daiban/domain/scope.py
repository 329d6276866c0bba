"""Who is looking, and what they may see: the viewer of every read and the scope rules.

A ``Principal`` is what a verified token (or a console session) names: a staff id, a role and an
office, and that office's tier as the office tree gives it. Scope follows the office tree, never a
fixed city: an agent sees its village, township staff their township, city staff what was
forwarded to their city, a supervisor everything under its own office (its township, or its city
and no other city), an admin everything. The read model turns the same
rules into SQL (``daiban.store.readmodel.scope_clause``); ``state_in_scope`` applies them to a
workflow's state when the read model cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from daiban.domain.offices import OfficeTree
from models.contracts import Actor, RequestState, Role

RATING_LINK: Final = "rating_link"
SUB_MAX: Final = 128
STAFF_ROLES: Final = frozenset({Role.TOWNSHIP_STAFF, Role.CITY_STAFF})
# The tiers of office each role works at; a token whose office is at another tier is forged.
ROLE_TIERS: Final[dict[str, frozenset[str]]] = {
    Role.AGENT: frozenset({"village"}),
    Role.TOWNSHIP_STAFF: frozenset({"township"}),
    Role.CITY_STAFF: frozenset({"city"}),
    Role.SUPERVISOR: frozenset({"township", "city"}),
    Role.ADMIN: frozenset({"village", "community", "township", "city"}),
    RATING_LINK: frozenset({"village"}),
}


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    office: str
    request: str | None = None  # the one request a rating link is for
    link: str | None = None  # a rating link's id (``jti``): it rates once
    # The office's tier (``principal_from_claims`` takes it from the tree): what a supervisor
    # oversees depends on it.
    tier: str | None = None

    def actor(self) -> Actor:
        # A rating link rates on the resident's behalf, as the village agent would.
        role = Role.AGENT if self.role == RATING_LINK else self.role
        return Actor(sub=self.sub, role=role, office=self.office)


def principal_from_claims(claims: dict[str, Any], offices: OfficeTree) -> Principal:
    """The principal these claims name in this office tree; ValueError (one line) when they name
    none."""
    sub, role, office, request = (claims.get(k) for k in ("sub", "role", "office", "req"))
    if not isinstance(sub, str) or not sub.strip() or len(sub) > SUB_MAX:
        raise ValueError("sub must be a non-empty string")
    if not sub.isprintable():  # it reaches text columns (ledger actor, idempotency keys)
        raise ValueError("sub must not contain control characters")
    if not isinstance(role, str) or role not in ROLE_TIERS:
        raise ValueError(f"unknown role {role!r}")
    known = offices.find(office) if isinstance(office, str) else None
    if not isinstance(office, str) or known is None:
        raise ValueError(f"unknown office {office!r}")
    if known.tier not in ROLE_TIERS[role]:
        raise ValueError(f"a {role} cannot work at a {known.tier} office")
    if role == RATING_LINK and not isinstance(request, str):
        raise ValueError("a rating link must name its request (req)")
    return Principal(
        sub=sub,
        role=role,
        office=office,
        request=request if role == RATING_LINK else None,
        tier=known.tier,
        link=_link_id(claims) if role == RATING_LINK else None,
    )


def _link_id(claims: dict[str, Any]) -> str | None:
    jti = claims.get("jti")
    return jti if isinstance(jti, str) and 0 < len(jti) <= SUB_MAX else None


def supervised_field(principal: Principal) -> str:
    """What a supervisor oversees, as the field named alike in requests, their states and the
    statistics rollup: a city supervisor its ``city``, a township supervisor its ``township``."""
    if principal.tier == "city":
        return "city"
    if principal.tier == "township":
        return "township"
    # Never a guess: a supervisor of unknown tier would otherwise be given some field's scope.
    raise ValueError(f"a supervisor works at a township or a city, not {principal.tier!r}")


def state_in_scope(principal: Principal, state: RequestState) -> bool:
    """The read model's scope rules over a workflow's state: the same rules, for when the read
    model cannot answer (the database is away) and the state comes from Temporal alone."""
    p = principal
    if p.role == Role.ADMIN:
        return True
    if p.role == RATING_LINK:
        return state.id == p.request
    if p.role == Role.AGENT:
        return state.village == p.office
    if p.role == Role.TOWNSHIP_STAFF:
        return state.township == p.office
    if p.role == Role.CITY_STAFF:
        return state.city == p.office and any(h.action == "forward" for h in state.history)
    if p.role == Role.SUPERVISOR:
        supervised: str = getattr(state, supervised_field(p))
        return supervised == p.office
    return False
