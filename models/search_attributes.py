"""Search attributes of a request workflow. Never personal data: they are not encrypted."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("DaibanStage")
OFFICE = SearchAttributeKey.for_keyword("DaibanOffice")
TOWNSHIP = SearchAttributeKey.for_keyword("DaibanTownship")
ITEM = SearchAttributeKey.for_keyword("DaibanItem")
OVERDUE = SearchAttributeKey.for_keyword("DaibanOverdue")
DEADLINE = SearchAttributeKey.for_datetime("DaibanDeadline")

ALL = (STAGE, OFFICE, TOWNSHIP, ITEM, OVERDUE, DEADLINE)


def cli_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime"}
    return [
        f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"
        for key in ALL
    ]
