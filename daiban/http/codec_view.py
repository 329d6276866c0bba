"""What the codec endpoint shows of decoded payloads: the API's scope and masking rules.

A decoded payload belongs to a request when its JSON names one (``request_id``, or the ``id`` of a
state holding a ``resident``): a workflow input, a command, a state, a transition record. Each
such request must be in the caller's scope; each resident is masked unless the caller would see
it unmasked through the API (``sees_resident``), and then the read is written to the access
record. Payloads of no request (deadlines, failures) pass as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlmodel import Session
from temporalio.api.common.v1 import Payload

from daiban.domain.privacy import mask_id_number, mask_name, mask_phone, sees_resident
from daiban.domain.scope import Principal
from daiban.http.deps import Services
from daiban.http.problems import Forbidden
from daiban.store import access, readmodel, residents

JSON_ENCODING: Final = b"json/plain"
RESIDENT_FIELDS: Final = frozenset({"name", "id_number", "phone"})
MASKS: Final = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


@dataclass
class _Seen:
    """What the decoded JSON payloads hold: the requests they belong to, and their residents."""

    documents: dict[int, Any] = field(default_factory=dict)  # payload index → parsed JSON
    requests: set[str] = field(default_factory=set)
    # (the resident object, the id of the request it belongs to, when the payload says)
    residents: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    # Objects naming the resident by ``resident_name`` (a written notice's fields, on their way
    # to the recording): always masked here, the notice itself is read through its own endpoint.
    named: list[dict[str, Any]] = field(default_factory=list)


def _inspect(payloads: Sequence[Payload]) -> _Seen:
    seen = _Seen()
    for index, payload in enumerate(payloads):
        if payload.metadata.get("encoding") != JSON_ENCODING:
            continue
        try:
            document = json.loads(payload.data)
        except ValueError:
            continue
        seen.documents[index] = document
        _walk(document, seen)
    return seen


def _walk(value: Any, seen: _Seen) -> None:
    """Request ids (``request_id``, or the ``id`` of a state) and residents, at any depth: a
    state, a workflow input, a command, a transition record holding a state."""
    if isinstance(value, list):
        for item in value:
            _walk(item, seen)
        return
    if not isinstance(value, dict):
        return
    request_id = value.get("request_id")
    resident = value.get("resident")
    if isinstance(resident, dict) and RESIDENT_FIELDS & resident.keys():
        owner = request_id if isinstance(request_id, str) else value.get("id")
        seen.residents.append((resident, owner if isinstance(owner, str) else None))
        if isinstance(owner, str):
            seen.requests.add(owner)
    if isinstance(request_id, str):
        seen.requests.add(request_id)
    if isinstance(value.get("resident_name"), str):
        seen.named.append(value)
    for item in value.values():
        _walk(item, seen)


def _apply_rules(session: Session, principal: Principal, seen: _Seen) -> list[str]:
    """Refuse a request out of scope, mask residents the caller may not see, record those it
    may; the ids of the requests whose resident is revealed."""
    visible: dict[str, bool] = {}
    places: dict[str, tuple[str, str]] = {}
    for request_id in sorted(seen.requests):
        row = readmodel.request_in_scope(session, principal, request_id)
        if row is None:
            raise Forbidden("a payload belongs to a request outside your scope")
        visible[request_id] = sees_resident(principal, residents.masked_state_of(row))
        places[request_id] = (row.township, row.city)
    revealed: set[str] = set()
    for resident, owner in seen.residents:
        if owner is not None and visible.get(owner, False):
            revealed.add(owner)
            continue
        for name, mask in MASKS.items():
            if isinstance(resident.get(name), str):
                resident[name] = mask(resident[name])
    for named in seen.named:
        named["resident_name"] = mask_name(named["resident_name"])
    now = datetime.now(UTC)
    access.record(session, principal, [(r, *places[r]) for r in sorted(revealed)], "codec", now)
    return sorted(revealed)


async def for_viewer(
    services: Services, principal: Principal, payloads: list[Payload]
) -> tuple[list[Payload], list[str]]:
    seen = _inspect(payloads)
    if not seen.requests and not seen.residents and not seen.named:
        return payloads, []
    revealed = await services.db(_apply_rules, principal, seen)
    for index, document in seen.documents.items():
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        payloads[index] = Payload(metadata=payloads[index].metadata, data=text.encode())
    return payloads, revealed
