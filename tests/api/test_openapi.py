"""The OpenAPI document says what the API enforces and returns (the fuzzing in test_schemathesis
checks it against the running API; these name the promises one by one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from api import create_app
from daiban.core.settings import Settings
from models.actions import ACTIONS
from models.contracts import PAUSE_REASONS
from models.schemas import HistoryOut


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = Settings(environment="test", database_url="sqlite:///unused.db")
    return create_app(settings).openapi()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = document["components"]["schemas"][name]
    return found


def enum_of(field: dict[str, Any]) -> list[str]:
    options = field.get("anyOf", [field])
    return next(o["enum"] for o in options if "enum" in o)


def test_each_action_names_the_fields_it_requires(document: dict[str, Any]) -> None:
    body = document["paths"]["/v1/requests/{id}/actions"]["post"]["requestBody"]
    union = body["content"]["application/json"]["schema"]
    assert union["discriminator"]["propertyName"] == "action"
    assert set(union["discriminator"]["mapping"]) == set(ACTIONS)
    rate, refuse = schema(document, "Action_rate"), schema(document, "Action_refuse")
    assert rate["required"] == ["action", "score"] and rate["properties"]["score"]["type"]
    assert refuse["required"] == ["action", "note"]
    assert refuse["properties"]["note"]["minLength"] == 1  # "" is refused as missing
    supplement = schema(document, "Action_request_supplement")
    assert supplement["properties"]["missing_materials"]["minItems"] == 1
    pause = schema(document, "Action_pause")["properties"]["reason"]
    assert enum_of(pause) == list(PAUSE_REASONS)


def test_a_resident_is_described_as_it_is_checked(document: dict[str, Any]) -> None:
    resident = schema(document, "ResidentIn")["properties"]
    assert resident["name"]["minLength"] == 1 and "\\s" in resident["name"]["pattern"]
    assert resident["id_number"]["format"] == "cn-resident-id"
    assert resident["phone"]["pattern"] == "^1[3-9][0-9]{9}$"
    assert "dibao" in schema(document, "SubmitIn")["properties"]["item"]["enum"]


def test_answers_have_their_closed_sets(document: dict[str, Any]) -> None:
    out = schema(document, "RequestOut")["properties"]
    assert "township_review" in enum_of(out["stage"]) and "red" in enum_of(out["overdue"])
    assert enum_of(out["status"]) == ["open", "closed"]
    problem = schema(document, "Problem")["properties"]
    assert "stage" in problem  # a 409 says the stage the request is in
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    cursor = document["paths"]["/v1/queue"]["get"]["parameters"]
    assert next(p for p in cursor if p["name"] == "cursor")["schema"]["anyOf"][0]["minLength"] == 1


def test_history_entries_carry_both_names_of_their_stages() -> None:
    entry = HistoryOut.model_validate(
        {
            "at": datetime(2026, 12, 1, tzinfo=UTC),
            "actor": "a",
            "role": "agent",
            "action": "handoff",
            "from_stage": "village_intake",
            "to_stage": "township_review",
        }
    ).model_dump(mode="json")
    assert entry["from"] == entry["from_stage"] == "village_intake"
    assert entry["to"] == entry["to_stage"] == "township_review"
