"""The service catalog (DESIGN §5): items, their deciding tier, time limits and materials.

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
    """The promised limit (承诺时限) and, where the law sets one, the statutory limit (法定时限).

    An extension moves the promised deadline at most to the statutory one, so the statutory limit
    can never be shorter and must count in the same unit.
    """

    model_config = _MODEL_CONFIG

    promised: Limit
    statutory: Limit | None = None

    @model_validator(mode="after")
    def _statutory_not_below_promised(self) -> ItemLimits:
        if self.statutory is None:
            return self
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
        return self


class ServiceItem(BaseModel):
    """One service item (事项) a resident can entrust to the village agent."""

    model_config = _MODEL_CONFIG

    code: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: NonEmptyStr
    name_en: str
    deciding_tier: Tier
    limits: ItemLimits
    materials: list[NonEmptyStr] = Field(min_length=1)

    @field_validator("materials")
    @classmethod
    def _materials_unique(cls, materials: list[str]) -> list[str]:
        seen: set[str] = set()
        for material in materials:
            if material in seen:
                raise ValueError(f"material {material!r} is listed twice")
            seen.add(material)
        return materials

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
