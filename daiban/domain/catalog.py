"""The service catalog: items, their deciding tier, legal data, time limits and materials.

Each item carries what the law and the county's published list (政务服务事项实施清单) say of it: its
kind (licence, confirmation, benefit, public service), its legal basis, its promised limit and its
statutory limit with their unit, its lawful extension (or none), the procedures whose time the law
excludes from the limit (公示, 鉴定 …), and the materials that may be missing at an acceptance
with a gap (容缺受理). An item that lacks any of these is refused.

Every number lives in a JSON data file that an operator can replace (``DAIBAN_CATALOG``); the
shipped demo catalog is ``daiban/domain/data/catalog.json``. A bad file is refused at load time with
one line that names the file, the item and the field, so that an operator can fix it without reading
a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    from daiban.core.settings import Settings

SHIPPED_CATALOG: Final = Path(__file__).parent / "data" / "catalog.json"

DayUnit = Literal["working", "natural"]
Tier = Literal["township", "city"]
# 行政许可, 行政确认, 行政给付, 公共服务: most proxy-service items are not licences, so their limits
# come from their own rules rather than the Licensing Law's 20 + 10 working days.
ItemKind = Literal["licence", "confirmation", "benefit", "public_service"]
# The special procedures whose time the law excludes from a limit (the pause reasons of a request).
Procedure = Literal["hearing", "expert_review", "inspection", "appraisal", "public_notice"]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

# Strict: a catalog is operator-edited data, so "25" or 25.0 for a limit is a mistake to report,
# not a value to coerce. Forbid unknown keys so that a misspelt field ("statuary") is not ignored.
_MODEL_CONFIG: Final = ConfigDict(frozen=True, strict=True, extra="forbid")


class CatalogError(Exception):
    """The catalog file cannot be used; the message is one line naming file, item and field."""


class Limit(BaseModel):
    """A time limit of ``limit`` days of ``unit``; 0 is on the spot (即办件), due the same day."""

    model_config = _MODEL_CONFIG

    limit: int = Field(ge=0)
    unit: DayUnit = "working"


class ItemLimits(BaseModel):
    """The promised limit (承诺时限), statutory limit (法定时限) and lawful extension (延期).

    An extension moves the statutory deadline out once by ``extension`` and the promised deadline
    at most to the new statutory one, so the statutory limit can never be shorter than the promised
    one, and all three count in the same unit. ``extension`` is ``null`` where the item's rules
    allow none; it must be written out all the same, so that a missing key is not read as "none".
    """

    model_config = _MODEL_CONFIG

    promised: Limit
    statutory: Limit
    extension: Limit | None

    @model_validator(mode="after")
    def _statutory_not_below_promised(self) -> ItemLimits:
        if self.statutory.unit != self.promised.unit:
            raise ValueError(
                f"statutory unit {self.statutory.unit!r} differs from promised unit "
                f"{self.promised.unit!r}"
            )
        if self.statutory.limit < self.promised.limit:
            raise ValueError(
                f"statutory limit {self.statutory.limit} is below promised limit "
                f"{self.promised.limit}"
            )
        if self.extension is not None and self.extension.unit != self.statutory.unit:
            raise ValueError(
                f"extension unit {self.extension.unit!r} differs from statutory unit "
                f"{self.statutory.unit!r}"
            )
        return self


class ServiceItem(BaseModel):
    """One service item (事项) a resident can entrust to the village agent."""

    model_config = _MODEL_CONFIG

    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: NonEmptyStr
    name_en: str
    deciding_tier: Tier
    kind: ItemKind
    legal_basis: NonEmptyStr
    limits: ItemLimits
    materials: list[NonEmptyStr] = Field(min_length=1)
    excluded_procedures: list[Procedure]
    # 容缺材料清单: secondary materials only, so never every material of the item.
    gap_materials: list[NonEmptyStr]

    @field_validator("materials", "excluded_procedures", "gap_materials")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"{value!r} is listed twice")
            seen.add(value)
        return values

    @model_validator(mode="after")
    def _gap_list_within_materials(self) -> ServiceItem:
        unknown = [m for m in self.gap_materials if m not in self.materials]
        if unknown:
            raise PydanticCustomError(
                "gap_material",
                "{material} is not one of the item's materials",
                {"field": "gap_materials", "material": repr(unknown[0])},
            )
        if self.gap_materials and len(self.gap_materials) == len(self.materials):
            raise PydanticCustomError(
                "gap_material",
                "may list secondary materials only, not every material",
                {"field": "gap_materials"},
            )
        return self

    @property
    def gap_allowed(self) -> bool:
        """Whether the item may be accepted with a gap at all (its gap list is not empty)."""
        return bool(self.gap_materials)

    @property
    def on_the_spot(self) -> bool:
        """An on-the-spot item (即办件) is due the same day it is accepted."""
        return self.limits.promised.limit == 0


class Catalog(BaseModel):
    """The whole catalog; item codes are unique."""

    model_config = _MODEL_CONFIG

    version: int = Field(ge=1)
    items: list[ServiceItem]

    _by_code: dict[str, ServiceItem] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _codes_unique(self) -> Catalog:
        by_code: dict[str, ServiceItem] = {}
        first_index: dict[str, int] = {}
        for index, item in enumerate(self.items):
            if item.code in by_code:
                raise PydanticCustomError(
                    "duplicate_code",
                    "duplicate code, already used by item #{first}",
                    {"index": index, "first": first_index[item.code], "code": item.code},
                )
            by_code[item.code] = item
            first_index[item.code] = index
        self._by_code = by_code
        return self

    def get(self, code: str) -> ServiceItem | None:
        return self._by_code.get(code)

    def codes(self) -> list[str]:
        """Item codes in file order."""
        return [item.code for item in self.items]


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; ``None`` loads the shipped demo catalog.

    Raises ``CatalogError`` with a one-line message for a missing or unreadable file, malformed
    JSON, a duplicate key or code, or any field that fails validation.
    """
    source = SHIPPED_CATALOG if path is None else path
    prefix = f"catalog {source}"
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{prefix}: cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{prefix}: not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{prefix}: malformed JSON: {exc}") from None
    except _DuplicateKeyError as exc:
        raise CatalogError(f"{prefix}: malformed JSON: {exc}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        line = f"{prefix}: {_describe(errors[0], data)}"
        if len(errors) > 1:
            more = len(errors) - 1
            line += f" (and {more} more error{'s' if more > 1 else ''})"
        raise CatalogError(_one_line(line)) from None


def catalog_from_settings(settings: Settings) -> Catalog:
    """The catalog the settings point at (``DAIBAN_CATALOG``), or the shipped one."""
    return load_catalog(settings.catalog)


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of two equal keys; in an edited catalog that hides a typo.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(f"duplicate key {key!r} in one object")
        result[key] = value
    return result


def _describe(error: ErrorDetails, data: Any) -> str:
    """Turn one pydantic error into "item 'dibao' field limits.promised.limit: <message>"."""
    message = error["msg"].removeprefix("Value error, ")
    loc = list(error["loc"])
    if error["type"] == "duplicate_code":
        ctx = error.get("ctx", {})
        loc = ["items", ctx["index"], "code"]
    if error["type"] == "gap_material":
        loc = [*loc, error.get("ctx", {})["field"]]
    if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int):
        index = loc[1]
        field = ".".join(str(part) for part in loc[2:])
        where = _item_label(data, index, field)
        return f"{where} field {field}: {message}" if field else f"{where}: {message}"
    if loc:
        return f"field {'.'.join(str(part) for part in loc)}: {message}"
    return message


def _item_label(data: Any, index: int, field: str) -> str:
    """Name an item by its code when it has a usable one, else by its position."""
    try:
        code = data["items"][index]["code"]
    except (KeyError, IndexError, TypeError):
        code = None
    if isinstance(code, str) and code and field != "code":
        return f"item {code!r}"
    if isinstance(code, str) and code:
        return f"item #{index} ({code!r})"
    return f"item #{index}"


def _one_line(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")
