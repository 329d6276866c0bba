"""The database is away: reads that need only Temporal still answer, nothing answers 500."""

from __future__ import annotations

import httpx

from api import create_app
from daiban.store.db import make_engine
from tests.api.conftest import FAR_VILLAGE, VILLAGE, Caller, Stack, serve

DEAD_DATABASE = "postgresql://daiban@127.0.0.1:1/daiban"  # connection refused


async def test_reads_during_a_database_outage(stack: Stack, agent: Caller) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    dead = make_engine(DEAD_DATABASE)
    app = create_app(stack.settings, client=stack.client, engine=dead)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        same_agent = Caller(http, stack.token("agent", VILLAGE), "agent", VILLAGE)
        stranger = Caller(http, stack.token("agent", FAR_VILLAGE), "agent", FAR_VILLAGE)
        # One request, live in Temporal: read from the workflow, scope still enforced.
        response = await same_agent.get(f"/v1/requests/{rid}")
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == "township_review"
        assert (await stranger.get(f"/v1/requests/{rid}")).status_code == 404
        assert (await same_agent.get("/v1/requests/no-such-request")).status_code == 404
        # Reads that need the database say so with a 503 problem the client may retry.
        for path in ("/v1/requests", "/v1/catalog"):
            response = await same_agent.get(path)
            assert response.status_code in (200, 503), (path, response.text)
        listing = await same_agent.get("/v1/requests")
        assert listing.status_code == 503
        assert listing.headers["content-type"].startswith("application/problem+json")
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    dead.dispose()
