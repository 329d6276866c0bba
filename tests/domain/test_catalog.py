"""The service catalog: the shipped data matches docs/design.md §5, and a bad file is refused
clearly."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from daiban.core.settings import Settings
from daiban.domain.catalog import (
    SHIPPED_CATALOG,
    Catalog,
    CatalogError,
    DayUnit,
    ItemLimits,
    Limit,
    Tier,
    catalog_from_settings,
    load_catalog,
)

# Written from the demo catalog's table (docs): code -> (deciding tier, promised limit, unit,
# statutory limit, lawful extension or None). Where the item's rules set no separate statutory
# limit, it equals the promised one; the ID card's is 60 natural days (居民身份证法 art. 12).
DESIGN_5: dict[str, tuple[Tier, int, DayUnit, int, int | None]] = {
    "dibao": ("city", 25, "working", 30, 15),
    "tekun": ("city", 20, "working", 40, None),
    "linshi-jiuzhu": ("township", 10, "working", 20, None),
    "canji-zheng": ("city", 10, "working", 10, None),
    "canji-butie": ("city", 20, "working", 20, None),
    "yanglao-dengji": ("township", 0, "working", 0, None),
    "yanglao-daiyu": ("city", 20, "working", 20, None),
    "yibao-dengji": ("township", 0, "working", 0, None),
    "shebao-ka": ("township", 1, "working", 1, None),
    "shengyu-dengji": ("township", 0, "working", 0, None),
    "shenfenzheng": ("city", 60, "natural", 60, 30),
    "zhaijidi": ("township", 20, "working", 20, 10),
    "gaoling-jintie": ("city", 22, "working", 30, None),
}

Data = dict[str, Any]


def shipped_data() -> Data:
    data: Data = json.loads(SHIPPED_CATALOG.read_text(encoding="utf-8"))
    return data


def item(data: Data, code: str) -> Data:
    found: Data = next(entry for entry in data["items"] if entry["code"] == code)
    return found


def write(tmp_path: Path, data: Data) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# --- the shipped catalog ---------------------------------------------------------------------


def test_shipped_catalog_has_the_13_items_in_design_order() -> None:
    catalog = load_catalog()
    assert catalog.version == 2
    assert catalog.codes() == list(DESIGN_5)


@pytest.mark.parametrize("code", list(DESIGN_5))
def test_shipped_item_matches_design(code: str) -> None:
    tier, promised, unit, statutory, extension = DESIGN_5[code]
    entry = load_catalog().get(code)
    assert entry is not None
    assert entry.deciding_tier == tier
    assert entry.limits.promised == Limit(limit=promised, unit=unit)
    assert entry.limits.statutory == Limit(limit=statutory, unit=unit)
    if extension is None:
        assert entry.limits.extension is None
    else:
        assert entry.limits.extension == Limit(limit=extension, unit=unit)
    assert entry.on_the_spot == (promised == 0)
    assert entry.legal_basis.startswith(("《", "本省"))
    assert set(entry.gap_materials) < set(entry.materials)
    assert entry.name and entry.name_en
    assert 3 <= len(entry.materials) <= 6
    assert all(material.strip() for material in entry.materials)


def test_get_unknown_code_is_none() -> None:
    assert load_catalog().get("no-such-item") is None


def test_load_none_is_the_shipped_file() -> None:
    assert load_catalog(None) == load_catalog(SHIPPED_CATALOG)


# --- a replacement file ----------------------------------------------------------------------


def test_replacement_file_via_settings(tmp_path: Path) -> None:
    data = shipped_data()
    item(data, "dibao")["limits"]["promised"]["limit"] = 15
    data["items"] = [entry for entry in data["items"] if entry["code"] != "zhaijidi"]
    path = write(tmp_path, data)

    catalog = catalog_from_settings(Settings(catalog=path))

    dibao = catalog.get("dibao")
    assert dibao is not None and dibao.limits.promised.limit == 15
    assert catalog.get("zhaijidi") is None
    assert len(catalog.codes()) == 12


def test_settings_without_catalog_give_the_shipped_one() -> None:
    assert catalog_from_settings(Settings(catalog=None)) == load_catalog()


# --- bad files -------------------------------------------------------------------------------


def set_negative_limit(data: Data) -> None:
    item(data, "dibao")["limits"]["promised"]["limit"] = -1


def set_unknown_tier(data: Data) -> None:
    item(data, "tekun")["deciding_tier"] = "county"


def set_empty_materials(data: Data) -> None:
    item(data, "canji-zheng")["materials"] = []


def set_blank_material(data: Data) -> None:
    item(data, "canji-zheng")["materials"][1] = "  "


def set_statutory_below_promised(data: Data) -> None:
    item(data, "gaoling-jintie")["limits"]["statutory"]["limit"] = 5


def set_statutory_other_unit(data: Data) -> None:
    item(data, "dibao")["limits"]["statutory"]["unit"] = "natural"


def set_string_limit(data: Data) -> None:
    item(data, "shebao-ka")["limits"]["promised"]["limit"] = "1"


def set_unknown_field(data: Data) -> None:
    item(data, "zhaijidi")["limits"]["statuary"] = None


def set_duplicate_code(data: Data) -> None:
    data["items"].append(copy.deepcopy(item(data, "dibao")))


def set_bad_code(data: Data) -> None:
    data["items"][4]["code"] = "Canji Butie"


def drop_name(data: Data) -> None:
    del item(data, "tekun")["name"]


def drop_legal_basis(data: Data) -> None:
    del item(data, "dibao")["legal_basis"]


def drop_kind(data: Data) -> None:
    del item(data, "zhaijidi")["kind"]


def drop_statutory(data: Data) -> None:
    del item(data, "canji-zheng")["limits"]["statutory"]


def drop_extension(data: Data) -> None:
    del item(data, "shenfenzheng")["limits"]["extension"]


def drop_gap_list(data: Data) -> None:
    del item(data, "tekun")["gap_materials"]


def drop_excluded_procedures(data: Data) -> None:
    del item(data, "dibao")["excluded_procedures"]


def set_gap_outside_materials(data: Data) -> None:
    item(data, "dibao")["gap_materials"] = ["结婚证"]


def set_gap_everything(data: Data) -> None:
    entry = item(data, "yanglao-dengji")
    entry["gap_materials"] = list(entry["materials"])


def set_unknown_procedure(data: Data) -> None:
    item(data, "dibao")["excluded_procedures"] = ["lunch_break"]


def set_extension_other_unit(data: Data) -> None:
    item(data, "shenfenzheng")["limits"]["extension"]["unit"] = "working"


BAD_CASES: dict[str, tuple[Callable[[Data], None], str, str]] = {
    # case -> (mutation, item label, field and message fragment)
    "negative limit": (
        set_negative_limit,
        "item 'dibao'",
        "field limits.promised.limit: Input should be greater than or equal to 0",
    ),
    "unknown tier": (set_unknown_tier, "item 'tekun'", "field deciding_tier: Input should be"),
    "empty materials": (set_empty_materials, "item 'canji-zheng'", "field materials: "),
    "blank material": (set_blank_material, "item 'canji-zheng'", "field materials.1: "),
    "statutory below promised": (
        set_statutory_below_promised,
        "item 'gaoling-jintie'",
        "field limits: statutory limit 5 is below promised limit 22",
    ),
    "statutory other unit": (set_statutory_other_unit, "item 'dibao'", "field limits: statutory"),
    "string limit": (
        set_string_limit,
        "item 'shebao-ka'",
        "field limits.promised.limit: Input should be a valid integer",
    ),
    "unknown field": (set_unknown_field, "item 'zhaijidi'", "field limits.statuary: "),
    "duplicate code": (
        set_duplicate_code,
        "item #13 ('dibao')",
        "field code: duplicate code, already used by item #0",
    ),
    "bad code": (set_bad_code, "item #4 ('Canji Butie')", "field code: String should match"),
    "missing name": (drop_name, "item 'tekun'", "field name: Field required"),
    "missing legal basis": (drop_legal_basis, "item 'dibao'", "field legal_basis: Field required"),
    "missing kind": (drop_kind, "item 'zhaijidi'", "field kind: Field required"),
    "missing statutory limit": (
        drop_statutory,
        "item 'canji-zheng'",
        "field limits.statutory: Field required",
    ),
    "missing extension": (
        drop_extension,
        "item 'shenfenzheng'",
        "field limits.extension: Field required",
    ),
    "missing gap list": (drop_gap_list, "item 'tekun'", "field gap_materials: Field required"),
    "missing excluded procedures": (
        drop_excluded_procedures,
        "item 'dibao'",
        "field excluded_procedures: Field required",
    ),
    "gap material not a material": (
        set_gap_outside_materials,
        "item 'dibao'",
        "field gap_materials: '结婚证' is not one of the item's materials",
    ),
    "gap list of every material": (
        set_gap_everything,
        "item 'yanglao-dengji'",
        "field gap_materials: may list secondary materials only",
    ),
    "unknown procedure": (
        set_unknown_procedure,
        "item 'dibao'",
        "field excluded_procedures.0: Input should be",
    ),
    "extension in another unit": (
        set_extension_other_unit,
        "item 'shenfenzheng'",
        "field limits: extension unit 'working' differs from statutory unit 'natural'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_item_names_file_item_and_field(tmp_path: Path, case: str) -> None:
    mutate, label, fragment = BAD_CASES[case]
    data = shipped_data()
    mutate(data)
    path = write(tmp_path, data)

    with pytest.raises(CatalogError) as caught:
        load_catalog(path)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"catalog {path}: {label} {fragment}"), message


def test_several_errors_are_counted_on_one_line(tmp_path: Path) -> None:
    data = shipped_data()
    set_negative_limit(data)
    set_unknown_tier(data)
    with pytest.raises(CatalogError) as caught:
        load_catalog(write(tmp_path, data))
    message = str(caught.value)
    assert "\n" not in message
    assert "item 'dibao' field limits.promised.limit" in message
    assert message.endswith("(and 1 more error)")


def test_malformed_json(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"version": 1, "items": [}', encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"catalog {path}: malformed JSON: ")
    assert "line 1 column" in message


def test_duplicate_json_key(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text('{"version": 1, "version": 2, "items": []}', encoding="utf-8")
    with pytest.raises(CatalogError, match="duplicate key 'version'"):
        load_catalog(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"catalog {path}: cannot read file: No such file or directory"


def test_top_level_errors(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(CatalogError, match=r": Input should be a valid dictionary"):
        load_catalog(path)
    path.write_text('{"items": []}', encoding="utf-8")
    with pytest.raises(CatalogError, match=r": field version: Field required$"):
        load_catalog(path)


# --- the models on their own ------------------------------------------------------------------


def test_models_reject_bad_values_directly() -> None:
    with pytest.raises(ValidationError):
        Limit(limit=-1, unit="working")
    with pytest.raises(ValidationError):
        ItemLimits(
            promised=Limit(limit=10, unit="working"), statutory=Limit(limit=9, unit="working")
        )
    shipped = load_catalog()
    with pytest.raises(ValidationError):
        Catalog(version=1, items=[*shipped.items, shipped.items[0]])


def test_catalog_is_immutable() -> None:
    catalog = load_catalog()
    with pytest.raises(ValidationError):
        catalog.version = 2
