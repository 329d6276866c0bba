"""Written notices (文书): their kinds, numbers, canonical content and SHA-256.

The Licensing Law and the county's rules ask for a dated written notice at acceptance, at 补正,
at a refusal or denial, at an extension, at a special procedure, at an acceptance with a gap, and
for a supervision order. Each kind is data (``data/notices/kinds.json``: title, the word of its
number, whom it is addressed to, the fields it needs) with a body template beside it
(``data/notices/<kind>.txt.j2``); rendering to HTML and PDF is in ``daiban.domain.notice_render``.

A notice's **canonical content** is one flat JSON object: the common keys (``number``, ``kind``,
``office``, ``issuer``, ``issued_at``, ``request_id``, ``item``, ``item_name`` and, for a notice
handed to the resident, ``resident_name``) and the kind's own fields. Its SHA-256 over the
canonical JSON (sorted keys, no spaces, UTF-8) is printed at the foot of the notice and stored
beside it, so that a printed copy can be checked against the record. The content holds the
resident's name: it is never logged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

NOTICES_DIR: Final = Path(__file__).parent / "data" / "notices"

Addressee = Literal["resident", "office"]
# How a field of a kind is checked: a date (ISO ``YYYY-MM-DD`` or a datetime with offset), a
# non-empty text, a non-empty list of texts, a number of days, or a special procedure.
FieldType = Literal["date", "text", "list", "days", "procedure"]

# The special procedures whose time is excluded from the limits, as a resident reads them.
PROCEDURES: Final[dict[str, str]] = {
    "hearing": "听证",
    "expert_review": "专家评审",
    "inspection": "检验检测",
    "appraisal": "鉴定",
    "public_notice": "公示",
}
# Keys every notice has, set by ``notice_content`` from the issuing call.
ISSUED_KEYS: Final = ("number", "kind", "office", "issuer", "issued_at", "request_id")
# Keys the caller gives for every notice; ``resident_name`` too for a notice to the resident.
COMMON_KEYS: Final = ("item", "item_name")


class NoticeContentError(ValueError):
    """The content given for a notice is incomplete or malformed; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NoticeKind:
    code: str
    title: str
    word: str  # the kind's word in a number: 受 in 姜山受〔2026〕0007号
    addressee: Addressee
    fields: Mapping[str, FieldType]


@lru_cache(maxsize=1)
def notice_kinds() -> dict[str, NoticeKind]:
    """The eight kinds, from the data file shipped with the package."""
    raw = json.loads((NOTICES_DIR / "kinds.json").read_text(encoding="utf-8"))
    return {
        code: NoticeKind(
            code=code,
            title=spec["title"],
            word=spec["word"],
            addressee=spec["addressee"],
            fields=dict(spec["fields"]),
        )
        for code, spec in raw.items()
    }


def notice_kind(code: str) -> NoticeKind:
    kind = notice_kinds().get(code)
    if kind is None:
        raise NoticeContentError("kind", f"unknown notice kind {code!r}")
    return kind


# --- numbers -----------------------------------------------------------------------------------

_LONG_SUFFIXES: Final = ("行政服务中心", "便民服务中心")
_SHORT_SUFFIXES: Final = ("街道", "镇", "乡", "市", "县", "区")


def office_short_name(name: str) -> str:
    """The name an office signs its numbers with: 姜山镇 → 姜山, 莱西市行政服务中心 → 莱西."""
    for suffix in _LONG_SUFFIXES:
        name = name.removesuffix(suffix)
    for suffix in _SHORT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name.removesuffix(suffix)
    return name


def issuer_name(office_name: str, tier: str) -> str:
    """The issuing office as printed: a township's service center (姜山镇 → 姜山镇便民服务中心),
    a city's administrative service center as it is named."""
    if tier == "township" and not office_name.endswith("中心"):
        return f"{office_name}便民服务中心"
    return office_name


def notice_number(office_name: str, kind: str, year: int, seq: int) -> str:
    """``姜山受〔2026〕0007号``: office, kind, year and a sequence gapless within the three."""
    short = office_short_name(office_name)
    return f"{short}{notice_kind(kind).word}〔{year}〕{seq:04d}号"


# --- content -----------------------------------------------------------------------------------


def _check_field(name: str, kind: FieldType, value: Any) -> None:
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise NoticeContentError(name, "must be a non-empty text")
    elif kind == "list":
        if not isinstance(value, list) or not value:
            raise NoticeContentError(name, "must be a non-empty list")
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise NoticeContentError(name, "every entry must be a non-empty text")
    elif kind == "days":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NoticeContentError(name, "must be a whole number of days, 1 or more")
    elif kind == "procedure":
        if value not in PROCEDURES:
            raise NoticeContentError(name, f"must be one of {', '.join(PROCEDURES)}")
    else:
        parse_date(name, value)


def parse_date(name: str, value: Any) -> date:
    """A date field: ``YYYY-MM-DD``, or a datetime with its offset (its local date is meant)."""
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.date()
    raise NoticeContentError(name, "must be a date (YYYY-MM-DD) or a datetime with offset")


def _json_value(name: str, value: Any) -> None:
    if value is None or isinstance(value, str | int | bool):
        return
    if isinstance(value, list):
        for entry in value:
            _json_value(name, entry)
        return
    raise NoticeContentError(name, "must be text, a number, a boolean or a list of them")


def check_fields(kind: str, fields: Mapping[str, Any]) -> NoticeKind:
    """Check what the caller gives for a notice of ``kind``: the common keys, the resident's name
    for a notice to the resident, and the kind's own fields. Extra keys are kept as given."""
    spec = notice_kind(kind)
    required = (*COMMON_KEYS, "resident_name") if spec.addressee == "resident" else COMMON_KEYS
    for name in required:
        _check_field(name, "text", fields.get(name))
    for name, field_type in spec.fields.items():
        if name not in fields:
            raise NoticeContentError(name, "is required")
        _check_field(name, field_type, fields[name])
    for name, value in fields.items():
        if name in ISSUED_KEYS:
            raise NoticeContentError(name, "is set when the notice is issued")
        _json_value(name, value)
    return spec


def notice_content(
    *,
    number: str,
    kind: str,
    office: str,
    issuer: str,
    issued_at: datetime,
    request_id: str,
    fields: Mapping[str, Any],
    tz: tzinfo,
) -> dict[str, Any]:
    """The canonical content of a notice: the checked fields and what issuing sets."""
    if issued_at.tzinfo is None:
        raise NoticeContentError("issued_at", "must carry its time zone")
    check_fields(kind, fields)
    return {
        **fields,
        "number": number,
        "kind": kind,
        "office": office,
        "issuer": issuer,
        # Local time, to the second: what the printed copy shows and the hash covers.
        "issued_at": issued_at.astimezone(tz).isoformat(timespec="seconds"),
        "request_id": request_id,
    }


def canonical_json(content: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 (Chinese unescaped): one byte string per content."""
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def content_sha256(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content)).hexdigest()
