"""Schemathesis against the served API's own OpenAPI document, over real HTTP, with a valid token
of every role: no 5xx, every answer conforms to what the document promises (status code,
content type, schema), and data the document calls valid is never refused as malformed (no 400 or
422 for a positive case: a client generated from the document sends nothing the API rejects).

Every operation is explored as every role, with data that fits the schema and data that does not;
operations on one request also get the ids of real requests (else nearly every case would stop at
the scope check), and submission also gets a valid body (random ID numbers almost never carry a
right check digit). Generation is derandomized: a run is reproducible.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import requests
import schemathesis

# Imported here, at collection, not lazily inside the test: CPython 3.11.7's compiler can fail
# ("AST constructor recursion depth mismatch") when pytest rewrites this module from deep in a
# running test's stack.
import schemathesis.specs.openapi.schemas  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from daiban.domain.privacy import ID_CHECK_CHARS, ID_WEIGHTS
from tests.api.conftest import CITY, RESIDENT, TOWNSHIP, VILLAGE, Stack

ROLES = (
    ("agent", VILLAGE),
    ("township_staff", TOWNSHIP),
    ("city_staff", CITY),
    ("supervisor", CITY),
    ("admin", CITY),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,  # acts on positive cases only
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
EXAMPLES = 20  # per operation and role (an operation without inputs stops after one)
MIN_CASES = 1000
TIMEOUT = 30.0  # seconds per HTTP call
VALID_SUBMISSION = {"item": "linshi-jiuzhu", "resident": RESIDENT, "materials": ["户口簿"]}


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    """ID numbers of the document's format ``cn-resident-id``: a check digit and a birth date
    (GB 11643), which a pattern cannot say."""
    region = draw(st.sampled_from(["370285", "110101", "440301"]))
    born = draw(st.dates(min_value=date(1920, 1, 1), max_value=date(2020, 12, 31)))
    body = f"{region}{born:%Y%m%d}{draw(st.integers(0, 999)):03d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True))
    return body + ID_CHECK_CHARS[total % 11]


schemathesis.openapi.format("cn-resident-id", resident_ids())


@dataclass
class Report:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def as_a_client_sends(case: Any) -> Any:
    """What a client that follows the document sends: a cursor only as a page gave it (a made-up
    one is refused, as it should be), and a fresh Idempotency-Key for each new body (a key sent
    again with another body is refused too: that is the key's purpose, not the schema's).

    Some rules depend on what JSON Schema's regular expressions cannot say portably, or on the
    request, so a client follows them as the document's descriptions state: a name holds a letter
    of any script (a pattern's ``\\p{L}`` is not understood everywhere), a ``due`` date is not in
    the past (that depends on today), a rating's ``confirmation_code`` is the one texted to the
    resident (never made up) and its ``tiers`` only those that handled the request, and a
    ``rectify`` names a ``due`` date with the outcome ``scheduled`` and with no other, and a
    commitment the agent signed names the authorisation it holds. A positive
    case gets a real name, a date ahead where one belongs, and a rating without a code or
    tiers."""
    if case.meta is not None and case.meta.generation.mode.is_positive:
        if case.query:
            case.query.pop("cursor", None)
        if case.headers and "Idempotency-Key" in case.headers:
            case.headers["Idempotency-Key"] = uuid.uuid4().hex
        body = case.body if isinstance(case.body, dict) else {}
        resident = body.get("resident")
        if isinstance(resident, dict) and "name" in resident:
            resident["name"] = "王秀英"
        if body.get("commitment_by") == "agent" and not body.get("authorisation"):
            body["authorisation"] = "授权委托书"
        if body.get("action") == "rectify":
            body.pop("due", None)
            if body.get("outcome") == "scheduled":
                body["due"] = "soon"
        if "due" in body:
            body["due"] = (date.today() + timedelta(days=7)).isoformat()
        if case.operation.path.endswith("/rating"):
            body.pop("confirmation_code", None)
            body.pop("tiers", None)
    return case


def strategies(operation: Any, token: str, request_ids: list[str]) -> list[Any]:
    headers = {"Authorization": f"Bearer {token}"}
    found = [operation.as_strategy(mode, headers=headers) for mode in MODES]
    if "{id}" in operation.path:
        found += [
            operation.as_strategy(mode, headers=headers, path_parameters={"id": request_id})
            for request_id in request_ids
            for mode in MODES
        ]
    if operation.label == "POST /v1/requests":
        # A valid body; the Idempotency-Key header is generated (replays answer 200).
        found.append(operation.as_strategy(headers=headers, body=VALID_SUBMISSION))
    return [strategy.map(as_a_client_sends) for strategy in found]


def explore(
    strategy: st.SearchStrategy[Any],
    label: str,
    base_url: str,
    session: requests.Session,
    report: Report,
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        report.cases[label] += 1
        response = case.call(base_url=base_url, session=session, timeout=TIMEOUT)
        report.statuses[(case.operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def fuzz(base_url: str, tokens: dict[str, str], request_ids: list[str]) -> Report:
    """Blocking (schemathesis speaks through ``requests``): run it in a thread while the event
    loop serves the API."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    report = Report()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                report.failures.append(f"the document does not load: {result.err()}")
                continue
            operation = result.ok()
            for role, token in tokens.items():
                label = f"{operation.label} as {role}"
                strategy = st.one_of(strategies(operation, token, request_ids))
                try:
                    explore(strategy, label, base_url, session, report)
                except (Exception, BaseExceptionGroup) as error:
                    report.failures.append(f"{label}: {error}")
    return report


@pytest.fixture(autouse=True)
def ast_conversion_alone() -> Iterator[None]:
    """Hypothesis parses source (``ast.parse``) to describe strategies, from deep in its own
    stack. CPython 3.11.7's AST conversion fails with "AST constructor recursion depth mismatch"
    near the recursion limit, and whenever a conversion runs inside another: the cyclic garbage
    collector, started by the outer conversion's allocations, runs a finalizer that parses too
    (an unretrieved future's finalizer logs its traceback, and a traceback's carets are found
    with ``ast.parse``). Both fixed in 3.11.8. For this test: headroom under the recursion limit,
    and no cyclic collection while it fuzzes (one full collection after); restored after it."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        gc.collect()
        sys.setrecursionlimit(limit)


async def test_schemathesis_finds_nothing(stack: Stack) -> None:
    # Subjects of their own: the fuzzing must not spend other tests' submission rate.
    tokens = {role: stack.token(role, office, f"fuzz-{role}") for role, office in ROLES}
    agent = stack.caller("agent", VILLAGE, "fuzz-agent")
    staff = stack.caller("township_staff", TOWNSHIP, "fuzz-township_staff")
    at_village = await agent.new_request()
    at_township = await agent.new_request()
    await agent.do(at_township, "handoff")
    await staff.do(at_township, "accept")

    started = time.monotonic()
    report = await asyncio.to_thread(fuzz, stack.base_url, tokens, [at_village, at_township])
    elapsed = time.monotonic() - started
    # One line for the CI log (pytest -rP, or -s): how much was tried, in how long.
    print(f"schemathesis: {report.total} cases in {elapsed:.1f} s")  # noqa: T201

    assert not report.failures, "\n\n".join(report.failures)
    assert report.total >= MIN_CASES, report.cases
    assert len(report.cases) == len(tokens) * len({label for label, _ in report.statuses})
    # The fuzzing reached past the gates: successful answers of the main operations.
    succeeded = {operation for (operation, status), _ in report.statuses.items() if status < 300}
    for operation in ("POST /v1/requests", "GET /v1/requests/{id}", "POST /codec/decode"):
        assert operation in succeeded, report.statuses
