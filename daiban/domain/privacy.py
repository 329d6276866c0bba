"""Resident data: validation at the door (docs/design.md §6) and masking on the way out.

ID numbers follow GB 11643-1999 (18 characters, a weighted check digit, a real birth date); mobile
numbers match ``^1[3-9]\\d{9}$``. Every response masks name, ID number and phone unless the viewer
is the agent of the resident's village or the staff currently handling the request. Nothing here
logs: the resident's values never reach a log line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from daiban.domain.scope import STAFF_ROLES, Principal
from models.contracts import RequestState, Resident, Role

NAME_MAX = 50
ID_LENGTH = 18
PHONE_LENGTH = 11
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
EARLIEST_BIRTH = date(1900, 1, 1)
# ASCII: without it \d also matches other scripts' digits (١٣٨…, full-width １３８…).
PHONE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Control, format (zero-width, bidi overrides), private-use, surrogate, unassigned, line and
# paragraph separators: invisible, or able to make a name read differently from what it holds.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


def check_name(value: str) -> str:
    """A stripped, non-empty name of visible characters, with at least one letter."""
    name = value.strip()
    if not name:
        raise ValueError("name must not be empty")
    if len(name) > NAME_MAX:
        raise ValueError(f"name must be at most {NAME_MAX} characters")
    if _CONTROL.search(name):
        raise ValueError("name must not contain control characters")
    if any(unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in name):
        raise ValueError("name must not contain invisible or direction-changing characters")
    if not any(unicodedata.category(c).startswith("L") for c in name):
        raise ValueError("name must contain a letter")
    return name


def check_id_number(value: str, today: date | None = None) -> str:
    """An 18-character resident ID number with a valid check digit and birth date (upper-case X)."""
    number = value.strip().upper()
    if not _ID_SHAPE.fullmatch(number):
        raise ValueError("id_number must be 17 digits followed by a digit or X")
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], ID_WEIGHTS, strict=True))
    if ID_CHECK_CHARS[total % 11] != number[-1]:
        raise ValueError("id_number fails its check digit")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("id_number holds no valid birth date") from None
    today = today or datetime.now(ZoneInfo("Asia/Shanghai")).date()
    if not EARLIEST_BIRTH <= born <= today:
        raise ValueError("id_number birth date must lie between 1900-01-01 and today")
    return number


def check_phone(value: str) -> str:
    phone = value.strip()
    if not PHONE.fullmatch(phone):
        raise ValueError("phone must be a mainland mobile number (11 digits starting 13-19)")
    return phone


# --- masking -----------------------------------------------------------------------------------


def mask_name(name: str) -> str:
    """王秀英 → 王*英, 王英 → 王*, 欧阳娜娜 → 欧**娜; a one-character name is hidden entirely."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """First 6 (the region) and last 4 visible: 370285********0023."""
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """138****1234."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_resident(resident: Resident) -> Resident:
    return Resident(
        name=mask_name(resident.name),
        id_number=mask_id_number(resident.id_number),
        phone=mask_phone(resident.phone),
    )


def sees_resident(principal: Principal, state: RequestState) -> bool:
    """Unmasked only for the agent of the resident's village and the staff handling it now."""
    if principal.role == Role.AGENT:
        return principal.office == state.village
    if principal.role in STAFF_ROLES:
        at_city = state.responsible_office == state.city
        tier_role = Role.CITY_STAFF if at_city else Role.TOWNSHIP_STAFF
        return principal.role == tier_role and principal.office == state.responsible_office
    return False


def for_viewer(principal: Principal, state: RequestState) -> RequestState:
    """The state as this principal may see it: the resident masked unless ``sees_resident``, and
    the rater's identity shown only to the village agent (docs/design.md §4: never to the rated
    office)."""
    village_agent = principal.role == Role.AGENT and principal.office == state.village
    history = state.history
    if not village_agent:
        history = [replace(h, actor="resident") if h.action == "rate" else h for h in history]
    resident = state.resident if sees_resident(principal, state) else mask_resident(state.resident)
    return replace(state, resident=resident, history=history)
